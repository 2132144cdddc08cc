"""Reading roster CSV text: encodings, separators, defaults, and problems with row and column."""

from __future__ import annotations

import pytest

from bot.core.roster import COLUMNS, Creating, KnownState, decode_roster, read_roster
from bot.core.vocabulary import Locale, Role

HEADER = ",".join(COLUMNS)
ASE = "ase.odegard@trondheim.kommune.example"
# Most tests are about the cells, not about which cohorts exist: let them create any.
NEW = Creating(cohorts=True)


def roster(*rows: str, separator: str = ",", header: str = HEADER) -> str:
    """Join a header and rows into CSV text with the given separator."""
    lines = [header.replace(",", separator), *(row.replace(",", separator) for row in rows)]
    return "\r\n".join(lines) + "\r\n"


def problems_of(text: str, known: KnownState | None = None, creating: Creating = NEW) -> list[str]:
    """Return every problem of a roster as printed text."""
    return [str(p) for p in read_roster(text, "roster.csv", known, creating).problems]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("separator", [",", ";"])
def test_bom_and_either_separator_read_the_same_rows_with_aeoeaa_intact(
    bom: bytes, separator: str
) -> None:
    text = roster(
        f"{ASE},Åse Ødegård,participant,Sámi mánáidgárdi,,kull-1,kull-1-gruppe-1,nn,,U05TKA0006,",
        separator=separator,
    )
    decoded, problems = decode_roster(bom + text.encode("utf-8"), "roster.csv")
    report = read_roster(decoded, "roster.csv", creating=NEW)
    assert problems == []
    assert report.problems == ()
    [row] = report.rows
    assert (row.row, row.email, row.name, row.unit) == (
        2,
        ASE,
        "Åse Ødegård",
        "Sámi mánáidgárdi",
    )
    assert (row.role, row.cohort, row.group, row.locale) == (
        Role.PARTICIPANT,
        "kull-1",
        "kull-1-gruppe-1",
        Locale.NN,
    )


def test_empty_locale_and_timezone_default_and_values_are_normalised() -> None:
    text = roster(
        " Tone.Aas@Trondheim.Kommune.Example , Tone Aas ,Admin,HR,,,,,,,@tone_aas",
    )
    [row] = read_roster(text, "roster.csv", creating=NEW).rows
    assert row.email == "tone.aas@trondheim.kommune.example"
    assert (row.name, row.role, row.locale, row.timezone) == (
        "Tone Aas",
        Role.ADMIN,
        Locale.NB,
        "Europe/Oslo",
    )
    assert (row.cohort, row.group, row.slack_id, row.telegram_username) == (
        None,
        None,
        None,
        "tone_aas",
    )


def test_quoted_names_may_hold_the_separator() -> None:
    text = roster(f'{ASE},"Ødegård, Åse",participant,,,kull-1,,,,,', separator=",")
    [row] = read_roster(text, "roster.csv", creating=NEW).rows
    assert row.name == "Ødegård, Åse"


def test_blank_lines_are_skipped_but_still_counted_like_a_spreadsheet() -> None:
    text = roster(
        f"{ASE},Åse,participant,,,kull-1,,,,,",
        ",,,,,,,,,,",
        "b@x.example,B,participant,,,kull-1,,,Nowhere/City,,",
    )
    assert problems_of(text) == [
        "roster.csv row 4, column timezone: unknown time zone 'Nowhere/City'; "
        "use an IANA name such as Europe/Oslo"
    ]


def test_unknown_columns_are_named_with_a_guess_and_the_rows_are_still_checked() -> None:
    header = HEADER.replace(",telegram_username", ",telegram")
    found = problems_of(roster("a@x.example,A,boss,,,kull-1,,,,,", header=header))
    assert found == [
        "roster.csv row 1, column telegram: unknown column; did you mean 'telegram_username'? "
        "the columns are " + ",".join(COLUMNS),
        "roster.csv row 2, column role: unknown role 'boss'; expected participant, coach or admin",
    ]


def test_missing_required_columns_are_one_problem_naming_them() -> None:
    header = "email,unit,group"
    assert problems_of(roster("a@x.example,HR,", header=header)) == [
        "roster.csv row 1: required columns missing: name, role, cohort "
        "(required: email, name, role, cohort; optional: unit, manager_email, group, locale, "
        "timezone, slack_id, telegram_username)"
    ]


def test_optional_columns_may_be_left_out_of_the_header() -> None:
    text = roster("a@x.example,Åse,participant,kull-1", header="email,name,role,cohort")
    [row] = read_roster(text, "roster.csv", creating=NEW).rows
    assert (row.email, row.cohort, row.group, row.manager_email) == (
        "a@x.example",
        "kull-1",
        None,
        None,
    )
    assert (row.slack_id, row.telegram_username, row.unit, row.timezone) == (
        None,
        None,
        "",
        "Europe/Oslo",
    )


