"""The anonymity notice on the card says exactly what docs/privacy.md guarantees."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.compose_pulse import ItemView as CardItem
from bot.core.compose_pulse import PulseView, anonymity_notice, pulse_message
from bot.core.vocabulary import PulseItemKind
from bot.i18n import gettext_for

DOCS = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"


@pytest.mark.parametrize("locale", ["en", "nb", "nn"])
def test_the_card_quotes_the_guarantee_of_the_docs(locale: str) -> None:
    tr = gettext_for(locale)
    notice = anonymity_notice(tr, 5)
    assert f"> {notice}\n" in DOCS.read_text(encoding="utf-8")
    view = PulseView(
        delivery_id=1,
        locale=locale,
        title="Puls",
        items=(CardItem(0, PulseItemKind.LIKERT, "Energi?"),),
        current=0,
        min_responses=5,
    )
    assert notice in pulse_message(tr, view).context
    # The old promise, which did not hold, is gone from the card in every language.
    assert not any("navnet ditt lagres ikke" in line for line in pulse_message(tr, view).context)
