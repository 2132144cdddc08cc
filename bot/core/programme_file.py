"""Read a programme file (YAML text) into a typed spec, naming file:line:column for every problem.

Pure: the caller passes the text, the file name to report, and the names it knows (the prompt
bank's keys and, when a database was consulted, the cohorts and groups that already exist).
The file is read as a YAML node tree rather than plain data, so every value keeps its
position, and every scalar is interpreted here from its source text (``8:30`` stays a time
instead of becoming YAML 1.1's sexagesimal integer 510).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from difflib import get_close_matches
from typing import TypeVar

import yaml

from bot.core.problems import InvalidInput, Problem
from bot.core.vocabulary import PulseItemKind, Visibility
from bot.core.yaml_source import compose, locate

T = TypeVar("T")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Norwegian spellings a coordinator may write instead of the English three letters.
NORWEGIAN_WEEKDAYS = {
    "man": "mon",
    "mandag": "mon",
    "tir": "tue",
    "tirsdag": "tue",
    "ons": "wed",
    "onsdag": "wed",
    "tor": "thu",
    "torsdag": "thu",
    "fre": "fri",
    "fredag": "fri",
    "lør": "sat",
    "lørdag": "sat",
    "søn": "sun",
    "søndag": "sun",
}
TEXT_LOCALES = ("nb", "en", "nn")
REQUIRED_TEXT_LOCALES = ("nb", "en")
VISIBILITIES = tuple(v.value for v in Visibility)
ITEM_KINDS = tuple(k.value for k in PulseItemKind)
CHOICE_KINDS = (PulseItemKind.SINGLE.value, PulseItemKind.MULTI.value)
MIN_RESPONSES_FLOOR = 3
DEFAULT_MIN_RESPONSES = 5
DEFAULT_MAX_LATENESS_MINUTES = 240
DEFAULT_OPEN_HOURS = 72
DEFAULT_FOLLOW_UP_DAYS = 7
MAX_KEY_LENGTH = 120
MAX_TITLE_LENGTH = 200
KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
TIME_PATTERN = re.compile(r"(\d{1,2}):(\d{2})")
DURATION_PATTERN = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")
MIN_GROUP_SIZE = 2
MAX_GROUP_SIZE = 6
TRUE_WORDS = frozenset({"true", "yes", "on", "ja"})
FALSE_WORDS = frozenset({"false", "no", "off", "nei"})
NULL_TAG = "tag:yaml.org,2002:null"


# --- the spec --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownNames:
    """Names the file may refer to without defining them.

    `cohorts`/`groups` are None when no database was consulted: names the file does not
    define are then left unchecked and listed in `ProgrammeSpec.unchecked`.
    """

    reflections: frozenset[str]
    pulse_items: frozenset[str]
    cohorts: frozenset[str] | None = None
    groups: frozenset[str] | None = None


@dataclass(frozen=True)
class CohortSpec:
    """A cohort the file names; `title` None leaves an existing title alone."""

    name: str
    title: str | None


@dataclass(frozen=True)
class GroupSpec:
    """A peer group inside a cohort."""

    name: str
    cohort: str
    title: str | None


@dataclass(frozen=True)
class AudienceSpec:
    """Cohorts and peer groups, by name, that something reaches."""

    cohorts: tuple[str, ...]
    groups: tuple[str, ...]


@dataclass(frozen=True)
class ScheduleSpec:
    """A weekly schedule in each recipient's local time."""

    weekdays: tuple[str, ...]
    local_time: time
    start: date
    end: date | None
    every_weeks: int
    skip_holidays: bool


@dataclass(frozen=True)
class InlinePromptSpec:
    """A reflection prompt written in the file itself."""

    key: str
    theme: str
    text: Mapping[str, str]
    follow_up: Mapping[str, str] | None


@dataclass(frozen=True)
class CampaignSpec:
    """A series of reflection prompts (bank or inline keys, in order) for an audience."""

    key: str
    title: str
    audience: AudienceSpec
    schedule: ScheduleSpec
    reminder_after_minutes: int | None
    max_lateness_minutes: int
    default_visibility: str
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class OptionSpec:
    """One choice of an inline choice item."""

    key: str
    text: Mapping[str, str]


@dataclass(frozen=True)
class InlineItemSpec:
    """A pulse item written in the file itself."""

    key: str
    kind: str
    text: Mapping[str, str]
    options: tuple[OptionSpec, ...]


