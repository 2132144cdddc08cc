"""Exports on both backends: visibility, research pseudonyms, gated pulses, audit, the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.exports import (
    Export,
    ExportFormat,
    ExportKind,
    ExportRequest,
    UnknownCohort,
    build_export,
    excel_csv,
    export_bytes,
    pseudonym,
    serialise,
)
from storage.models import Answer, AuditEntry, Identity, Person
from tests.web import world as w

ALL_KINDS = list(ExportKind)


async def export(
    sessions: async_sessionmaker[AsyncSession],
    kind: ExportKind,
    *,
    actor: Person | None = None,
    **options: object,
) -> Export:
    """Build one export in its own committed transaction, as a separate run would."""
    async with sessions() as session:
        result = await build_export(
            session,
            ExportRequest(kind, **options),  # type: ignore[arg-type]
            secret=w.SECRET,
            now=w.NOW,
            actor=actor,
        )
        await session.commit()
    return result


async def identifying_values(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    """Return every email, name and platform id in the database."""
    async with sessions() as session:
        people = list(await session.scalars(select(Person)))
        ids = list(await session.scalars(select(Identity.external_id)))
    return {p.email for p in people} | {p.name for p in people} | set(ids)


def readable(result: Export, fmt: ExportFormat) -> str:
    """Return every character an export file holds: its text, or a workbook's cells."""
    if fmt is not ExportFormat.XLSX:
        return serialise(result, fmt)
    book = openpyxl.load_workbook(io.BytesIO(export_bytes(result, fmt)))
    return "\n".join(
        str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row
    )


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> w.World:
    """Seed the two cohorts."""
    return await w.build_world(sessions)


async def test_research_export_has_no_email_name_or_platform_id(
    sessions: async_sessionmaker[AsyncSession], world: w.World
) -> None:
    secrets = await identifying_values(sessions)
    secrets.add(w.SLACK_ID)
    for kind in ALL_KINDS:
        for fmt in ExportFormat:
            for with_text in (False, True):
                result = await export(sessions, kind, research=True, with_text=with_text)
                body = readable(result, fmt)
                leaked = [s for s in secrets if s in body]
                assert leaked == [], (kind, fmt, leaked)
                assert "email" not in body and "message_ref" not in body
    answers = await export(sessions, ExportKind.ANSWERS, research=True)
    assert answers.rows and all(r["person"].startswith("P-") for r in answers.rows)
    assert "text" not in answers.columns
    assert w.SHARED_TEXT not in serialise(answers, ExportFormat.JSON)
    with_text = await export(sessions, ExportKind.ANSWERS, research=True, with_text=True)
    assert w.SHARED_TEXT in serialise(with_text, ExportFormat.CSV)


async def test_research_pseudonyms_are_stable_between_runs_and_distinct(
    sessions: async_sessionmaker[AsyncSession], world: w.World
) -> None:
    first = await export(sessions, ExportKind.DELIVERIES, research=True)
    second = await export(sessions, ExportKind.DELIVERIES, research=True)
    assert [r["person"] for r in first.rows] == [r["person"] for r in second.rows]
    leader = pseudonym(w.SECRET, world.leader.id)
    assert leader in {r["person"] for r in first.rows}
    assert len({r["person"] for r in first.rows}) == 7  # six leaders of A, one of B
    assert pseudonym("another-key", world.leader.id) != leader


async def test_private_answers_are_never_exported(
    sessions: async_sessionmaker[AsyncSession], world: w.World
) -> None:
    for actor in (None, world.admin, world.coach_a):
        for research in (False, True):
            result = await export(
                sessions, ExportKind.ANSWERS, actor=actor, research=research, with_text=True
            )
            body = serialise(result, ExportFormat.JSON)
            assert w.PRIVATE_TEXT not in body
            assert {r["visibility"] for r in result.rows} <= {"coach", "group"}
    plain = await export(sessions, ExportKind.ANSWERS)
    texts = {r["text"] for r in plain.rows}
    assert texts == {w.SHARED_TEXT, w.GROUP_TEXT, w.COHORT_B_TEXT}


async def test_cohort_filter_and_coach_scope(
    sessions: async_sessionmaker[AsyncSession], world: w.World
) -> None:
    only_b = await export(sessions, ExportKind.ANSWERS, cohort="kull-b")
    assert [r["text"] for r in only_b.rows] == [w.COHORT_B_TEXT]
    coach_a = await export(sessions, ExportKind.ANSWERS, actor=world.coach_a)
    assert w.COHORT_B_TEXT not in {r["text"] for r in coach_a.rows}
    with pytest.raises(UnknownCohort):
        await export(sessions, ExportKind.ANSWERS, actor=world.coach_a, cohort="kull-b")
    with pytest.raises(UnknownCohort, match="--cohort"):
        await export(sessions, ExportKind.PULSES, cohort="no-such-cohort")
    deliveries = await export(sessions, ExportKind.DELIVERIES, actor=world.coach_a)
    emails = {r["person_email"] for r in deliveries.rows}
    assert "leder.b1@kommune.example" not in emails and "leder.a1@kommune.example" in emails


