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
    first = tenkepause(db_url, "roster", "import", str(EXAMPLE), "--create-cohorts")
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


def test_dry_run_names_what_it_would_create_but_changes_nothing(db_url: str) -> None:
    before = asyncio.run(contents_at(db_url))
    result = tenkepause(db_url, "roster", "import", str(EXAMPLE), "--dry-run", "--create-cohorts")
    assert result.exit_code == 0, result.output
    assert "created 30, updated 0, unchanged 0" in result.stdout
    assert "new cohorts 2 (kull-1, kull-2)" in result.stdout
    assert (
        "new peer groups 4 (kull-1-gruppe-1 in kull-1, kull-1-gruppe-2 in kull-1, "
        "kull-2-gruppe-1 in kull-2, kull-2-gruppe-2 in kull-2)"
    ) in result.stdout
    assert "dry run" in result.stdout
    assert asyncio.run(contents_at(db_url)) == before


def test_a_first_import_without_create_cohorts_says_how_to_start(db_url: str) -> None:
    before = asyncio.run(contents_at(db_url))
    result = tenkepause(db_url, "roster", "import", str(EXAMPLE))
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors[0].startswith(
        f"error: {EXAMPLE} row 3, column cohort: unknown cohort 'kull-1' (also in rows "
    )
    assert "There are no cohorts yet: apply the programme first" in errors[0]
    assert "--create-cohorts" in errors[0]
    assert any("row 4, column cohort: unknown cohort 'kull-2'" in line for line in errors)
    assert any("column group: unknown peer group 'kull-1-gruppe-1'" in line for line in errors)
    assert errors[-1] == f"{len(errors) - 1} problems found; nothing was changed."
    assert "Traceback" not in result.output
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
    assert tenkepause(db_url, "roster", "import", str(EXAMPLE), "--create-cohorts").exit_code == 0
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


# No slack_id, telegram_username or manager_email column at all; a typo'd cohort (and the
# group named after it), an unknown manager in a row that has other problems too, and more.
EVERY_PROBLEM_AT_ONCE = [
    "email;name;role;unit;cohort;group;locale;timezone;manager",
    f"ase.odegard{K};Åse Ødegård Lie;participant;Helse og velferd;kull-1;kull-1-gruppe-1;;;",
    f"ny.leder{K};Ny Leder;participant;Byutvikling;kul-1;kul-1-gruppe-1;nb;;sjef{K}",
    f"per.stale.boe{K};Per Ståle Bøe;leder;Oppvekst;kull-2;;nb;Europe/Trondhjem;sjef{K}",
    f"kari.fjaereide(at){K[1:]};Kari Fjæreide;participant;Kultur;kull-2;;;;",
]


def test_every_problem_is_reported_in_one_run_and_nothing_changes(
    db_url: str, tmp_path: Path
) -> None:
    assert tenkepause(db_url, "roster", "import", str(EXAMPLE), "--create-cohorts").exit_code == 0
    before = asyncio.run(contents_at(db_url))
    bad = tmp_path / "roster.csv"
    bad.write_text("\r\n".join(EVERY_PROBLEM_AT_ONCE) + "\r\n", encoding="utf-8-sig")

    result = tenkepause(db_url, "roster", "import", str(bad), "--dry-run")

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stdout == ""
    errors = result.stderr.splitlines()
    assert errors == [
        f"error: {bad} row 1, column manager: unknown column; did you mean 'manager_email'? "
        "the columns are email,name,role,unit,manager_email,cohort,group,locale,timezone,"
        "slack_id,telegram_username",
        f"error: {bad} row 3, column cohort: unknown cohort 'kul-1'; did you mean 'kull-1'? "
        "Known cohorts: kull-1, kull-2. "
        "Pass --create-cohorts to create the cohorts this file names.",
        f"error: {bad} row 3, column group: unknown peer group 'kul-1-gruppe-1'; "
        "did you mean 'kull-1-gruppe-1'? Known groups: kull-1-gruppe-1, kull-1-gruppe-2, "
        "kull-2-gruppe-1, kull-2-gruppe-2. "
        "Pass --create-groups to create the groups this file names.",
        f"error: {bad} row 4, column role: unknown role 'leder'; "
        "expected participant, coach or admin",
        f"error: {bad} row 4, column timezone: unknown time zone 'Europe/Trondhjem'; "
        "use an IANA name such as Europe/Oslo",
        f"error: {bad} row 5, column email: 'kari.fjaereide(at)trondheim.kommune.example' "
        "is not a valid email address: " + errors[5].split("is not a valid email address: ", 1)[-1],
        "6 problems found; nothing was changed.",
    ]
    assert asyncio.run(contents_at(db_url)) == before


def test_the_same_file_with_the_manager_column_names_the_unknown_manager_too(
    db_url: str, tmp_path: Path
) -> None:
    assert tenkepause(db_url, "roster", "import", str(EXAMPLE), "--create-cohorts").exit_code == 0
    before = asyncio.run(contents_at(db_url))
    bad = tmp_path / "roster.csv"
    lines = [EVERY_PROBLEM_AT_ONCE[0].replace(";manager", ";manager_email")]
    bad.write_text("\n".join(lines + EVERY_PROBLEM_AT_ONCE[1:]) + "\n", encoding="utf-8")

    result = tenkepause(db_url, "roster", "import", str(bad))

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    located = [line.split(": ")[1] for line in result.stderr.splitlines()[:-1]]
    assert located == [
        f"{bad} row 3, column manager_email",
        f"{bad} row 3, column cohort",
        f"{bad} row 3, column group",
        f"{bad} row 4, column role",
        f"{bad} row 4, column timezone",
        f"{bad} row 4, column manager_email",
        f"{bad} row 5, column email",
    ]
    assert result.stderr.splitlines()[-1] == "7 problems found; nothing was changed."
    assert asyncio.run(contents_at(db_url)) == before


def test_create_cohorts_creates_the_new_cohort_and_group_and_says_so(
    db_url: str, tmp_path: Path
) -> None:
    assert tenkepause(db_url, "roster", "import", str(EXAMPLE), "--create-cohorts").exit_code == 0
    text = EXAMPLE.read_text(encoding="utf-8").splitlines()
    moved = [line.replace(";kull-2;kull-2-gruppe-2;", ";kull-3;kull-3-gruppe-1;") for line in text]
    assert moved != text
    changed = tmp_path / "roster.csv"
    changed.write_text("\n".join(moved) + "\n", encoding="utf-8")

    refused = tenkepause(db_url, "roster", "import", str(changed))
    assert refused.exit_code == 1
    assert "unknown cohort 'kull-3'" in refused.stderr

    result = tenkepause(db_url, "roster", "import", str(changed), "--create-cohorts")
    assert result.exit_code == 0, result.output
    assert "new cohorts 1 (kull-3), new peer groups 1 (kull-3-gruppe-1 in kull-3)" in result.stdout
    cohorts = [row[1] for row in asyncio.run(contents_at(db_url))["cohorts"]]
    assert "kull-3" in cohorts