def test_an_empty_file_says_the_header_is_missing() -> None:
    assert problems_of("") == ["roster.csv row 1: the header row is missing"]


def test_columns_may_come_in_any_order() -> None:
    header = ",".join(reversed(COLUMNS))
    text = roster(",,Europe/Oslo,en,,kull-1,,,participant,Åse,a@x.example", header=header)
    [row] = read_roster(text, "roster.csv", creating=NEW).rows
    assert (row.email, row.name, row.locale) == ("a@x.example", "Åse", Locale.EN)


def test_non_utf8_file_names_the_file_and_line() -> None:
    data = roster("a@x.example,Åse Ødegård,participant,,,kull-1,,,,,").encode("cp1252")
    text, problems = decode_roster(data, "roster.csv")
    assert text == ""
    [problem] = problems
    assert problem.where == "roster.csv line 2, byte 13"
    assert "not UTF-8" in problem.what
    assert "0xc5" in problem.what


def test_every_bad_row_is_reported_with_row_and_column() -> None:
    text = roster(
        f"{ASE},Åse,participant,,,kull-1,,,,,",
        "not-an-email,Bad,participant,,,kull-1,,,,,",
        "b@x.example,B,boss,,,kull-1,,,,,",
        "c@x.example,C,participant,,,kull-1,,,Europe/Trondheim,,",
        "d@x.example,D,participant,,nobody@x.example,kull-1,,,,,",
        f"{ASE.upper()},Åse again,participant,,,kull-1,,,,,",
        "e@x.example,E,participant,,,kull-1,,fr,,,",
        "f@x.example,F,participant,,,,,,,,",
        "g@x.example,G,participant,,g@x.example,kull-1,,,,,",
        "h@x.example,,coach,,,kull-1,,,,slack-h,",
    )
    found = problems_of(text)
    assert found[0].startswith("roster.csv row 3, column email: 'not-an-email' is not a valid")
    assert found[1:] == [
        "roster.csv row 4, column role: unknown role 'boss'; expected participant, coach or admin",
        "roster.csv row 5, column timezone: unknown time zone 'Europe/Trondheim'; "
        "use an IANA name such as Europe/Oslo",
        "roster.csv row 6, column manager_email: unknown manager nobody@x.example: "
        "not in this file nor in the database",
        f"roster.csv row 7, column email: duplicate email {ASE}; first given in row 2",
        "roster.csv row 8, column locale: unknown locale 'fr'; expected nb, nn or en",
        "roster.csv row 9, column cohort: a participant needs a cohort",
        "roster.csv row 10, column manager_email: a person cannot be their own manager",
        "roster.csv row 11, column name: name is required",
        "roster.csv row 11, column slack_id: 'slack-h' is not a Slack user id (like U024BE7LH)",
    ]


def test_an_unknown_manager_in_a_row_with_other_problems_is_reported_too() -> None:
    text = roster(
        "a@x.example,A,boss,,nobody@x.example,kull-1,,,,,",
        "b@x.example,B,participant,,nobody@x.example,kull-1,,fr,,,",
    )
    assert problems_of(text) == [
        "roster.csv row 2, column role: unknown role 'boss'; expected participant, coach or admin",
        "roster.csv row 2, column manager_email: unknown manager nobody@x.example: "
        "not in this file nor in the database",
        "roster.csv row 3, column locale: unknown locale 'fr'; expected nb, nn or en",
        "roster.csv row 3, column manager_email: unknown manager nobody@x.example: "
        "not in this file nor in the database",
    ]


def test_a_manager_in_a_row_with_other_problems_is_still_known() -> None:
    text = roster(
        "boss@x.example,Boss,chief,,,kull-1,,,,,",
        "a@x.example,A,participant,,boss@x.example,kull-1,,,,,",
    )
    assert [p.split(":")[0] for p in problems_of(text)] == ["roster.csv row 2, column role"]


def test_a_manager_known_in_the_database_is_accepted() -> None:
    text = roster("a@x.example,A,participant,,Boss@X.example,kull-1,,,,,")
    known = KnownState(emails=frozenset({"boss@x.example"}))
    assert problems_of(text, known) == []
    assert read_roster(text, "roster.csv", known, NEW).rows[0].manager_email == "boss@x.example"