async def test_pulse_export_is_gated_aggregates(
    sessions: async_sessionmaker[AsyncSession], world: w.World
) -> None:
    result = await export(sessions, ExportKind.PULSES, cohort="kull-a")
    by_round = {r["round"]: r for r in result.rows}
    shown, hidden = by_round[1], by_round[2]
    assert shown["shown"] is True and shown["respondents"] == 6
    assert shown["distribution"] == {"1": 0, "2": 1, "3": 1, "4": 2, "5": 2}
    assert hidden["shown"] is False and hidden["withheld_reason"] == "too_few"
    assert hidden["respondents"] is None and hidden["distribution"] is None
    rows = list(csv.DictReader(io.StringIO(serialise(result, ExportFormat.CSV))))
    assert rows[1]["respondents"] == "" and rows[1]["mean"] == ""
    whole = await export(sessions, ExportKind.PULSES)
    assert {r["part"] for r in whole.rows} == {"all"}


async def test_every_export_is_audited(
    sessions: async_sessionmaker[AsyncSession], world: w.World
) -> None:
    await export(sessions, ExportKind.ANSWERS, actor=world.coach_a, research=True)
    await export(sessions, ExportKind.PULSES)
    async with sessions() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action.like("export.%")).order_by(AuditEntry.id)
            )
        )
    assert [(e.action, e.actor_id) for e in entries] == [
        ("export.answers", world.coach_a.id),
        ("export.pulses", None),
    ]
    assert entries[0].detail["research"] is True


async def test_csv_cells_cannot_run_as_formulas(
    sessions: async_sessionmaker[AsyncSession], world: w.World
) -> None:
    async with sessions() as session:
        answer = await session.get(Answer, world.shared_answer)
        assert answer is not None
        answer.text = '=HYPERLINK("http://x")'
        await session.commit()
    body = serialise(await export(sessions, ExportKind.ANSWERS), ExportFormat.CSV)
    texts = [row["text"] for row in csv.DictReader(io.StringIO(body))]
    assert '\'=HYPERLINK("http://x")' in texts


async def test_excel_csv_has_a_bom_and_in_norwegian_semicolons_and_decimal_commas(
    sessions: async_sessionmaker[AsyncSession], world: w.World
) -> None:
    pulses = await export(sessions, ExportKind.PULSES, cohort="kull-a")
    answers = await export(sessions, ExportKind.ANSWERS)
    for locale in ("nb", "nn"):
        data = export_bytes(pulses, ExportFormat.CSV, excel_csv(locale))
        assert data.startswith(b"\xef\xbb\xbf")
        text = data.decode("utf-8-sig")
        assert text.splitlines()[0] == ";".join(pulses.columns)
        assert "\r\n" in text
        rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
        shown = next(row for row in rows if row["shown"] == "True")
        mean = next(r["mean"] for r in pulses.rows if r["shown"])
        assert isinstance(mean, float) and not mean.is_integer()
        assert shown["mean"] == str(mean).replace(".", ",")
        assert json.loads(shown["distribution"]) == {"1": 0, "2": 1, "3": 1, "4": 2, "5": 2}
        shared = export_bytes(answers, ExportFormat.CSV, excel_csv(locale)).decode("utf-8-sig")
        texts = {r["text"] for r in csv.DictReader(io.StringIO(shared, newline=""), delimiter=";")}
        assert w.SHARED_TEXT in texts
    english = export_bytes(pulses, ExportFormat.CSV, excel_csv("en")).decode("utf-8")
    assert english.startswith("\ufeff" + ",".join(pulses.columns) + "\r\n")
    assert str(mean) in english
    plain = export_bytes(pulses, ExportFormat.CSV)
    assert plain.startswith(",".join(pulses.columns).encode())


