"""Loading a bank folder: the locale fallback and errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.problems import InvalidInput
from bot.prompts import load_bank, localized

THEMES_NB = """\
themes:
  listening: "Lytte og forstå"
  engaging: "Engasjere og skape"
  getting-things-done: "Få ting gjort"
  wellbeing: "Ha det bra selv, sammen med andre"
"""
REFLECTIONS_NB = (
    THEMES_NB
    + """\
prompts:
  listening-01:
    theme: listening
    text: "Beskriv en situasjon der du lyttet. Hva gjør du neste gang?"
    follow_up: "Hva ville det kostet å gjøre det annerledes?"
  engaging-01:
    theme: engaging
    text: "Beskriv en gang du involverte andre. Hva gjør du neste gang?"
    follow_up: "Hva kunne du gjort i stedet?"
"""
)
REFLECTIONS_EN = """\
prompts:
  listening-01:
    text: "Describe a situation where you listened. What will you do next time?"
    follow_up: "What would it cost to do it differently?"
  engaging-01:
    text: "Describe a time you involved others. What will you do next time?"
    follow_up: "What could you have done instead?"
"""
PULSE_NB = """\
items:
  energy:
    kind: likert
    text: "Jeg har hatt god energi."
  focus-area:
    kind: single
    text: "Hva vil du jobbe med?"
    options:
      listening: "Lytte"
      engaging: "Engasjere"
"""
PULSE_EN = """\
items:
  energy:
    text: "I have had good energy."
  focus-area:
    text: "What will you work on?"
    options:
      listening: "Listening"
      engaging: "Engaging"
"""


def write_bank(folder: Path, **overrides: str) -> Path:
    """Write a small valid bank into `folder`, with some files replaced by `overrides`."""
    files = {
        "reflections_nb": REFLECTIONS_NB,
        "reflections_en": REFLECTIONS_EN,
        "pulse_items_nb": PULSE_NB,
        "pulse_items_en": PULSE_EN,
    } | overrides
    for name, text in files.items():
        stem, locale = name.rsplit("_", 1)
        (folder / f"{stem}.{locale}.yaml").write_text(text, encoding="utf-8")
    return folder


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        load_bank(folder)
    return [str(problem) for problem in caught.value.problems]


def test_localized_prefers_the_locale_then_bokmal_then_english_then_any() -> None:
    texts = {"nb": "Hei", "en": "Hello", "nn": "Hei på deg"}

    assert localized(texts, "nn") == "Hei på deg"
    assert localized({"nb": "Hei", "en": "Hello"}, "nn") == "Hei"
    assert localized({"en": "Hello", "se": "Bures"}, "nn") == "Hello"
    assert localized({"se": "Bures"}, "nb") == "Bures"
    assert localized({"nn": "", "nb": "Hei"}, "nn") == "Hei"
    assert localized({}, "nb") == ""


def test_a_small_folder_loads_with_nynorsk_falling_back(tmp_path: Path) -> None:
    bank = load_bank(write_bank(tmp_path))

    prompt = bank.reflections["listening-01"]
    assert prompt.theme == "listening"
    assert set(prompt.text) == {"nb", "en"}
    assert localized(prompt.text, "nn").startswith("Beskriv en situasjon")
    assert [option.key for option in bank.pulse_items["focus-area"].options] == [
        "listening",
        "engaging",
    ]
    assert load_bank(tmp_path) is not load_bank(tmp_path)


def test_a_prompt_missing_in_english_names_the_file_and_line(tmp_path: Path) -> None:
    english = REFLECTIONS_EN.split("  engaging-01:")[0]
    folder = write_bank(tmp_path, reflections_en=english)

    assert problems_of(folder) == [
        f"{folder / 'reflections.en.yaml'}:1:1: missing prompt 'engaging-01' "
        "(defined at reflections.nb.yaml:11)"
    ]


def test_a_prompt_only_in_english_is_reported_where_it_stands(tmp_path: Path) -> None:
    english = REFLECTIONS_EN + '  wellbeing-01:\n    text: "Stray"\n'
    folder = write_bank(tmp_path, reflections_en=english)

    assert problems_of(folder) == [
        f"{folder / 'reflections.en.yaml'}:8:3: prompt 'wellbeing-01' is not in the bokmål file"
    ]


def test_every_problem_is_reported_with_its_line_and_column(tmp_path: Path) -> None:
    # Faults in the bokmål prompts (no follow-up where English has one, unknown theme,
    # empty text) and in the pulse items (unknown kind, an option English still has).
    norwegian = (
        REFLECTIONS_NB.replace("theme: engaging", "theme: courage")
        .replace('    follow_up: "Hva ville det kostet å gjøre det annerledes?"\n', "")
        .replace('text: "Beskriv en gang du involverte andre. Hva gjør du neste gang?"', 'text: ""')
    )
    pulse = PULSE_NB.replace("kind: likert", "kind: stars").replace(
        '      engaging: "Engasjere"\n', ""
    )
    folder = write_bank(tmp_path, reflections_nb=norwegian, pulse_items_nb=pulse)
    reflections = folder / "reflections.nb.yaml"
    items = folder / "pulse_items.nb.yaml"
    english_items = folder / "pulse_items.en.yaml"

    assert problems_of(folder) == [
        f"{reflections}:7:3: prompt 'listening-01' has no follow_up",
        f"{reflections}:11:12: unknown theme 'courage'; expected one of "
        "('listening', 'engaging', 'getting-things-done', 'wellbeing')",
        f"{reflections}:12:11: the text of prompt 'engaging-01' is empty",
        f"{items}:3:11: unknown kind 'stars'; expected one of "
        "('likert', 'scale', 'single', 'multi', 'text')",
        f"{english_items}:8:7: option 'engaging' of 'focus-area' is not in bokmål",
        f"{items}:5:3: single item 'focus-area' needs at least two options",
    ]


def test_a_follow_up_missing_in_english_is_reported(tmp_path: Path) -> None:
    english = REFLECTIONS_EN.replace('    follow_up: "What could you have done instead?"\n', "")
    folder = write_bank(tmp_path, reflections_en=english)

    assert problems_of(folder) == [
        f"{folder / 'reflections.en.yaml'}:5:3: prompt 'engaging-01' has no follow_up"
    ]


def test_broken_yaml_and_missing_files_are_named(tmp_path: Path) -> None:
    folder = write_bank(tmp_path, reflections_nb=THEMES_NB + "prompts:\n  listening-01: [\n")
    (folder / "pulse_items.en.yaml").unlink()

    problems = problems_of(folder)

    assert problems[0].startswith(f"{folder / 'reflections.nb.yaml'}:8:1: not valid YAML")
    assert problems[1] == f"{folder / 'pulse_items.en.yaml'}: required bank file is missing"
    assert len(problems) == 2


def test_a_choice_item_without_options_and_an_unknown_field_are_reported(tmp_path: Path) -> None:
    pulse = PULSE_NB.replace("kind: likert", "kind: multi").replace(
        '    text: "Jeg har hatt god energi."',
        '    text: "Jeg har hatt god energi."\n    colour: red',
    )
    folder = write_bank(tmp_path, pulse_items_nb=pulse)
    items = folder / "pulse_items.nb.yaml"

    assert problems_of(folder) == [
        f"{items}:5:5: unknown field 'colour' in pulse item 'energy'",
        f"{items}:2:3: multi item 'energy' needs at least two options",
    ]
