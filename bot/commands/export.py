"""`tenkepause export answers|pulses|deliveries`: CSV or JSON for review and research."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.clock import SystemClock
from bot.commands.common import errors, run
from bot.core.problems import UserError
from bot.database import open_database
from bot.services.exports import ExportFormat, ExportKind, ExportRequest, build_export, serialise
from bot.settings import get_settings


def export_command(
    kind: Annotated[ExportKind, typer.Argument(help="What to export.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="File format.")] = ExportFormat.CSV,
    cohort: Annotated[
        str | None, typer.Option("--cohort", help="Only this cohort (by name).")
    ] = None,
    research: Annotated[
        bool,
        typer.Option(
            "--research",
            help="Replace people with stable pseudonyms; leave out email, name, platform ids "
            "and free text.",
        ),
    ] = False,
    with_text: Annotated[
        bool, typer.Option("--with-text", help="Keep free text in a --research export.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of to stdout.")
    ] = None,
) -> None:
    """Export shared answers, gated pulse results or deliveries; the export is audited."""
    if with_text and not research:
        raise typer.BadParameter("--with-text only applies to --research exports")
    settings = get_settings()

    async def go() -> tuple[str, int]:
        request = ExportRequest(kind, cohort=cohort, research=research, with_text=with_text)
        try:
            secret = settings.secret()
        except RuntimeError as error:
            raise UserError(str(error)) from None
        async with open_database(settings) as (_, sessions), sessions.begin() as session:
            export = await build_export(session, request, secret=secret, now=SystemClock().now())
            return serialise(export, fmt), len(export.rows)

    body, rows = run(go())
    if output is None:
        sys.stdout.write(body)
        return
    try:
        output.write_text(body, encoding="utf-8")
    except OSError as error:
        raise UserError(f"--output {output}: cannot write: {error.strerror or error}") from None
    errors.print(f"Wrote {rows} {kind.value} rows to {output}.", markup=False)
