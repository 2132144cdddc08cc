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
from bot.services.exports import (
    PLAIN_CSV,
    ExportFormat,
    ExportKind,
    ExportRequest,
    build_export,
    excel_csv,
    export_bytes,
)
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
    excel: Annotated[
        bool,
        typer.Option(
            "--excel",
            help="CSV for Excel in TENKEPAUSE_LOCALE: with a byte order mark, and for nb and "
            "nn ';' between cells and a decimal comma (default: plain comma-separated CSV).",
        ),
    ] = False,
) -> None:
    """Export shared answers, gated pulse results or deliveries; the export is audited."""
    if with_text and not research:
        raise typer.BadParameter("--with-text only applies to --research exports")
    if excel and fmt is not ExportFormat.CSV:
        raise typer.BadParameter("--excel only applies to --format csv")
    if fmt is ExportFormat.XLSX and output is None and sys.stdout.isatty():
        raise typer.BadParameter("--format xlsx writes a binary file: give --output FILE.xlsx")
    settings = get_settings()
    style = excel_csv(settings.locale) if excel else PLAIN_CSV

    async def go() -> tuple[bytes, int]:
        request = ExportRequest(kind, cohort=cohort, research=research, with_text=with_text)
        try:
            secret = settings.secret()
        except RuntimeError as error:
            raise UserError(str(error)) from None
        async with open_database(settings) as (_, sessions), sessions.begin() as session:
            export = await build_export(session, request, secret=secret, now=SystemClock().now())
            return export_bytes(export, fmt, style), len(export.rows)

    body, rows = run(go())
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return
    try:
        output.write_bytes(body)
    except OSError as error:
        raise UserError(f"--output {output}: cannot write: {error.strerror or error}") from None
    errors.print(f"Wrote {rows} {kind.value} rows to {output}.", markup=False)
