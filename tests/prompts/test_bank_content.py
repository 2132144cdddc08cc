"""The shipped prompt bank: counts, languages and how specific the questions are."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from bot.prompts import BankPrompt, load_bank

LOCALES = ("nb", "en", "nn")
THEMES = ("listening", "engaging", "getting-things-done", "wellbeing")

# A prompt must ask for one concrete situation and for what the leader will do next.
SITUATION = {
    "nb": r"situasjon|gang|konkret",
    "en": r"situation|time|concrete",
    "nn": r"situasjon|gong|konkret",
}
NEXT_STEP = {
    "nb": r"neste|videre|fremover",
    "en": r"next|from now on",
    "nn": r"neste|vidare|framover",
}
# A follow-up moves toward dialogic reflection: weighing alternatives and what they cost.
WEIGHING = {
    "nb": r"kost|krev|i stedet|annerledes|vunnet|tapt|gi slipp|alternativ|ville",
    "en": r"cost|demand|instead|differently|gained|lost|give up|alternative|would",
    "nn": r"kost|krev|i staden|annleis|vunne|tapt|gje slepp|alternativ|ville",
}
# Words that only bokmål spells this way; nynorsk uses eg, ikkje, kva, korleis, kven, ...
BOKMAL_ONLY = r"\b(jeg|ikke|hva|hvordan|hvem|hvorfor|medarbeidere|leder|uke|noe|selv|sammen)\b"
NYNORSK_MARKERS = r"\b(eg|ikkje|kva|korleis|kven|kvifor|medarbeidar\w*|leiar\w*|veke\w*|noko)\b"


def prompts() -> list[BankPrompt]:
    return list(load_bank().reflections.values())


def test_bank_has_at_least_forty_reflections_ten_per_theme() -> None:
    bank = load_bank()
    per_theme = Counter(prompt.theme for prompt in bank.reflections.values())

    assert len(bank.reflections) >= 40
    assert bank.themes == THEMES
    assert all(per_theme[theme] >= 10 for theme in THEMES), per_theme


def test_reflection_keys_are_numbered_within_their_theme() -> None:
    bank = load_bank()

    for theme in THEMES:
        for number in range(1, 11):
            key = f"{theme}-{number:02d}"
            assert bank.reflections[key].theme == theme
    for key, prompt in bank.reflections.items():
        assert prompt.key == key
        assert re.fullmatch(rf"{re.escape(prompt.theme)}-\d{{2}}", key), key


def test_every_theme_has_a_title_in_every_locale() -> None:
    titles = load_bank().theme_titles

    assert titles["listening"]["nb"] == "Lytte og forstå"
    assert titles["wellbeing"]["nn"] == "Ha det bra sjølv, saman med andre"
    for theme in THEMES:
        assert set(titles[theme]) == set(LOCALES)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_prompt_has_text_and_follow_up(locale: str) -> None:
    for prompt in prompts():
        assert prompt.text.get(locale), (prompt.key, locale)
        assert prompt.follow_up is not None, prompt.key
        assert prompt.follow_up.get(locale), (prompt.key, locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_prompts_ask_for_a_concrete_situation_and_a_next_step(locale: str) -> None:
    vague = [
        prompt.key
        for prompt in prompts()
        if len(prompt.text[locale]) < 90
        or not re.search(SITUATION[locale], prompt.text[locale], re.IGNORECASE)
        or not re.search(NEXT_STEP[locale], prompt.text[locale], re.IGNORECASE)
        or "?" not in prompt.text[locale]
    ]

    assert vague == []


@pytest.mark.parametrize("locale", LOCALES)
def test_follow_ups_ask_to_weigh_alternatives(locale: str) -> None:
    shallow = []
    for prompt in prompts():
        assert prompt.follow_up is not None
        follow_up = prompt.follow_up[locale]
        if len(follow_up) < 60 or not re.search(WEIGHING[locale], follow_up, re.IGNORECASE):
            shallow.append(prompt.key)

    assert shallow == []


def test_prompts_are_all_different() -> None:
    for locale in LOCALES:
        texts = [prompt.text[locale] for prompt in prompts()]
        assert len(set(texts)) == len(texts), locale


def test_nynorsk_is_written_in_nynorsk_not_copied_from_bokmal() -> None:
    for prompt in prompts():
        assert prompt.follow_up is not None
        for text in (prompt.text["nn"], prompt.follow_up["nn"]):
            assert not re.search(BOKMAL_ONLY, text, re.IGNORECASE), (prompt.key, text)
            assert re.search(NYNORSK_MARKERS, text, re.IGNORECASE), (prompt.key, text)
        assert prompt.text["nn"] != prompt.text["nb"]


def test_prompts_speak_to_municipal_leadership() -> None:
    text = " ".join(prompt.text["nb"] for prompt in prompts())

    for topic in ("innbygger", "vedtak", "360-evaluering", "sektor", "medarbeider"):
        assert topic in text, topic


def test_load_bank_reads_the_shipped_files_once() -> None:
    assert load_bank() is load_bank()
