"""Read a roster CSV into typed rows, and report every problem with its row and column.

Row numbers count the header as row 1, so they match what a spreadsheet shows.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from bot.core.problems import Problem
from bot.core.vocabulary import DEFAULT_LOCALE, Locale, Role

COLUMNS = (
    "email",
    "name",
    "role",
    "unit",
    "manager_email",
    "cohort",
    "group",
    "locale",
    "timezone",
    "slack_id",
    "telegram_username",
)
# A file may leave these out of its header entirely; their cells then count as empty.
OPTIONAL_COLUMNS = frozenset(
    {"unit", "manager_email", "group", "locale", "timezone", "slack_id", "telegram_username"}
)
REQUIRED_COLUMNS = tuple(name for name in COLUMNS if name not in OPTIONAL_COLUMNS)
DEFAULT_TIMEZONE = "Europe/Oslo"
# How many known cohort or group names an "unknown cohort" problem lists before "and N more".
LISTED_NAMES = 10
# How many further rows a problem about a repeated name lists before "and N more".
LISTED_ROWS = 5
MAX_NAME = 200
MAX_UNIT = 200
MAX_COHORT_OR_GROUP = 120
SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
TELEGRAM_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{4,31}")

Fail = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One person as the roster describes them; `row` is the spreadsheet row number."""

    row: int
    email: str
    name: str
    role: Role
    unit: str
    manager_email: str | None
    cohort: str | None
    group: str | None
    locale: Locale
    timezone: str
    slack_id: str | None
    telegram_username: str | None


@dataclass(frozen=True, slots=True)
class KnownState:
    """What the database already holds that a roster may refer to."""

    emails: frozenset[str] = frozenset()
    # Names of the cohorts that exist (the programme or an earlier roster named them).
    cohorts: frozenset[str] = frozenset()
    # Peer group name -> the name of its cohort (None when it has none yet).
    group_cohorts: Mapping[str, str | None] = field(default_factory=dict)
    # Slack user id -> email of the person whose identity it is.
    slack_owners: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Creating:
    """Which names a roster may introduce: new cohorts (with their groups), new groups."""

    cohorts: bool = False
    groups: bool = False


@dataclass(frozen=True, slots=True)
class References:
    """What one row says about other things, as far as its cells could be read."""

    row: int
    email: str | None
    manager_email: str | None
    cohort: str | None
    group: str | None
    slack_id: str | None


@dataclass(frozen=True, slots=True)
class RosterReport:
    """The rows that passed their own checks, and every problem found."""

    rows: tuple[RosterRow, ...]
    problems: tuple[Problem, ...]


def where(source: str, row: int, column: str | None = None) -> str:
    """Return a location like ``roster.csv row 7, column timezone``."""
    return f"{source} row {row}" + (f", column {column}" if column else "")


def _located(source: str, row: int, column: str, what: str) -> tuple[int, Problem]:
    """Return a problem at a cell, paired with its row number so problems sort by row."""
    return row, Problem(where(source, row, column), what)


def _failing_into(problems: list[Problem], source: str, row: int) -> Fail:
    """Return a `Fail` that records each problem at `row` and the column it names."""

    def fail(column: str, what: str) -> None:
        problems.append(Problem(where(source, row, column), what))

    return fail