async def test_xlsx_holds_the_same_cells_as_the_csv(
    sessions: async_sessionmaker[AsyncSession], world: w.World
) -> None:
    for kind in ALL_KINDS:
        result = await export(sessions, kind)
        book = openpyxl.load_workbook(io.BytesIO(export_bytes(result, ExportFormat.XLSX)))
        sheet = book.active
        assert sheet is not None and sheet.title == kind.value
        cells = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert cells[0] == result.columns
        csv_rows = list(csv.DictReader(io.StringIO(serialise(result, ExportFormat.CSV))))
        assert len(cells) - 1 == len(csv_rows) == len(result.rows) > 0
        for row, from_csv in zip(cells[1:], csv_rows, strict=True):
            for value, column in zip(row, result.columns, strict=True):
                expected = from_csv[column]
                if isinstance(value, int | float) and not isinstance(value, bool):
                    # The file stores numbers as numbers: 1.0 reads back as 1.
                    assert value == float(expected), (kind, column)
                else:
                    assert ("" if value is None else str(value)) == expected, (kind, column)
    pulses = await export(sessions, ExportKind.PULSES, cohort="kull-a")
    sheet = openpyxl.load_workbook(io.BytesIO(export_bytes(pulses, ExportFormat.XLSX))).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    means = [row[header.index("mean")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    # Numbers stay numbers, so a spreadsheet can sum them in any locale.
    assert any(isinstance(mean, float) for mean in means)


def run_cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `tenkepause` as a separate process against the test database."""
    env = {
        **os.environ,
        "TENKEPAUSE_DATABASE_URL": db_url,
        "TENKEPAUSE_SECRET_KEY": w.SECRET,
        "TENKEPAUSE_PUBLIC_URL": w.PUBLIC_URL,
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "tenkepause"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_cli_research_export_is_stable_across_processes(
    backend: str,
    db_url: str,
    sessions: async_sessionmaker[AsyncSession],
    world: w.World,
    tmp_path: Path,
) -> None:
    if backend != "sqlite":
        pytest.skip("the CLI is exercised once, on SQLite")
    target = tmp_path / "answers.json"
    first = run_cli(
        db_url, "export", "answers", "--format", "json", "--research", "-o", str(target)
    )
    assert first.returncode == 0, first.stderr
    second = run_cli(db_url, "export", "answers", "--format", "json", "--research")
    assert second.returncode == 0, second.stderr
    assert json.loads(target.read_text())["rows"] == json.loads(second.stdout)["rows"]
    bad = run_cli(db_url, "export", "answers", "--cohort", "nope")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == ["error: --cohort: there is no cohort called 'nope'"]
    async with sessions() as session:
        audits = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "export.answers")
        )
    assert audits == 2


async def test_cli_login_link_prints_a_working_link(
    backend: str, db_url: str, world: w.World
) -> None:
    if backend != "sqlite":
        pytest.skip("the CLI is exercised once, on SQLite")
    done = run_cli(db_url, "login-link", "COACH.A@kommune.example")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{w.PUBLIC_URL}/dashboard/login?code=")
    refused = run_cli(db_url, "login-link", "leder.a1@kommune.example")
    assert refused.returncode == 1 and "not a coach or admin" in refused.stderr
    unknown = run_cli(db_url, "login-link", "nobody@kommune.example")
    assert unknown.returncode == 1 and "nobody in the roster" in unknown.stderr


async def test_cli_excel_csv_follows_the_locale_and_xlsx_goes_to_a_file(
    backend: str, db_url: str, world: w.World, tmp_path: Path
) -> None:
    if backend != "sqlite":
        pytest.skip("the CLI is exercised once, on SQLite")
    nb = run_cli(db_url, "export", "pulses", "--excel")
    assert nb.returncode == 0, nb.stderr
    assert nb.stdout.startswith("\ufeffsurvey;round;round_date;")
    english = subprocess.run(
        [str(Path(sys.executable).parent / "tenkepause"), "export", "pulses", "--excel"],
        env={
            **os.environ,
            "TENKEPAUSE_DATABASE_URL": db_url,
            "TENKEPAUSE_SECRET_KEY": w.SECRET,
            "TENKEPAUSE_LOCALE": "en",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert english.returncode == 0, english.stderr
    assert english.stdout.startswith("\ufeffsurvey,round,round_date,")
    plain = run_cli(db_url, "export", "pulses")
    assert plain.stdout.startswith("survey,round,round_date,")

    target = tmp_path / "svar.xlsx"
    done = run_cli(db_url, "export", "answers", "--format", "xlsx", "--output", str(target))
    assert done.returncode == 0, done.stderr
    sheet = openpyxl.load_workbook(target).active
    assert sheet is not None
    assert w.SHARED_TEXT in {cell for row in sheet.iter_rows(values_only=True) for cell in row}
    refused = run_cli(db_url, "export", "answers", "--format", "json", "--excel")
    assert refused.returncode != 0 and "--excel only applies to --format csv" in refused.stderr
