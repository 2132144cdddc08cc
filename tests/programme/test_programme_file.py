"""Reading a programme file: every problem carries file:line:column and says what was expected."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from textwrap import dedent

import pytest

from bot.core.problems import InvalidInput
from bot.core.programme_file import KnownNames, ProgrammeSpec, parse_programme
from bot.prompts.bank import load_bank

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "programme.yaml"

THREE_ERRORS = """\
cohorts:
  - name: kull-1
campaigns:
  - key: refleksjon
    title: Ukentlig refleksjon
    audience:
      cohorts: [kull-1, kull-9]
    schedule:
      weekdays: [mon]
      time: "25:00"
      start: 2027-01-04
    prompts:
      - listening-01
      - listening-99
"""


def known(cohorts: set[str] | None = None, groups: set[str] | None = None) -> KnownNames:
    bank = load_bank()
    return KnownNames(
        reflections=frozenset(bank.reflections),
        pulse_items=frozenset(bank.pulse_items),
        cohorts=None if cohorts is None else frozenset(cohorts),
        groups=None if groups is None else frozenset(groups),
    )


def problems(text: str, names: KnownNames | None = None) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_programme(dedent(text), filename="programme.yaml", known=names or known(set(), set()))
    return [str(problem) for problem in caught.value.problems]


def parse(text: str, names: KnownNames | None = None) -> ProgrammeSpec:
    return parse_programme(
        dedent(text), filename="programme.yaml", known=names or known(set(), set())
    )


def minimal(extra: str = "", schedule: str = 'time: "08:30"') -> str:
    return f"""\
cohorts:
  - name: kull-1
