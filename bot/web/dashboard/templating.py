"""Jinja2 templates with gettext, one environment per language, and language choice."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.i18n import FALLBACK, LOCALES, gettext_for

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Browser language tags that mean one of ours; "no" is Norwegian, written as bokmål.
ALIASES = {"nb": "nb", "no": "nb", "nn": "nn", "en": "en"}


def choose_locale(accept_language: str | None) -> str:
    """Return the best of our languages for an Accept-Language header (bokmål if none fit)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ALIASES and quality > 0:
            ranked.append((-quality, position, ALIASES[primary]))
    return min(ranked)[2] if ranked else FALLBACK


@lru_cache(maxsize=len(LOCALES))
def environment(locale: str) -> Environment:
    """Return the template environment for one language."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(gettext_for(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(template: str, locale: str, context: dict[str, Any]) -> str:
    """Render a template in a language."""
    return environment(locale).get_template(template).render(locale=locale, **context)