@dataclass(frozen=True)
class PulseItemRef:
    """A pulse item: a bank key (`inline` None) or an inline item."""

    key: str
    inline: InlineItemSpec | None = None


@dataclass(frozen=True)
class PulseSpec:
    """A recurring pulse survey."""

    key: str
    title: Mapping[str, str]
    audience: AudienceSpec
    anonymous: bool
    min_responses: int
    open_hours: int
    reminder_after_minutes: int | None
    schedule: ScheduleSpec
    items: tuple[PulseItemRef, ...]


@dataclass(frozen=True)
class PeerRoundSpec:
    """Rotating peer matches in groups of `group_size` (extras make some one larger)."""

    key: str
    audience: AudienceSpec
    group_size: int
    schedule: ScheduleSpec
    mix_units: bool
    same_language: bool
    avoid_manager: bool
    follow_up_days: int


@dataclass(frozen=True)
class ProgrammeSpec:
    """Everything a valid programme file defines."""

    title: str | None
    cohorts: tuple[CohortSpec, ...]
    groups: tuple[GroupSpec, ...]
    inline_prompts: Mapping[str, InlinePromptSpec]
    campaigns: tuple[CampaignSpec, ...]
    pulses: tuple[PulseSpec, ...]
    peer_rounds: tuple[PeerRoundSpec, ...]
    # Cohort/group names neither defined here nor checked against a database.
    unchecked: tuple[Problem, ...] = ()

    def prompt_keys(self) -> tuple[str, ...]:
        """Return every prompt key the campaigns use, first use first, without repeats."""
        return tuple(dict.fromkeys(key for c in self.campaigns for key in c.prompts))


# --- reading nodes ---------------------------------------------------------------------------