campaigns:
  - key: refleksjon
    audience:
      cohorts: [kull-1]
    schedule:
      weekdays: [mon]
      {schedule}
      start: 2027-01-04
    prompts:
      - listening-01
{extra}"""


def test_bad_time_unknown_prompt_and_unknown_cohort_give_exactly_three_located_errors() -> None:
    found = problems(THREE_ERRORS)
    assert found == [
        'programme.yaml:7:25: unknown cohort "kull-9": not under cohorts: in this file and '
        'not in the database; did you mean "kull-1"?',
        'programme.yaml:10:13: time "25:00" is not a valid HH:MM time; expected 00:00 to '
        '23:59, e.g. "08:30"',
        'programme.yaml:14:9: unknown prompt "listening-99": not in the prompt bank and not '
        'written inline in this file; did you mean "listening-09"?',
    ]


def test_a_yaml_syntax_error_names_its_line_and_column() -> None:
    found = problems("cohorts:\n  - name: kull-1\n    title: [Kull 1\ncampaigns: []\n")
    assert len(found) == 1
    assert found[0].startswith("programme.yaml:4:")
    assert "not valid YAML" in found[0]


def test_the_example_programme_is_valid_and_maps_onto_the_spec() -> None:
    spec = parse_programme(
        EXAMPLE.read_text(encoding="utf-8"), filename=str(EXAMPLE), known=known()
    )
    assert [c.name for c in spec.cohorts] == ["kull-1", "kull-2"]
    assert len(spec.groups) == 4
    assert spec.unchecked == ()
    first = spec.campaigns[0]
    assert first.schedule.weekdays == ("mon",)
    assert first.schedule.local_time == time(8, 30)
    assert first.reminder_after_minutes == 24 * 60
    assert first.max_lateness_minutes == 240
    three_sixty = next(c for c in spec.campaigns if c.key == "fase-3-360-evaluering")
    assert three_sixty.default_visibility == "private"
    assert all(key in spec.inline_prompts for key in three_sixty.prompts)
    assert "skremmende" in spec.inline_prompts[three_sixty.prompts[0]].text["nb"]
    (pulse,) = spec.pulses
    assert pulse.anonymous and pulse.min_responses == 5 and pulse.schedule.every_weeks == 2
    assert [item.key for item in pulse.items] == [
        "energy",
        "workload",
        "psych-safety",
        "recommend",
        "one-word",
    ]
    (trio,) = spec.peer_rounds
    assert (trio.group_size, trio.mix_units, trio.avoid_manager) == (3, True, True)
    assert trio.follow_up_days == 7


def test_every_problem_is_collected_not_just_the_first() -> None:
    found = problems(
        """\
        cohorts:
          - name: kull-1
            colour: blue
        pulses:
          - key: puls
            title: {nb: Puls, en: Pulse}
            audience: {cohorts: [kull-1]}
            min_responses: 2
            open_for: 3 dager
            schedule: {weekdays: [mon, funday], time: "08:30", start: 2027-02-30}
            items: [energy, mood]
        peer_rounds:
          - key: trio
            audience: {cohorts: [kull-1]}
            group_size: 7
            schedule: {weekdays: [tue], time: "09:00", start: 2027-01-05}
            follow_up_after: 36h
        """
    )
    assert [p.split(": ", 1)[0] for p in found] == [
        "programme.yaml:3:5",
        "programme.yaml:8:20",
        "programme.yaml:9:15",
        "programme.yaml:10:32",
        "programme.yaml:10:63",
        "programme.yaml:11:21",
        "programme.yaml:15:17",
        "programme.yaml:17:22",
    ]
    assert "unknown field 'colour'" in found[0]
    assert "min_responses 2 is too low" in found[1] and "3 or more" in found[1]
    assert "'3 dager' is not a duration" in found[2]
    assert "weekday 'funday'" in found[3]
    assert "'2027-02-30' is not a valid date; expected YYYY-MM-DD" in found[4]
    assert 'unknown pulse item "mood"' in found[5]
    assert "group_size '7'" in found[6]
    assert "whole number of days" in found[7]


def test_unquoted_time_and_norwegian_weekdays_are_read_from_the_source_text() -> None:
    # YAML 1.1 would read 8:30 as the integer 510; the file means half past eight.
    spec = parse(minimal(schedule="time: 8:30").replace("[mon]", "[mandag, ons]"))
    assert spec.campaigns[0].schedule.local_time == time(8, 30)
    assert spec.campaigns[0].schedule.weekdays == ("mon", "wed")
    assert spec.campaigns[0].schedule.start == date(2027, 1, 4)


def test_missing_required_fields_point_at_the_mapping() -> None:
    found = problems(
        """\
        campaigns:
          - key: refleksjon
            prompts: [listening-01]
        """
    )
    assert found == [
        "programme.yaml:2:5: a campaign lacks the required fields 'audience', 'schedule'"
    ]


def test_duplicate_keys_name_the_line_of_the_first() -> None:
    found = problems(minimal() + minimal().split("campaigns:\n", 1)[1])
    assert found == ["programme.yaml:13:10: campaign 'refleksjon' is already defined on line 4"]


def test_inline_prompts_need_nb_and_en_and_may_not_reuse_a_bank_key() -> None:
    found = problems(
        minimal().replace(
            "      - listening-01\n",
            "      - key: listening-02\n        nb: Hei\n        en: Hi\n"
            "      - key: egen\n        nb: Hei\n",
        )
    )
    assert len(found) == 2
    assert found[0].startswith("programme.yaml:12:14: prompt key 'listening-02' belongs to")
    assert found[1] == "programme.yaml:15:9: an inline prompt lacks the required field 'en'"


def test_an_inline_prompt_may_be_reused_by_key_elsewhere_in_the_file() -> None:
    text = minimal().replace(
        "      - listening-01\n",
        "      - mitt-eget\n      - key: mitt-eget\n        nb: Hei\n"
        '        en: Hi\n        follow_up: {nb: "Og så?", en: "And then?"}\n',
    )
    spec = parse(text)
    assert spec.campaigns[0].prompts == ("mitt-eget", "mitt-eget")
    assert spec.inline_prompts["mitt-eget"].follow_up == {"nb": "Og så?", "en": "And then?"}


def test_choice_items_need_options_and_other_kinds_take_none() -> None:
    found = problems(
        """\
        pulses:
          - key: puls
            title: {nb: Puls, en: Pulse}
            audience: {groups: [g1]}
            schedule: {weekdays: thu, time: "13:00", start: 2027-01-07}
            items:
              - {key: valg, kind: single, nb: Velg, en: Choose}
              - key: tall
                kind: likert
                nb: Tall
                en: Number
                options: [{key: a, nb: A, en: A}]
        groups:
          - {name: g1, cohort: kull-1}
        cohorts:
          - {name: kull-1}
        """
    )
    assert len(found) == 2
    assert found[0].startswith("programme.yaml:7:9: a single item needs at least two options")
    assert found[1].startswith("programme.yaml:12:18: a likert item takes no options")


def test_names_the_database_knows_are_accepted_and_unknown_ones_named() -> None:
    text = THREE_ERRORS.replace('"25:00"', '"07:45"').replace("listening-99", "listening-02")
    assert parse(text, known(cohorts={"kull-9"}, groups=set())).campaigns[0].audience.cohorts == (
        "kull-1",
        "kull-9",
    )
    assert problems(text, known(cohorts={"kull-2"}, groups=set()))[0].startswith(
        'programme.yaml:7:25: unknown cohort "kull-9"'
    )


def test_without_a_database_undefined_names_are_left_unchecked_and_listed() -> None:
    text = THREE_ERRORS.replace('"25:00"', '"07:45"').replace("listening-99", "listening-02")
    spec = parse(text, known())
    assert [str(note) for note in spec.unchecked] == [
        "programme.yaml:7:25: cohort 'kull-9' is not defined in this file"
    ]


def test_an_empty_or_non_mapping_file_says_what_was_expected() -> None:
    assert problems("")[0].startswith("programme.yaml: the file is empty; expected 'title'")
    assert problems("- kull-1\n") == [
        "programme.yaml:1:1: the programme file must be a mapping of fields (a list found)"
    ]


def test_the_short_example_in_the_docs_is_valid() -> None:
    docs = (EXAMPLE.parents[1] / "docs" / "programme.md").read_text(encoding="utf-8")
    block = docs.split("## A short example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    spec = parse_programme(block, filename="programme.md", known=known())
    assert [c.key for c in spec.campaigns] == ["lytte-og-forsta"]
    assert spec.campaigns[0].prompts == ("listening-01", "egen-refleksjon")
    assert spec.pulses[0].schedule.every_weeks == 2
    assert spec.peer_rounds[0].group_size == 3
