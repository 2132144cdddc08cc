"""`tenkepause roster import` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.settings import get_settings
from tests.roster.helpers import EXAMPLE, contents_at


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Let each invocation read TENKEPAUSE_DATABASE_URL anew."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def tenkepause(db_url: str, *args: str) -> Result:
    """Run the real command line against the test's database."""
    get_settings.cache_clear()
    return CliRunner().invoke(app, list(args), env={"TENKEPAUSE_DATABASE_URL": db_url})


def test_example_imports_and_a_second_run_changes_nothing(db_url: str) -> None:
    first = tenkepause(db_url, "roster", "import", str(EXAMPLE))
    assert first.exit_code == 0, first.output
    assert "30 rows; created 30, updated 0, unchanged 0" in first.stdout
    after_first = asyncio.run(contents_at(db_url))
    assert len(after_first["people"]) == 30
    assert len(after_first["cohorts"]) == 2
    assert len(after_first["peer_groups"]) == 4

    second = tenkepause(db_url, "roster", "import", str(EXAMPLE))
    assert second.exit_code == 0, second.output
    assert "created 0, updated 0, unchanged 30" in second.stdout
    assert asyncio.run(contents_at(db_url)) == after_first


def test_dry_run_counts_but_changes_nothing(db_url: str) -> None:
    before = asyncio.run(contents_at(db_url))
    result = tenkepause(db_url, "roster", "import", str(EXAMPLE), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "created 30, updated 0, unchanged 0" in result.stdout
    assert "dry run" in result.stdout
    assert asyncio.run(contents_at(db_url)) == before


K = "@trondheim.kommune.example"
FIVE_BAD_ROWS = [
    "email;name;role;unit;manager_email;cohort;group;locale;timezone;slack_id;telegram_username",
    f"ase.odegard{K};Åse Ødegård Lie;participant;Helse og velferd;;kull-1;kull-1-gruppe-1;;;;",
    f"kari.fjaereide(at){K[1:]};Kari Fjæreide;participant;Sámi mánáidgárdi;;kull-2;;;;;",
    f"per.stale.boe{K};Per Ståle Bøe;leder;Oppvekst og utdanning;;kull-2;;nb;;;",
    f"jorgen.floan{K};Jørgen Fløan;participant;Byutvikling;;kull-2;;nn;Europe/Trondhjem;;",
    f"ny.leder{K};Ny Leder;participant;Byutvikling;sjef{K};kull-2;;nb;;;",
    f"to.ganger{K};Tobias Gangør;participant;Kultur og næring;;kull-2;;en;;;",
    f"To.Ganger{K};Tobias Gangør;participant;Kultur og næring;;kull-2;;en;;;",
]


def test_five_bad_rows_are_all_listed_and_nothing_changes(db_url: str, tmp_path: Path) -> None:
    assert tenkepause(db_url, "roster", "import", str(EXAMPLE)).exit_code == 0
    before = asyncio.run(contents_at(db_url))
    bad = tmp_path / "roster.csv"
    bad.write_text("\r\n".join(FIVE_BAD_ROWS) + "\r\n", encoding="utf-8-sig")

    result = tenkepause(db_url, "roster", "import", str(bad))

    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert [line.split(": ")[1] for line in errors[:5]] == [
        f"{bad} row 3, column email",
        f"{bad} row 4, column role",
        f"{bad} row 5, column timezone",
        f"{bad} row 6, column manager_email",
        f"{bad} row 8, column email",
    ]
    assert "first given in row 7" in errors[4]
    assert errors[5:] == ["5 problems found; nothing was changed."]
    assert "Traceback" not in result.output
    assert asyncio.run(contents_at(db_url)) == before


def test_a_file_that_is_not_utf8_is_named_with_its_line(db_url: str, tmp_path: Path) -> None:
    latin = tmp_path / "eksport.csv"
    latin.write_bytes(EXAMPLE.read_text(encoding="utf-8").encode("cp1252"))
    result = tenkepause(db_url, "roster", "import", str(latin))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {latin} line 2, byte ")
    assert "not UTF-8" in result.stderr


def test_a_missing_file_is_one_line(db_url: str, tmp_path: Path) -> None:
    result = tenkepause(db_url, "roster", "import", str(tmp_path / "nowhere.csv"))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere.csv'}: cannot read the file: No such file or directory"
    ]