def decode_roster(data: bytes, source: str) -> tuple[str, list[Problem]]:
    """Decode UTF-8 (with or without a BOM); on failure name the file, line and column."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        byte = data[error.start]
        return "", [
            Problem(
                f"{source} line {line}, byte {column}",
                f"the file is not UTF-8 text (found byte 0x{byte:02x}); "
                "save it as 'CSV UTF-8' and try again",
            )
        ]


def sniff_delimiter(text: str) -> str:
    """Return ``;`` or ``,``: whichever the header line uses more."""
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def read_roster(
    text: str,
    source: str,
    known: KnownState | None = None,
    creating: Creating | None = None,
) -> RosterReport:
    """Parse and check a whole roster; return good rows and every problem found."""
    known = known or KnownState()
    records = _records(text, source)
    header = next(records, None)
    if header is None or isinstance(header[1], Problem) or not any(c.strip() for c in header[1]):
        return RosterReport((), (Problem(where(source, 1), "the header row is missing"),))
    positions, header_problems = _read_header(header[1], source)
    if any(name not in positions for name in REQUIRED_COLUMNS):
        return RosterReport((), tuple(header_problems))
    rows: list[RosterRow] = []
    references: list[References] = []
    problems: list[tuple[int, Problem]] = [(1, problem) for problem in header_problems]
    first_row: dict[str, int] = {}
    for number, cells in records:
        if isinstance(cells, Problem):
            problems.append((number, cells))
            continue
        if not any(cell.strip() for cell in cells):
            continue
        refs, row, row_problems = _read_row(number, cells, positions, len(header[1]), source)
        problems.extend((number, p) for p in row_problems)
        references.append(refs)
        email = refs.email
        if email is not None and email in first_row:
            duplicate = f"duplicate email {email}; first given in row {first_row[email]}"
            problems.append(_located(source, number, "email", duplicate))
            continue
        if email is not None:
            first_row[email] = number
        if row is not None:
            rows.append(row)
    problems.extend(
        check_references(references, source, known, frozenset(first_row), creating or Creating())
    )
    problems.sort(key=lambda found: found[0])
    return RosterReport(tuple(rows), tuple(problem for _, problem in problems))


def _records(text: str, source: str) -> Iterator[tuple[int, list[str] | Problem]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    number = 0
    while True:
        number += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield number, Problem(where(source, number), f"cannot read this row: {error}")
            return
        yield number, cells


def _read_header(cells: Sequence[str], source: str) -> tuple[dict[str, int], list[Problem]]:
    positions: dict[str, int] = {}
    problems: list[Problem] = []
    fail = _failing_into(problems, source, 1)
    for index, cell in enumerate(cells):
        name = cell.strip().lower()
        if not name:
            continue
        if name not in COLUMNS:
            close = difflib.get_close_matches(name, COLUMNS, n=1)
            guess = f"did you mean {close[0]!r}? " if close else ""
            fail(name, f"unknown column; {guess}the columns are {','.join(COLUMNS)}")
        elif name in positions:
            fail(name, "this column appears twice")
        else:
            positions[name] = index
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing:
        listed = ", ".join(missing)
        problems.append(
            Problem(
                where(source, 1),
                f"required column{'s' if len(missing) > 1 else ''} missing: {listed} "
                f"(required: {', '.join(REQUIRED_COLUMNS)}; optional: "
                f"{', '.join(n for n in COLUMNS if n in OPTIONAL_COLUMNS)})",
            )
        )
    return positions, problems


def _read_row(
    number: int, cells: Sequence[str], positions: Mapping[str, int], width: int, source: str
) -> tuple[References, RosterRow | None, list[Problem]]:
    """Return what the row refers to, the row (if wholly valid) and its problems."""
    problems: list[Problem] = []
    fail = _failing_into(problems, source, number)
    if any(cell.strip() for cell in cells[width:]):
        problems.append(
            Problem(
                where(source, number),
                f"the row has {len(cells)} values but the header names {width} columns",
            )
        )
    value = {name: "" for name in COLUMNS}
    value.update(
        (name, cells[index].strip() if index < len(cells) else "")
        for name, index in positions.items()
    )

    email = _email(value["email"], "email", fail, required=True)
    name = _bounded(value["name"], "name", MAX_NAME, fail, required=True)
    role = _role(value["role"], fail)
    unit = _bounded(value["unit"], "unit", MAX_UNIT, fail)
    manager = _email(value["manager_email"], "manager_email", fail)
    cohort = _bounded(value["cohort"], "cohort", MAX_COHORT_OR_GROUP, fail)
    group = _bounded(value["group"], "group", MAX_COHORT_OR_GROUP, fail)
    locale = _locale(value["locale"], fail)
    timezone = _timezone(value["timezone"], fail)
    slack_id = _slack_id(value["slack_id"], fail)
    telegram = _telegram(value["telegram_username"], fail)

    if role is Role.PARTICIPANT and not value["cohort"]:
        fail("cohort", "a participant needs a cohort")
    if group and not value["cohort"]:
        fail("cohort", f"group {group!r} needs the cohort it belongs to")
    if email and manager and email == manager:
        fail("manager_email", "a person cannot be their own manager")

    refs = References(number, email, manager, cohort, group, slack_id)
    if problems or email is None or name is None or role is None:
        return refs, None, problems
    if locale is None or timezone is None:
        return refs, None, problems
    row = RosterRow(
        row=number,
        email=email,
        name=name,
        role=role,
        unit=unit or "",
        manager_email=manager,
        cohort=cohort,
        group=group,
        locale=locale,
        timezone=timezone,
        slack_id=slack_id,
        telegram_username=telegram,
    )
    return refs, row, problems


@lru_cache(maxsize=65536)
def normalise_email(raw: str) -> tuple[str | None, str]:
    """Return (lower-cased address, "") or (None, why it is not an email address)."""
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as error:
        return None, str(error)
    return checked.normalized.lower(), ""


def _email(raw: str, column: str, fail: Fail, *, required: bool = False) -> str | None:
    if not raw:
        if required:
            fail(column, "an email address is required")
        return None
    address, why = normalise_email(raw)
    if address is None:
        fail(column, f"{raw!r} is not a valid email address: {why}")
    return address


def _bounded(
    raw: str, column: str, limit: int, fail: Fail, *, required: bool = False
) -> str | None:
    if not raw:
        if required:
            fail(column, f"{column} is required")
        return None
    if len(raw) > limit:
        fail(column, f"too long: {len(raw)} characters, at most {limit}")
        return None
    return raw


def _role(raw: str, fail: Fail) -> Role | None:
    try:
        return Role(raw.lower())
    except ValueError:
        shown = repr(raw) if raw else "empty"
        fail("role", f"unknown role {shown}; expected participant, coach or admin")
        return None


def _locale(raw: str, fail: Fail) -> Locale | None:
    if not raw:
        return DEFAULT_LOCALE
    try:
        return Locale(raw.lower())
    except ValueError:
        fail("locale", f"unknown locale {raw!r}; expected nb, nn or en")
        return None


@lru_cache(maxsize=1024)
def is_time_zone(name: str) -> bool:
    """Tell whether `name` is an IANA time zone this system knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _timezone(raw: str, fail: Fail) -> str | None:
    if not raw:
        return DEFAULT_TIMEZONE
    if not is_time_zone(raw):
        fail("timezone", f"unknown time zone {raw!r}; use an IANA name such as Europe/Oslo")
        return None
    return raw


