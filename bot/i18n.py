"""Gettext catalogs (Babel-managed) per locale: bokmål first, then nynorsk and English.

Message ids are English. Mark strings with `_()` (or `N_()` where they must be
translated later) so that `make catalogs` extracts them.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "tenkepause"
LOCALES = ("nb", "nn", "en")
FALLBACK = "nb"


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet."""
    return message


def _load(locale: str) -> gettext.NullTranslations:
    folder = LOCALE_DIR / locale / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    if po.exists():
        # Compile in memory so a fresh checkout works before `make catalogs`.
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        buffer = BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return gettext.GNUTranslations(buffer)
    return gettext.NullTranslations()


@lru_cache(maxsize=8)
def translations(locale: str | None) -> gettext.NullTranslations:
    """Return the catalog for `locale`, falling back to bokmål for unknown ones."""
    return _load(locale if locale in LOCALES else FALLBACK)


def gettext_for(locale: str | None) -> gettext.NullTranslations:
    """Return a translations object; use `.gettext` as `_` and `.ngettext` for plurals."""
    return translations(locale)
