"""Every user-facing string has a translation in every catalog."""

from __future__ import annotations

from bot.i18n import gettext_for
from tools import catalog


def test_no_catalog_lacks_a_string() -> None:
    gaps = catalog.missing()
    lacking = [f"{locale}: {message!r}" for locale, ids in gaps.items() for message in ids]
    assert lacking == [], "run tools/catalog.py fill with translations for:\n" + "\n".join(lacking)


def test_catalogs_translate_into_each_language() -> None:
    assert gettext_for("nb").gettext("Only me") == "Kun meg"
    assert gettext_for("nn").gettext("Only me") == "Berre meg"
    assert gettext_for("en").gettext("Only me") == "Only me"
    assert gettext_for("se").gettext("Only me") == "Kun meg"  # unknown locale -> bokmål