def _slack_id(raw: str, fail: Fail) -> str | None:
    if not raw:
        return None
    if not SLACK_ID.fullmatch(raw):
        fail("slack_id", f"{raw!r} is not a Slack user id (like U024BE7LH)")
        return None
    return raw


def _telegram(raw: str, fail: Fail) -> str | None:
    username = raw.removeprefix("@")
    if not username:
        return None
    if not TELEGRAM_USERNAME.fullmatch(username):
        fail(
            "telegram_username",
            f"{raw!r} is not a Telegram username (5-32 letters, digits or _)",
        )
        return None
    return username


def check_references(
    rows: Sequence[References],
    source: str,
    known: KnownState,
    in_file: frozenset[str],
    creating: Creating,
) -> list[tuple[int, Problem]]:
    """Check what rows say about each other and the database: managers, cohorts, groups, ids."""
    return [
        *_check_managers(rows, source, known, in_file),
        *_check_new_cohorts(rows, source, known, creating),
        *_check_new_groups(rows, source, known, creating),
        *_check_groups(rows, source, known),
        *_check_slack_ids(rows, source, known),
    ]


def _check_managers(
    rows: Sequence[References], source: str, known: KnownState, in_file: frozenset[str]
) -> Iterator[tuple[int, Problem]]:
    for row in rows:
        manager = row.manager_email
        if manager and manager not in in_file and manager not in known.emails:
            what = f"unknown manager {manager}: not in this file nor in the database"
            yield _located(source, row.row, "manager_email", what)


def _listed(names: Iterable[str], limit: int = LISTED_NAMES) -> str:
    """Return names sorted and comma-separated, the tail cut to ``and N more``."""
    ordered = sorted(names)
    shown = ", ".join(ordered[:limit])
    return shown + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


def _also_in(rows: Sequence[int]) -> str:
    """Return `` (also in rows 9, 12)`` for the further rows that repeat a name."""
    if not rows:
        return ""
    shown = ", ".join(str(row) for row in rows[:LISTED_ROWS])
    more = f" and {len(rows) - LISTED_ROWS} more" if len(rows) > LISTED_ROWS else ""
    return f" (also in row{'s' if len(rows) > 1 else ''} {shown}{more})"