def test_a_group_must_stay_in_one_cohort_in_the_file_and_the_database() -> None:
    text = roster(
        "a@x.example,A,participant,,,kull-1,gruppe-a,,,,",
        "b@x.example,B,participant,,,kull-2,gruppe-a,,,,",
        "c@x.example,C,participant,,,kull-1,gruppe-b,,,,",
        "d@x.example,D,participant,,,kull-1,gruppe-c,,,,",
        "e@x.example,E,coach,,,,gruppe-c,,,,",
    )
    known = KnownState(group_cohorts={"gruppe-b": "kull-9", "gruppe-c": None})
    assert problems_of(text, known) == [
        "roster.csv row 3, column group: group 'gruppe-a' is in cohort 'kull-1' in row 2, "
        "not 'kull-2'",
        "roster.csv row 4, column group: group 'gruppe-b' belongs to cohort 'kull-9' "
        "in the database, not 'kull-1'",
        "roster.csv row 6, column cohort: group 'gruppe-c' needs the cohort it belongs to",
    ]


def test_names_of_cohorts_and_groups_are_trimmed_and_limited() -> None:
    long = "k" * 121
    text = roster(
        "a@x.example,A,participant,,,  kull-1  , gruppe-1 ,,,,",
        f"b@x.example,B,participant,,,{long},,,,,",
    )
    report = read_roster(text, "roster.csv", creating=NEW)
    assert (report.rows[0].cohort, report.rows[0].group) == ("kull-1", "gruppe-1")
    assert [str(p) for p in report.problems] == [
        "roster.csv row 3, column cohort: too long: 121 characters, at most 120"
    ]


def test_a_slack_id_belongs_to_one_person() -> None:
    text = roster(
        "a@x.example,A,participant,,,kull-1,,,,U0001,",
        "b@x.example,B,participant,,,kull-1,,,,U0001,",
        "c@x.example,C,participant,,,kull-1,,,,U0002,",
    )
    known = KnownState(slack_owners={"U0002": "z@x.example"})
    assert problems_of(text, known) == [
        "roster.csv row 3, column slack_id: Slack id U0001 is also given to a@x.example in row 2",
        "roster.csv row 4, column slack_id: Slack id U0002 already belongs to z@x.example "
        "in the database",
    ]


def test_a_row_with_more_values_than_columns_is_reported() -> None:
    text = roster("a@x.example,A,participant,,,kull-1,,,,,,surplus")
    assert problems_of(text) == [
        "roster.csv row 2: the row has 12 values but the header names 11 columns"
    ]


KNOWN = KnownState(
    cohorts=frozenset({"kull-1", "kull-2"}),
    group_cohorts={
        "kull-1-gruppe-1": "kull-1",
        "kull-1-gruppe-2": "kull-1",
        "kull-2-gruppe-1": "kull-2",
    },
)


def test_an_unknown_cohort_is_named_once_with_a_guess_and_the_known_ones() -> None:
    text = roster(
        "a@x.example,A,participant,,,kull-1,kull-1-gruppe-1,,,,",
        "b@x.example,B,participant,,,kul-1,,,,,",
        "c@x.example,C,participant,,,kul-1,,,,,",
        "d@x.example,D,participant,,,kull-1,kull-1-grupe-2,,,,",
    )
    assert problems_of(text, KNOWN, Creating()) == [
        "roster.csv row 3, column cohort: unknown cohort 'kul-1' (also in row 4); "
        "did you mean 'kull-1'? Known cohorts: kull-1, kull-2. "
        "Pass --create-cohorts to create the cohorts this file names.",
        "roster.csv row 5, column group: unknown peer group 'kull-1-grupe-2'; "
        "did you mean 'kull-1-gruppe-2'? Known groups in cohort 'kull-1': kull-1-gruppe-1, "
        "kull-1-gruppe-2. Pass --create-groups to create the groups this file names.",
    ]
    assert problems_of(text, KNOWN, Creating(cohorts=True)) == []
    [cohort_problem] = problems_of(text, KNOWN, Creating(groups=True))
    assert cohort_problem.startswith("roster.csv row 3, column cohort: unknown cohort 'kul-1'")


def test_with_no_cohorts_yet_the_problem_says_how_to_create_them() -> None:
    rows = [f"p{i}@x.example,P{i},participant,,,kull-1,,,,," for i in range(8)]
    assert problems_of(roster(*rows), KnownState(), Creating()) == [
        "roster.csv row 2, column cohort: unknown cohort 'kull-1' "
        "(also in rows 3, 4, 5, 6, 7 and 2 more). There are no cohorts yet: apply the "
        "programme first (tenkepause programme apply), or pass --create-cohorts to create "
        "the cohorts this file names."
    ]


def test_a_long_list_of_known_cohorts_is_cut_short() -> None:
    known = KnownState(cohorts=frozenset(f"kull-{n:02}" for n in range(1, 15)))
    [problem] = problems_of(roster("a@x.example,A,participant,,,ukjent,,,,,"), known, Creating())
    assert (
        "Known cohorts: kull-01, kull-02, kull-03, kull-04, kull-05, kull-06, kull-07, " in problem
    )
    assert "kull-10 and 4 more." in problem
    assert "did you mean" not in problem
