"""Maintain the gettext catalogs: extract, update, fill translations, compile, check.

    python tools/catalog.py update             # extract strings, merge into every .po
    python tools/catalog.py fill FILE.json     # update, then set translations from FILE
    python tools/catalog.py compile            # .po -> .mo
    python tools/catalog.py check              # exit 1 and list what a catalog lacks

FILE.json maps an English msgid to {"nb": "...", "nn": "..."}; English copies the msgid
unless given. Catalog writes take a file lock, so several people (or helpers) can fill
their own strings at once without clobbering each other.
"""

from __future__ import annotations

import fcntl
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "bot" / "locale"
DOMAIN = "tenkepause"
LOCALES = ("nb", "nn", "en")
LOCK = LOCALE_DIR / ".catalog.lock"
METHOD_MAP = [
    ("bot/**.py", "python"),
    ("scheduler/**.py", "python"),
    ("bot/web/templates/**.html", "jinja2"),
    ("bot/channels/webchat/templates/**.html", "jinja2"),
]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


@contextmanager
def locked() -> Iterator[None]:
    """Hold the catalog lock."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def extract() -> Catalog:
    """Collect every marked string in the source tree."""
    template = Catalog(project="tenkepause", domain=DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), METHOD_MAP, keywords=KEYWORDS
    ):
        if not str(filename).startswith(("bot", "scheduler")):
            continue
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def po_path(locale: str) -> Path:
    """Return where a locale's catalog lives."""
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(locale: str) -> Catalog:
    """Read a locale's catalog, or start an empty one."""
    path = po_path(locale)
    if not path.exists():
        return Catalog(locale=locale, project="tenkepause", domain=DOMAIN)
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def write(locale: str, catalog: Catalog) -> None:
    """Write a locale's catalog, sorted, without obsolete entries."""
    path = po_path(locale)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(
            handle,
            catalog,
            sort_output=True,
            omit_header=False,
            ignore_obsolete=True,
            include_previous=False,
            width=100,
        )


def update() -> None:
    """Merge the extracted strings into every locale's catalog."""
    template = extract()
    for locale in LOCALES:
        catalog = read(locale)
        catalog.update(template, no_fuzzy_matching=True)
        write(locale, catalog)


def _key(message_id: object) -> str:
    return message_id[0] if isinstance(message_id, tuple) else str(message_id)


def fill(source: Path) -> None:
    """Update the catalogs, then set the translations in `source`."""
    wanted: dict[str, dict[str, str]] = json.loads(source.read_text(encoding="utf-8"))
    with locked():
        update()
        for locale in LOCALES:
            catalog = read(locale)
            for message in catalog:
                if not message.id:
                    continue
                given = wanted.get(_key(message.id), {})
                if locale in given:
                    message.string = given[locale]
                elif locale == "en" and not message.string:
                    message.string = message.id
                message.flags.discard("fuzzy")
            write(locale, catalog)


def missing() -> dict[str, list[str]]:
    """Return, per locale, the extracted strings that have no translation."""
    template = extract()
    gaps: dict[str, list[str]] = {}
    for locale in LOCALES:
        catalog = read(locale)
        lacking = []
        for message in template:
            if not message.id:
                continue
            found = catalog.get(message.id, context=message.context)
            text = found.string if found else None
            if not text or (isinstance(text, tuple) and not all(text)):
                lacking.append(_key(message.id))
        if lacking:
            gaps[locale] = lacking
    return gaps


def compile_all() -> None:
    """Write a .mo beside every .po."""
    for locale in LOCALES:
        path = po_path(locale)
        if not path.exists():
            continue
        buffer = BytesIO()
        write_mo(buffer, read(locale))
        path.with_suffix(".mo").write_bytes(buffer.getvalue())


def main(argv: list[str]) -> int:
    """Run one subcommand."""
    if not argv:
        print(__doc__)
        return 2
    command = argv[0]
    if command == "update":
        with locked():
            update()
    elif command == "fill" and len(argv) == 2:
        fill(Path(argv[1]))
    elif command == "compile":
        compile_all()
    elif command == "check":
        gaps = missing()
        for locale, ids in gaps.items():
            for message_id in ids:
                print(f"{po_path(locale).relative_to(ROOT)}: no translation for {message_id!r}")
        return 1 if gaps else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
