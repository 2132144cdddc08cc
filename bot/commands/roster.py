"""`tenkepause roster …`: bring people, cohorts and peer groups in from a CSV file."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.clock import SystemClock
from bot.commands.common import console, run
from bot.core.problems import UserError
from bot.core.roster import Creating
from bot.database import open_database
from bot.services.roster_import import ImportCounts, run_roster_import
from bot.settings import get_settings

app = typer.Typer(help="Import the roster of leaders, coaches and admins.", no_args_is_help=True)


class _Bar:
    """Draw the database phase as a Rich progress bar on stderr."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("checking the roster", total=None)

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=max(total, 1), completed=0)

    def advance(self, description: str, amount: int) -> None:
        self._progress.update(self._task, description=f"writing {description}", advance=amount)


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as error:
        raise UserError(f"{file}: cannot read the file: {error.strerror or error}") from None


def _names(names: Iterable[str], limit: int = 20) -> str:
    """Return `` (a, b, c)`` naming what was created, the tail cut to ``and N more``."""
    listed = list(names)
    if not listed:
        return ""
    more = f" and {len(listed) - limit} more" if len(listed) > limit else ""
    return f" ({', '.join(listed[:limit])}{more})"


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="Roster CSV (UTF-8, separated by ';' or ',').")],
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check the file and show the changes, with the names of new cohorts and "
            "groups; change nothing.",
        ),
    ] = False,
    create_cohorts: Annotated[
        bool,
        typer.Option(
            "--create-cohorts",
            help="Create the cohorts and peer groups the file names that do not exist yet "
            "(needed the first time, unless the programme was applied first).",
        ),
    ] = False,
    create_groups: Annotated[
        bool,
        typer.Option(
            "--create-groups",
            help="Create the peer groups the file names that do not exist yet, in cohorts that do.",
        ),
    ] = False,
) -> None:
    """Create or update people from a roster CSV, by email, in one transaction."""
    stderr = Console(stderr=True)
    source = str(file)

    async def go() -> ImportCounts:
        data = _read(file)
        async with open_database(get_settings()) as (_, sessions):
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=stderr,
                transient=True,
                disable=not sys.stderr.isatty(),
            ) as progress:
                return await run_roster_import(
                    sessions,
                    data,
                    source,
                    now=SystemClock().now(),
                    dry_run=dry_run,
                    creating=Creating(cohorts=create_cohorts, groups=create_groups),
                    progress=_Bar(progress),
                )

    counts = run(go())
    line = f"{source}: {counts.rows} rows; {counts.summary()}"
    extra = (
        f"; new cohorts {counts.cohorts_created}{_names(counts.new_cohorts)}"
        f", new peer groups {counts.groups_created}"
        f"{_names(f'{group} in {cohort}' for group, cohort in counts.new_groups)}"
    )
    suffix = " (dry run: nothing was changed)" if dry_run else ""
    console.print(line + extra + suffix, markup=False, highlight=False, soft_wrap=True)
