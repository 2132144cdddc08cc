"""The shipped pulse item bank: kinds, options and languages."""

from __future__ import annotations

import re

from bot.core.vocabulary import PulseItemKind
from bot.prompts import load_bank

LOCALES = ("nb", "en", "nn")
EXPECTED_KINDS = {
    "energy": "likert",
    "workload": "likert",
    "psych-safety": "likert",
    "support-from-manager": "likert",
    "peer-learning": "likert",
    "clarity": "likert",
    "inclusion": "likert",
    "decision-acceptance": "likert",
    "shared-ownership": "likert",
    "reflection-time": "likert",
    "recommend": "scale",
    "focus-area": "single",
    "support-needed": "multi",
    "one-word": "text",
}


def test_pulse_bank_has_the_agreed_items_and_every_kind() -> None:
    items = load_bank().pulse_items

    assert len(items) >= 12
    assert {key: items[key].kind for key in EXPECTED_KINDS} == EXPECTED_KINDS
    assert {item.kind for item in items.values()} == {kind.value for kind in PulseItemKind}


def test_every_pulse_item_is_written_in_every_locale() -> None:
    for item in load_bank().pulse_items.values():
        for locale in LOCALES:
            assert item.text.get(locale), (item.key, locale)
            for option in item.options:
                assert option.text.get(locale), (item.key, option.key, locale)


def test_likert_items_are_first_person_statements() -> None:
    likert = [item for item in load_bank().pulse_items.values() if item.kind == "likert"]

    assert len(likert) >= 10
    for item in likert:
        assert not item.text["nb"].endswith("?"), item.key
        assert item.text["nb"].endswith("."), item.key
        assert re.search(r"\b(jeg|min|mine|meg|medarbeiderne mine)\b", item.text["nb"], re.I)
        assert re.search(r"\b(I|[Mm]y|me)\b", item.text["en"]), item.key
        assert re.search(r"\b(eg|mi|mine|meg)\b", item.text["nn"], re.I), item.key
        assert item.options == ()


def test_recommend_is_an_enps_scale_from_zero_to_ten() -> None:
    recommend = load_bank().pulse_items["recommend"]

    assert "recommend the programme to another leader" in recommend.text["en"]
    for locale in LOCALES:
        assert "0" in recommend.text[locale] and "10" in recommend.text[locale]


def test_focus_area_offers_the_four_leadership_ideals() -> None:
    bank = load_bank()
    focus = bank.pulse_items["focus-area"]

    assert tuple(option.key for option in focus.options) == bank.themes
    for option in focus.options:
        assert option.text["nb"] == bank.theme_titles[option.key]["nb"]
        assert option.text["en"] == bank.theme_titles[option.key]["en"]


def test_support_needed_offers_four_or_five_choices() -> None:
    support = load_bank().pulse_items["support-needed"]

    assert 4 <= len(support.options) <= 5
    assert len({option.key for option in support.options}) == len(support.options)


def test_only_choice_items_have_options() -> None:
    for item in load_bank().pulse_items.values():
        has_options = bool(item.options)
        assert has_options == (item.kind in {"single", "multi"}), item.key