def _by_first_row(pairs: Iterable[tuple[str, int]]) -> dict[str, list[int]]:
    """Group row numbers by name, in the order names first appear."""
    found: dict[str, list[int]] = {}
    for name, row in pairs:
        found.setdefault(name, []).append(row)
    return found


def _unknown_name(
    kind: str, name: str, rows: Sequence[int], known: Collection[str], listed_as: str
) -> str:
    """Say that a cohort or group is unknown, with a did-you-mean and the known names."""
    close = difflib.get_close_matches(name, list(known), n=1)
    guess = f"; did you mean {close[0]!r}?" if close else "."
    return f"unknown {kind} {name!r}{_also_in(rows[1:])}{guess} {listed_as}"


def _check_new_cohorts(
    rows: Sequence[References], source: str, known: KnownState, creating: Creating
) -> Iterator[tuple[int, Problem]]:
    if creating.cohorts:
        return
    unknown = _by_first_row(
        (row.cohort, row.row) for row in rows if row.cohort and row.cohort not in known.cohorts
    )
    if known.cohorts:
        listed_as = (
            f"Known cohorts: {_listed(known.cohorts)}. "
            "Pass --create-cohorts to create the cohorts this file names."
        )
    else:
        listed_as = (
            "There are no cohorts yet: apply the programme first (tenkepause programme apply), "
            "or pass --create-cohorts to create the cohorts this file names."
        )
    for name, numbers in unknown.items():
        what = _unknown_name("cohort", name, numbers, known.cohorts, listed_as)
        yield _located(source, numbers[0], "cohort", what)


def _check_new_groups(
    rows: Sequence[References], source: str, known: KnownState, creating: Creating
) -> Iterator[tuple[int, Problem]]:
    if creating.cohorts or creating.groups:
        return
    unknown = _by_first_row(
        (row.group, row.row)
        for row in rows
        if row.group and row.cohort and row.group not in known.group_cohorts
    )
    cohort_of = {row.group: row.cohort for row in rows if row.group and row.cohort}
    for name, numbers in unknown.items():
        cohort = cohort_of[name]
        siblings = [group for group, of in known.group_cohorts.items() if of == cohort]
        if siblings:
            listed_as = f"Known groups in cohort {cohort!r}: {_listed(siblings)}."
        elif known.group_cohorts:
            listed_as = f"Known groups: {_listed(known.group_cohorts)}."
        else:
            listed_as = "There are no peer groups yet."
        listed_as += " Pass --create-groups to create the groups this file names."
        what = _unknown_name("peer group", name, numbers, known.group_cohorts, listed_as)
        yield _located(source, numbers[0], "group", what)


def _check_groups(
    rows: Sequence[References], source: str, known: KnownState
) -> Iterator[tuple[int, Problem]]:
    first: dict[str, References] = {}
    for row in rows:
        if not row.group or not row.cohort:
            continue
        in_db = known.group_cohorts.get(row.group)
        if in_db is not None and in_db != row.cohort:
            what = (
                f"group {row.group!r} belongs to cohort {in_db!r} in the database, "
                f"not {row.cohort!r}"
            )
            yield _located(source, row.row, "group", what)
            continue
        earlier = first.setdefault(row.group, row)
        if earlier.cohort != row.cohort:
            what = (
                f"group {row.group!r} is in cohort {earlier.cohort!r} in row {earlier.row}, "
                f"not {row.cohort!r}"
            )
            yield _located(source, row.row, "group", what)


def _check_slack_ids(
    rows: Sequence[References], source: str, known: KnownState
) -> Iterator[tuple[int, Problem]]:
    first: dict[str, References] = {}
    for row in rows:
        if not row.slack_id or not row.email:
            continue
        earlier = first.setdefault(row.slack_id, row)
        if earlier.email != row.email:
            what = f"Slack id {row.slack_id} is also given to {earlier.email} in row {earlier.row}"
            yield _located(source, row.row, "slack_id", what)
            continue
        owner = known.slack_owners.get(row.slack_id)
        if owner is not None and owner != row.email:
            what = f"Slack id {row.slack_id} already belongs to {owner} in the database"
            yield _located(source, row.row, "slack_id", what)