@dataclass
class _Reader:
    """Collect problems while walking the node tree."""

    filename: str
    problems: list[Problem] = field(default_factory=list)
    marks: list[tuple[int, int]] = field(default_factory=list)

    def where(self, node: yaml.Node) -> str:
        return locate(self.filename, node)

    def fail(self, node: yaml.Node, what: str) -> None:
        self.problems.append(Problem(self.where(node), what))
        self.marks.append((node.start_mark.line, node.start_mark.column))

    def in_file_order(self) -> list[Problem]:
        """Return the problems sorted by line and column."""
        order = sorted(range(len(self.problems)), key=lambda i: self.marks[i])
        return [self.problems[i] for i in order]

    def fields(
        self,
        node: yaml.Node,
        what: str,
        *,
        required: Collection[str] = (),
        optional: Collection[str] = (),
    ) -> dict[str, yaml.Node] | None:
        """Return a mapping's values by key; report unknown, duplicate and missing keys."""
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping of fields ({_describe(node)} found)")
            return None
        allowed = (*required, *optional)
        found: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or key not in allowed:
                self.fail(
                    key_node,
                    f"unknown field {_quote(key_node)} in {what}; expected {_listing(allowed)}",
                )
            elif key in found:
                self.fail(key_node, f"field {key!r} appears twice in {what}")
            else:
                found[key] = value_node
        missing = [name for name in required if name not in found]
        if missing:
            names = ", ".join(repr(name) for name in missing)
            self.fail(node, f"{what} lacks the required field{'s' * (len(missing) > 1)} {names}")
        return found

    def items(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        """Return the entries of a list node (a missing value counts as an empty list)."""
        if _is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{what} must be a list ({_describe(node)} found)")
            return []
        return list(node.value)

    def scalar(self, node: yaml.Node, what: str) -> str | None:
        """Return the source text of a scalar, stripped; report lists, mappings and nulls."""
        if not isinstance(node, yaml.ScalarNode) or _is_null(node):
            self.fail(node, f"{what} must be a single value ({_describe(node)} found)")
            return None
        return str(node.value).strip()

    def text(self, node: yaml.Node, what: str, limit: int | None = None) -> str | None:
        value = self.scalar(node, what)
        if value is None:
            return None
        if not value:
            self.fail(node, f"{what} is empty; expected some text")
            return None
        if limit is not None and len(value) > limit:
            self.fail(node, f"{what} is {len(value)} characters long; at most {limit} fit")
            return None
        return value

    def key(self, node: yaml.Node, what: str) -> str | None:
        value = self.scalar(node, what)
        if value is None:
            return None
        if not KEY_PATTERN.fullmatch(value) or len(value) > MAX_KEY_LENGTH:
            self.fail(
                node,
                f"{what} {value!r} is not a valid key; expected lower-case letters, digits, "
                f"'-', '_' or '.' (at most {MAX_KEY_LENGTH} characters), e.g. 'kull-1-refleksjon'",
            )
            return None
        return value

    def name(self, node: yaml.Node, what: str) -> str | None:
        return self.text(node, what, MAX_KEY_LENGTH)

    def choice(self, node: yaml.Node, what: str, allowed: Collection[str]) -> str | None:
        value = self.scalar(node, what)
        if value is not None and value not in allowed:
            self.fail(node, f"{what} {value!r} is not one of {', '.join(allowed)}")
            return None
        return value

    def boolean(self, node: yaml.Node, what: str) -> bool | None:
        value = self.scalar(node, what)
        if value is None:
            return None
        if value.lower() in TRUE_WORDS:
            return True
        if value.lower() in FALSE_WORDS:
            return False
        self.fail(node, f"{what} {value!r} is not true or false")
        return None

    def integer(self, node: yaml.Node, what: str, low: int, high: int) -> int | None:
        value = self.scalar(node, what)
        if value is None:
            return None
        if not value.isdigit() or not low <= int(value) <= high:
            self.fail(node, f"{what} {value!r} is not a whole number from {low} to {high}")
            return None
        return int(value)

    def clock_time(self, node: yaml.Node, what: str) -> time | None:
        value = self.scalar(node, what)
        if value is None:
            return None
        match = TIME_PATTERN.fullmatch(value)
        if match is None or int(match[1]) > 23 or int(match[2]) > 59:
            self.fail(
                node,
                f'{what} "{value}" is not a valid HH:MM time; expected 00:00 to 23:59, '
                'e.g. "08:30"',
            )
            return None
        return time(int(match[1]), int(match[2]))

    def day(self, node: yaml.Node, what: str) -> date | None:
        value = self.scalar(node, what)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(node, f"{what} {value!r} is not a valid date; expected YYYY-MM-DD")
            return None

    def minutes(self, node: yaml.Node, what: str) -> int | None:
        value = self.scalar(node, what)
        if value is None:
            return None
        compact = value.replace(" ", "").lower()
        match = DURATION_PATTERN.fullmatch(compact)
        if not compact or match is None:
            self.fail(
                node,
                f"{what} {value!r} is not a duration; expected a number with d, h or m, "
                'e.g. "90m", "24h", "7d" or "1d12h"',
            )
            return None
        days, hours, minutes = (int(part or 0) for part in match.groups())
        total = days * 1440 + hours * 60 + minutes
        if total <= 0:
            self.fail(node, f"{what} {value!r} must be longer than zero")
            return None
        return total

    def locale_texts(
        self, fields: Mapping[str, yaml.Node], node: yaml.Node, what: str
    ) -> dict[str, str] | None:
        """Return the nb/en/nn texts among `fields`; nb and en are required by `fields`."""
        texts: dict[str, str] = {}
        for locale in TEXT_LOCALES:
            if locale in fields:
                text = self.text(fields[locale], f"the {locale} text of {what}")
                if text is None:
                    return None
                texts[locale] = text
        return texts if all(locale in texts for locale in REQUIRED_TEXT_LOCALES) else None


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if _is_null(node):
        return "nothing"
    return f"{str(node.value)!r}"


def _quote(node: yaml.Node) -> str:
    return repr(node.value) if isinstance(node, yaml.ScalarNode) else _describe(node)


def _listing(names: Collection[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _optional(
    fields: Mapping[str, yaml.Node],
    name: str,
    read: Callable[[yaml.Node], T | None],
    default: T,
) -> T | None:
    """Read an optional field: its default when absent or null, None when invalid."""
    node = fields.get(name)
    if node is None or _is_null(node):
        return default
    return read(node)


def _read_plain_title(
    reader: _Reader, fields: Mapping[str, yaml.Node], default: str | None
) -> str | None:
    """Return the optional one-language `title`: `default` when absent, None when invalid."""
    return _optional(fields, "title", lambda n: reader.text(n, "title", MAX_TITLE_LENGTH), default)


def _read_reminder(reader: _Reader, fields: Mapping[str, yaml.Node]) -> int | None:
    """Return the optional `reminder_after` in minutes (0: no reminder), or None when invalid."""
    return _optional(fields, "reminder_after", lambda n: reader.minutes(n, "reminder_after"), 0)


def _hint(value: str, known: Collection[str]) -> str:
    close = get_close_matches(value, list(known), n=1)
    return f'; did you mean "{close[0]}"?' if close else ""


# --- the file --------------------------------------------------------------------------------

TOP_FIELDS = ("title", "cohorts", "groups", "campaigns", "pulses", "peer_rounds")


@dataclass
class _Names:
    """Where each name or key is first defined in the file, per kind."""

    seen: dict[str, dict[str, yaml.Node]] = field(default_factory=dict)

    def claim(self, reader: _Reader, kind: str, name: str, node: yaml.Node) -> bool:
        """Record a definition; report a second one of the same name."""
        known = self.seen.setdefault(kind, {})
        first = known.get(name)
        if first is not None:
            line = first.start_mark.line + 1
            reader.fail(node, f"{kind} {name!r} is already defined on line {line}")
            return False
        known[name] = node
        return True


@dataclass
class _References:
    """Names used before they can be checked (a file may refer to later definitions)."""

    cohorts: list[tuple[str, yaml.Node]] = field(default_factory=list)
    groups: list[tuple[str, yaml.Node]] = field(default_factory=list)
    prompts: list[tuple[str, yaml.Node]] = field(default_factory=list)


@dataclass
class _State:
    reader: _Reader
    known: KnownNames
    names: _Names = field(default_factory=_Names)
    references: _References = field(default_factory=_References)
    inline_prompts: dict[str, InlinePromptSpec] = field(default_factory=dict)


def parse_programme(text: str, *, filename: str, known: KnownNames) -> ProgrammeSpec:
    """Return the spec of a programme file; raise InvalidInput listing every problem."""
    reader = _Reader(filename)
    root = compose(text, filename)
    if root is None:
        raise InvalidInput(
            [Problem(filename, f"the file is empty; expected {_listing(TOP_FIELDS)}")]
        )
    state = _State(reader, known)
    top = reader.fields(root, "the programme file", optional=TOP_FIELDS)
    if top is None:
        raise InvalidInput(reader.problems)
    title = _read_plain_title(reader, top, None)
    cohorts = _read_list(state, top, "cohorts", _read_cohort)
    groups = _read_list(state, top, "groups", _read_group)
    campaigns = _read_list(state, top, "campaigns", _read_campaign)
    pulses = _read_list(state, top, "pulses", _read_pulse)
    peer_rounds = _read_list(state, top, "peer_rounds", _read_peer_round)
    unchecked = _check_references(state)
    if reader.problems:
        raise InvalidInput(reader.in_file_order())
    return ProgrammeSpec(
        title=title,
        cohorts=cohorts,
        groups=groups,
        inline_prompts=dict(state.inline_prompts),
        campaigns=campaigns,
        pulses=pulses,
        peer_rounds=peer_rounds,
        unchecked=unchecked,
    )


def _read_list(
    state: _State,
    top: Mapping[str, yaml.Node],
    section: str,
    read: Callable[[_State, yaml.Node], T | None],
) -> tuple[T, ...]:
    node = top.get(section)
    if node is None:
        return ()
    entries = (read(state, entry) for entry in state.reader.items(node, f"{section}:"))
    return tuple(entry for entry in entries if entry is not None)


def _read_cohort(state: _State, node: yaml.Node) -> CohortSpec | None:
    reader = state.reader
    fields = reader.fields(node, "a cohort", required=("name",), optional=("title",))
    if fields is None or "name" not in fields:
        return None
    name = reader.name(fields["name"], "the cohort name")
    title = _read_plain_title(reader, fields, None)
    if name is None or not state.names.claim(reader, "cohort", name, fields["name"]):
        return None
    return CohortSpec(name, title)


def _read_group(state: _State, node: yaml.Node) -> GroupSpec | None:
    reader = state.reader
    fields = reader.fields(node, "a group", required=("name", "cohort"), optional=("title",))
    if fields is None or "name" not in fields or "cohort" not in fields:
        return None
    name = reader.name(fields["name"], "the group name")
    cohort = reader.name(fields["cohort"], "the group's cohort")
    title = _read_plain_title(reader, fields, None)
    if cohort is not None:
        state.references.cohorts.append((cohort, fields["cohort"]))
    if name is None or cohort is None:
        return None
    if not state.names.claim(reader, "group", name, fields["name"]):
        return None
    return GroupSpec(name, cohort, title)


def _read_audience(state: _State, node: yaml.Node) -> AudienceSpec | None:
    reader = state.reader
    fields = reader.fields(node, "audience", optional=("cohorts", "groups"))
    if fields is None:
        return None
    found: dict[str, list[str]] = {"cohorts": [], "groups": []}
    for kind, references in (
        ("cohorts", state.references.cohorts),
        ("groups", state.references.groups),
    ):
        for entry in reader.items(fields.get(kind, yaml.ScalarNode(NULL_TAG, "")), kind):
            name = reader.name(entry, f"a name under {kind}")
            if name is not None and name not in found[kind]:
                found[kind].append(name)
                references.append((name, entry))
    if not found["cohorts"] and not found["groups"]:
        reader.fail(
            node, "audience names no cohort or group; expected cohorts: [...] and/or groups: [...]"
        )
        return None
    return AudienceSpec(tuple(found["cohorts"]), tuple(found["groups"]))


SCHEDULE_REQUIRED = ("weekdays", "time", "start")
SCHEDULE_OPTIONAL = ("end", "every_weeks", "skip_holidays")


def _read_schedule(state: _State, node: yaml.Node) -> ScheduleSpec | None:
    reader = state.reader
    fields = reader.fields(node, "schedule", required=SCHEDULE_REQUIRED, optional=SCHEDULE_OPTIONAL)
    if fields is None or any(name not in fields for name in SCHEDULE_REQUIRED):
        return None
    weekdays = _read_weekdays(reader, fields["weekdays"])
    local_time = reader.clock_time(fields["time"], "time")
    start = reader.day(fields["start"], "start")
    end = _optional(fields, "end", lambda n: reader.day(n, "end"), None)
    every_weeks = _optional(
        fields, "every_weeks", lambda n: reader.integer(n, "every_weeks", 1, 52), 1
    )
    skip_holidays = _optional(
        fields, "skip_holidays", lambda n: reader.boolean(n, "skip_holidays"), True
    )
    if start is not None and end is not None and end < start:
        reader.fail(fields["end"], f"end {end.isoformat()} is before start {start.isoformat()}")
        return None
    if (
        weekdays is None
        or local_time is None
        or start is None
        or every_weeks is None
        or skip_holidays is None
        or ("end" in fields and not _is_null(fields["end"]) and end is None)
    ):
        return None
    return ScheduleSpec(weekdays, local_time, start, end, every_weeks, skip_holidays)


def _read_weekdays(reader: _Reader, node: yaml.Node) -> tuple[str, ...] | None:
    entries = [node] if isinstance(node, yaml.ScalarNode) else reader.items(node, "weekdays")
    days: list[str] = []
    valid = True
    for entry in entries:
        value = reader.scalar(entry, "a weekday")
        if value is None:
            valid = False
            continue
        day = NORWEGIAN_WEEKDAYS.get(value.lower(), value.lower())
        if day not in WEEKDAYS:
            reader.fail(entry, f"weekday {value!r} is not one of {', '.join(WEEKDAYS)}")
            valid = False
        elif day not in days:
            days.append(day)
    if valid and not days:
        reader.fail(node, f"weekdays is empty; expected at least one of {', '.join(WEEKDAYS)}")
    if not valid or not days:
        return None
    return tuple(sorted(days, key=WEEKDAYS.index))


CAMPAIGN_REQUIRED = ("key", "audience", "schedule", "prompts")
CAMPAIGN_OPTIONAL = ("title", "reminder_after", "max_lateness", "default_visibility")


def _read_campaign(state: _State, node: yaml.Node) -> CampaignSpec | None:
    reader = state.reader
    fields = reader.fields(
        node, "a campaign", required=CAMPAIGN_REQUIRED, optional=CAMPAIGN_OPTIONAL
    )
    if fields is None:
        return None
    key = _claim_key(state, fields, "campaign")
    title = _read_plain_title(reader, fields, "")
    audience = _required(fields, "audience", lambda n: _read_audience(state, n))
    schedule = _required(fields, "schedule", lambda n: _read_schedule(state, n))
    reminder = _read_reminder(reader, fields)
    lateness = _optional(
        fields,
        "max_lateness",
        lambda n: reader.minutes(n, "max_lateness"),
        DEFAULT_MAX_LATENESS_MINUTES,
    )
    visibility = _optional(
        fields,
        "default_visibility",
        lambda n: reader.choice(n, "default_visibility", VISIBILITIES),
        Visibility.COACH.value,
    )
    prompts = _required(fields, "prompts", lambda n: _read_prompt_list(state, n))
    if (
        key is None
        or title is None
        or audience is None
        or schedule is None
        or reminder is None
        or lateness is None
        or visibility is None
        or prompts is None
    ):
        return None
    return CampaignSpec(
        key=key,
        title=title,
        audience=audience,
        schedule=schedule,
        reminder_after_minutes=reminder or None,
        max_lateness_minutes=lateness,
        default_visibility=visibility,
        prompts=prompts,
    )


def _required(
    fields: Mapping[str, yaml.Node], name: str, read: Callable[[yaml.Node], T | None]
) -> T | None:
    """Read a required field; `fields` has already reported it missing."""
    node = fields.get(name)
    return None if node is None else read(node)


def _claim_key(state: _State, fields: Mapping[str, yaml.Node], kind: str) -> str | None:
    node = fields.get("key")
    if node is None:
        return None
    key = state.reader.key(node, f"the {kind} key")
    if key is None or not state.names.claim(state.reader, kind, key, node):
        return None
    return key


def _read_prompt_list(state: _State, node: yaml.Node) -> tuple[str, ...] | None:
    reader = state.reader
    entries = reader.items(node, "prompts")
    if not entries:
        reader.fail(node, "prompts is empty; expected a list of bank keys or inline prompts")
        return None
    keys: list[str] = []
    valid = True
    for entry in entries:
        if isinstance(entry, yaml.MappingNode):
            key = _read_inline_prompt(state, entry)
        else:
            key = reader.scalar(entry, "a prompt")
            if key is not None:
                state.references.prompts.append((key, entry))
        if key is None:
            valid = False
        else:
            keys.append(key)
    return tuple(keys) if valid else None


INLINE_PROMPT_REQUIRED = ("key", "nb", "en")
INLINE_PROMPT_OPTIONAL = ("nn", "theme", "follow_up")


def _read_inline_prompt(state: _State, node: yaml.MappingNode) -> str | None:
    reader = state.reader
    fields = reader.fields(
        node, "an inline prompt", required=INLINE_PROMPT_REQUIRED, optional=INLINE_PROMPT_OPTIONAL
    )
    if fields is None or "key" not in fields:
        return None
    key = reader.key(fields["key"], "the prompt key")
    if key is not None and key in state.known.reflections:
        reader.fail(
            fields["key"],
            f"prompt key {key!r} belongs to the prompt bank; write '- {key}' on its own to use "
            "the bank prompt, or choose another key for your own",
        )
        key = None
    texts = reader.locale_texts(fields, node, "the prompt")
    theme = _optional(fields, "theme", lambda n: reader.text(n, "theme", 64), "")
    no_follow_up: dict[str, str] = {}

    def follow_up_texts(n: yaml.Node) -> dict[str, str] | None:
        return _read_translations(reader, n, "follow_up", "the follow-up")

    follow_up = _optional(fields, "follow_up", follow_up_texts, no_follow_up)
    if key is None or texts is None or theme is None or follow_up is None:
        return None
    if not state.names.claim(reader, "prompt", key, fields["key"]):
        return None
    state.inline_prompts[key] = InlinePromptSpec(key, theme, texts, follow_up or None)
    return key


PULSE_REQUIRED = ("key", "title", "audience", "schedule", "items")
PULSE_OPTIONAL = ("anonymous", "min_responses", "open_for", "reminder_after")


def _read_pulse(state: _State, node: yaml.Node) -> PulseSpec | None:
    reader = state.reader
    fields = reader.fields(node, "a pulse survey", required=PULSE_REQUIRED, optional=PULSE_OPTIONAL)
    if fields is None:
        return None
    key = _claim_key(state, fields, "pulse survey")
    title = _required(
        fields, "title", lambda n: _read_translations(reader, n, "title", "the title")
    )
    audience = _required(fields, "audience", lambda n: _read_audience(state, n))
    anonymous = _optional(fields, "anonymous", lambda n: reader.boolean(n, "anonymous"), True)
    min_responses = _optional(
        fields, "min_responses", lambda n: _read_min_responses(reader, n), DEFAULT_MIN_RESPONSES
    )
    open_hours = _optional(
        fields, "open_for", lambda n: _whole(reader, n, "open_for", 60, "hours"), DEFAULT_OPEN_HOURS
    )
    reminder = _read_reminder(reader, fields)
    schedule = _required(fields, "schedule", lambda n: _read_schedule(state, n))
    items = _required(fields, "items", lambda n: _read_items(state, n))
    if (
        key is None
        or title is None
        or audience is None
        or anonymous is None
        or min_responses is None
        or open_hours is None
        or reminder is None
        or schedule is None
        or items is None
    ):
        return None
    if reminder and reminder >= open_hours * 60:
        reader.fail(
            fields["reminder_after"],
            f"reminder_after ({reminder} minutes) must come before the survey closes "
            f"(open_for is {open_hours} hours)",
        )
        return None
    return PulseSpec(
        key=key,
        title=title,
        audience=audience,
        anonymous=anonymous,
        min_responses=min_responses,
        open_hours=open_hours,
        reminder_after_minutes=reminder or None,
        schedule=schedule,
        items=items,
    )


def _read_translations(
    reader: _Reader, node: yaml.Node, name: str, what: str
) -> dict[str, str] | None:
    """Return a field written as a mapping of nb, en and (optionally) nn texts."""
    fields = reader.fields(node, name, required=REQUIRED_TEXT_LOCALES, optional=("nn",))
    if fields is None:
        return None
    return reader.locale_texts(fields, node, what)


def _read_min_responses(reader: _Reader, node: yaml.Node) -> int | None:
    value = reader.scalar(node, "min_responses")
    if value is None:
        return None
    if not value.isdigit():
        reader.fail(node, f"min_responses {value!r} is not a whole number")
        return None
    if int(value) < MIN_RESPONSES_FLOOR:
        reader.fail(
            node,
            f"min_responses {value} is too low to keep answers anonymous; "
            f"expected {MIN_RESPONSES_FLOOR} or more (default {DEFAULT_MIN_RESPONSES})",
        )
        return None
    return int(value)


def _whole(reader: _Reader, node: yaml.Node, what: str, unit: int, unit_name: str) -> int | None:
    """Return a duration in whole `unit_name` (`unit` minutes each)."""
    minutes = reader.minutes(node, what)
    if minutes is None:
        return None
    if minutes % unit:
        reader.fail(node, f"{what} must be a whole number of {unit_name}")
        return None
    return minutes // unit


def _read_items(state: _State, node: yaml.Node) -> tuple[PulseItemRef, ...] | None:
    reader = state.reader
    entries = reader.items(node, "items")
    if not entries:
        reader.fail(node, "items is empty; expected a list of bank keys or inline items")
        return None
    items: list[PulseItemRef] = []
    seen: dict[str, yaml.Node] = {}
    valid = True
    for entry in entries:
        item = _read_item(state, entry)
        if item is None:
            valid = False
        elif item.key in seen:
            line = seen[item.key].start_mark.line + 1
            reader.fail(entry, f"item {item.key!r} is already in this survey (line {line})")
            valid = False
        else:
            seen[item.key] = entry
            items.append(item)
    return tuple(items) if valid else None


def _read_item(state: _State, node: yaml.Node) -> PulseItemRef | None:
    reader = state.reader
    if isinstance(node, yaml.MappingNode):
        return _read_inline_item(reader, node, state.known)
    key = reader.scalar(node, "a pulse item")
    if key is None:
        return None
    if key not in state.known.pulse_items:
        reader.fail(
            node,
            f'unknown pulse item "{key}": not in the pulse item bank'
            f"{_hint(key, state.known.pulse_items)} (or write it inline with key, kind, nb, en)",
        )
        return None
    return PulseItemRef(key)


INLINE_ITEM_REQUIRED = ("key", "kind", "nb", "en")
INLINE_ITEM_OPTIONAL = ("nn", "options")


def _read_inline_item(
    reader: _Reader, node: yaml.MappingNode, known: KnownNames
) -> PulseItemRef | None:
    fields = reader.fields(
        node, "an inline pulse item", required=INLINE_ITEM_REQUIRED, optional=INLINE_ITEM_OPTIONAL
    )
    if fields is None or "key" not in fields or "kind" not in fields:
        return None
    key = reader.key(fields["key"], "the item key")
    if key is not None and key in known.pulse_items:
        reader.fail(
            fields["key"],
            f"item key {key!r} belongs to the pulse item bank; write '- {key}' on its own to use "
            "it, or choose another key for your own",
        )
        key = None
    kind = reader.choice(fields["kind"], "kind", ITEM_KINDS)
    texts = reader.locale_texts(fields, node, "the item")
    options = _read_options(reader, fields, kind, node)
    if key is None or kind is None or texts is None or options is None:
        return None
    return PulseItemRef(key, InlineItemSpec(key, kind, texts, options))


def _read_options(
    reader: _Reader, fields: Mapping[str, yaml.Node], kind: str | None, node: yaml.Node
) -> tuple[OptionSpec, ...] | None:
    options_node = fields.get("options")
    if kind is None:
        return None
    if kind not in CHOICE_KINDS:
        if options_node is not None:
            reader.fail(options_node, f"a {kind} item takes no options; remove options")
            return None
        return ()
    entries = [] if options_node is None else reader.items(options_node, "options")
    if len(entries) < 2:
        reader.fail(options_node or node, f"a {kind} item needs at least two options (key, nb, en)")
        return None
    options: list[OptionSpec] = []
    for entry in entries:
        option_fields = reader.fields(
            entry, "an option", required=("key", *REQUIRED_TEXT_LOCALES), optional=("nn",)
        )
        if option_fields is None or "key" not in option_fields:
            return None
        key = reader.key(option_fields["key"], "the option key")
        texts = reader.locale_texts(option_fields, entry, "the option")
        if key is None or texts is None:
            return None
        if any(option.key == key for option in options):
            reader.fail(option_fields["key"], f"option {key!r} appears twice")
            return None
        options.append(OptionSpec(key, texts))
    return tuple(options)


PEER_REQUIRED = ("key", "audience", "group_size", "schedule")
PEER_OPTIONAL = ("mix_units", "same_language", "avoid_manager", "follow_up_after")


def _read_peer_round(state: _State, node: yaml.Node) -> PeerRoundSpec | None:
    reader = state.reader
    fields = reader.fields(node, "a peer round", required=PEER_REQUIRED, optional=PEER_OPTIONAL)
    if fields is None:
        return None
    key = _claim_key(state, fields, "peer round")
    audience = _required(fields, "audience", lambda n: _read_audience(state, n))
    size = _required(fields, "group_size", lambda n: _read_group_size(reader, n))
    schedule = _required(fields, "schedule", lambda n: _read_schedule(state, n))
    mix_units = _optional(fields, "mix_units", lambda n: reader.boolean(n, "mix_units"), True)
    same_language = _optional(
        fields, "same_language", lambda n: reader.boolean(n, "same_language"), False
    )
    avoid_manager = _optional(
        fields, "avoid_manager", lambda n: reader.boolean(n, "avoid_manager"), True
    )
    follow_up = _optional(
        fields,
        "follow_up_after",
        lambda n: _whole(reader, n, "follow_up_after", 1440, "days"),
        DEFAULT_FOLLOW_UP_DAYS,
    )
    if (
        key is None
        or audience is None
        or size is None
        or schedule is None
        or mix_units is None
        or same_language is None
        or avoid_manager is None
        or follow_up is None
    ):
        return None
    return PeerRoundSpec(
        key=key,
        audience=audience,
        group_size=size,
        schedule=schedule,
        mix_units=mix_units,
        same_language=same_language,
        avoid_manager=avoid_manager,
        follow_up_days=follow_up,
    )


def _read_group_size(reader: _Reader, node: yaml.Node) -> int | None:
    value = reader.scalar(node, "group_size")
    if value is None:
        return None
    if not value.isdigit() or not MIN_GROUP_SIZE <= int(value) <= MAX_GROUP_SIZE:
        reader.fail(
            node,
            f"group_size {value!r} is not a group size; expected 2 (pairs), 3 (trios) or "
            "4 to 6 (circles); when people do not divide evenly, some groups get one more",
        )
        return None
    return int(value)


# --- references ------------------------------------------------------------------------------


def _check_references(state: _State) -> tuple[Problem, ...]:
    """Report unknown prompts, cohorts and groups; return the names left unchecked."""
    reader, known = state.reader, state.known
    for key, node in state.references.prompts:
        if key not in known.reflections and key not in state.inline_prompts:
            reader.fail(
                node,
                f'unknown prompt "{key}": not in the prompt bank and not written inline in this '
                f"file{_hint(key, [*known.reflections, *state.inline_prompts])}",
            )
    unchecked: list[Problem] = []
    for kind, references, existing in (
        ("cohort", state.references.cohorts, known.cohorts),
        ("group", state.references.groups, known.groups),
    ):
        defined = state.names.seen.get(kind, {})
        for name, node in references:
            if name in defined:
                continue
            if existing is None:
                unchecked.append(
                    Problem(reader.where(node), f"{kind} {name!r} is not defined in this file")
                )
            elif name not in existing:
                reader.fail(
                    node,
                    f'unknown {kind} "{name}": not under {kind}s: in this file and not in the '
                    f"database{_hint(name, [*defined, *existing])}",
                )
    return tuple(unchecked)
