"""`tenkepause programme …`: check and apply the programme file (see docs/programme.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.commands.common import console, errors, fail, run
from bot.core.programme_file import ProgrammeSpec
from bot.database import open_database
from bot.prompts.bank import load_bank
from bot.services.programme_apply import (
    KINDS,
    ApplyReport,
    apply_programme_file,
    bank_names,
    names_if_migrated,
    validate_text,
)
from bot.settings import get_settings

app = typer.Typer(
    help="Check and apply a programme file: cohorts, groups, campaigns, pulses, peer rounds.",
    no_args_is_help=True,
)

FILE_ARGUMENT = typer.Argument(..., help="The programme file (YAML), e.g. examples/programme.yaml.")


def _read(path: Path) -> str:
    """Return the file's text, or stop with a one-line error naming the file."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except UnicodeDecodeError as error:
        fail(f"{path}: not UTF-8 text (byte {error.start}); save the file as UTF-8")
    except OSError as error:
        fail(f"{path}: cannot read the file ({error.strerror})")


@app.command("validate")
def validate_command(file: Path = FILE_ARGUMENT) -> None:
    """Check FILE and list every problem; check names against the database when it is migrated."""
    text = _read(file)

    async def go() -> tuple[ProgrammeSpec, bool]:
        bank = load_bank()
        known = await names_if_migrated(get_settings().database_url, bank)
        checked = known is not None
        return validate_text(text, str(file), known or bank_names(bank)), checked

    spec, checked = run(go())
    for note in spec.unchecked:
        errors.print(f"note: {note}; the database was not checked", markup=False)
    if not checked:
        errors.print(
            "note: the database is missing or not migrated, so cohort and group names were "
            "checked against this file only (`tenkepause db upgrade` to check them all)",
            markup=False,
        )
    console.print(f"{file} is valid: {_summary(spec)}.", markup=False, soft_wrap=True)


@app.command("apply")
def apply_command(file: Path = FILE_ARGUMENT) -> None:
    """Apply FILE in one transaction: upsert by name/key, deactivate what it no longer names."""
    text = _read(file)

    async def go() -> ApplyReport:
        bank = load_bank()
        async with open_database(get_settings()) as (_engine, sessions):
            return await apply_programme_file(sessions, text, str(file), bank)

    report = run(go())
    for line in _lines(report):
        console.print(line, markup=False, soft_wrap=True)
    if report.changed:
        console.print(f"Applied {file}.", markup=False, soft_wrap=True)
    else:
        console.print(
            f"Applied {file}: everything was already up to date; nothing changed.", soft_wrap=True
        )


def _summary(spec: ProgrammeSpec) -> str:
    counts = (
        (len(spec.cohorts), "cohort"),
        (len(spec.groups), "group"),
        (len(spec.campaigns), "campaign"),
        (len(spec.prompt_keys()), "prompt"),
        (len(spec.pulses), "pulse survey"),
        (len(spec.peer_rounds), "peer round"),
    )
    return ", ".join(f"{n} {noun}{'s' if n != 1 else ''}" for n, noun in counts)


def _lines(report: ApplyReport) -> list[str]:
    lines = []
    for kind in KINDS:
        t = report.tallies[kind]
        line = f"{kind.replace('_', ' ')}: {t.created} created, {t.updated} updated, "
        line += f"{t.unchanged} unchanged"
        if t.deactivated:
            line += f", {t.deactivated} deactivated"
        lines.append(line)
    return lines
