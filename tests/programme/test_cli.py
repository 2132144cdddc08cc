"""The must-show sequence through the real command line, on an empty database of each backend."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from bot.cli import app
from bot.settings import get_settings
from tests import databases

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "programme.yaml"
ROSTER = ROOT / "examples" / "roster.csv"
KIND_LINES = ("cohorts", "groups", "prompts", "campaigns", "pulses", "peer rounds")


async def _create_database(admin_url: str, name: str) -> None:
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


@pytest.fixture
def empty_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty, unmigrated database of the backend."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tenkepause.db'}"
        return
    admin = databases.postgres_admin_url()
    if admin is None:
        pytest.skip(f"{databases.POSTGRES_ENV} is not set")
    name = f"tk_programme_{uuid.uuid4().hex[:10]}"
    asyncio.run(_create_database(admin, name))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    yield url
    databases.drop_postgres(url)


def tenkepause(url: str, *args: str) -> tuple[int, str]:
    """Run the real CLI in-process against `url`; return the exit code and all output."""
    get_settings.cache_clear()  # settings are cached per process; each run reads the env anew
    result = CliRunner().invoke(app, list(args), env={"TENKEPAUSE_DATABASE_URL": url})
    get_settings.cache_clear()
    return result.exit_code, result.output


def tally_lines(output: str) -> dict[str, str]:
    lines = [line for line in output.splitlines() if line.startswith(KIND_LINES)]
    return dict(line.split(": ", 1) for line in lines)


def test_upgrade_roster_and_programme_succeed_and_a_second_run_changes_nothing(
    empty_url: str,
) -> None:
    code, output = tenkepause(empty_url, "programme", "validate", str(EXAMPLE))
    assert code == 0, output
    assert "database is missing or not migrated" in output

    code, output = tenkepause(empty_url, "db", "upgrade")
    assert code == 0, output
    code, output = tenkepause(empty_url, "roster", "import", str(ROSTER), "--create-cohorts")
    assert code == 0, output
    code, output = tenkepause(empty_url, "programme", "validate", str(EXAMPLE))
    assert code == 0, output
    assert "is valid: 2 cohorts, 4 groups, 6 campaigns, 45 prompts" in output
    assert "not migrated" not in output

    code, output = tenkepause(empty_url, "programme", "apply", str(EXAMPLE))
    assert code == 0, output
    first = tally_lines(output)
    # The roster named the cohorts and groups first; the file adds their titles.
    assert first["cohorts"] == "0 created, 2 updated, 0 unchanged"
    assert first["groups"] == "0 created, 4 updated, 0 unchanged"
    assert first["campaigns"] == "6 created, 0 updated, 0 unchanged"

    for step in (("db", "upgrade"), ("roster", "import", str(ROSTER))):
        code, output = tenkepause(empty_url, *step)
        assert code == 0, output
    code, output = tenkepause(empty_url, "programme", "apply", str(EXAMPLE))
    assert code == 0, output
    second = tally_lines(output)
    assert set(second) == set(KIND_LINES)
    for kind, line in second.items():
        assert line.startswith("0 created, 0 updated, "), (kind, line)
    assert second["prompts"] == "0 created, 0 updated, 45 unchanged"
    assert "nothing changed" in output


def position(text: str, needle: str) -> tuple[int, int]:
    """Return the 1-based line and column where `needle` first occurs in `text`."""
    before = text[: text.index(needle)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def test_the_three_error_file_exits_non_zero_with_three_located_errors(
    db_url: str, tmp_path: Path
) -> None:
    text = (
        EXAMPLE.read_text(encoding="utf-8")
        .replace('time: "08:30"\n      start: 2027-04-05', 'time: "25:00"\n      start: 2027-04-05')
        .replace("- engaging-07\n", "- engaging-70\n")
        .replace(
            "cohorts: [kull-1, kull-2]\n    anonymous", "cohorts: [kull-1, kull-3]\n    anonymous"
        )
    )
    bad = tmp_path / "programme.yaml"
    bad.write_text(text, encoding="utf-8")
    expected = [position(text, '"25:00"'), position(text, "engaging-70"), position(text, "kull-3")]
    for command in ("validate", "apply"):
        code, output = tenkepause(db_url, "programme", command, str(bad))
        errors = [line for line in output.splitlines() if line.startswith("error: ")]
        assert code == 1, output
        assert [line.split(": ")[1] for line in errors] == [
            f"{bad}:{line}:{column}" for line, column in expected
        ], output
        assert 'time "25:00" is not a valid HH:MM time' in errors[0]
        assert 'unknown prompt "engaging-70"' in errors[1]
        assert 'unknown cohort "kull-3"' in errors[2]
        assert "3 problems found; nothing was changed." in output
        assert "Traceback" not in output


def test_a_missing_file_is_one_line_naming_it(db_url: str, tmp_path: Path) -> None:
    code, output = tenkepause(db_url, "programme", "apply", str(tmp_path / "nope.yaml"))
    assert code == 1
    assert output.strip() == f"error: {tmp_path / 'nope.yaml'}: no such file"
