"""The commands a leader types, in bokmål, nynorsk and English, and how to know each reply.

Shared by the channel tests: each must show that every command works in every language.
"""

from __future__ import annotations

from bot.i18n import gettext_for

# (command, {locale: what the leader types}); `stop` last: it asks before unlinking.
TYPED = [
    ("help", {"nb": "hjelp", "nn": "hjelp", "en": "help"}),
    ("pause", {"nb": "pause", "nn": "pause", "en": "pause"}),
    ("resume", {"nb": "fortsett", "nn": "hald fram", "en": "resume"}),
    ("language", {"nb": "språk", "nn": "språk", "en": "language"}),
    ("mine", {"nb": "mine svar", "nn": "svara mine", "en": "my answers"}),
    ("dashboard", {"nb": "dashboard", "nn": "dashboard", "en": "dashboard"}),
    ("stop", {"nb": "stopp", "nn": "stopp", "en": "stop"}),
]
LOCALES = ("nb", "nn", "en")

_REPLIES = {
    "help": "Tenkepause sends you short reflection questions and pulse surveys.",
    "pause": "Paused. You will get no questions until after {date}.",
    "resume": "Welcome back! Questions will come again.",
    "language": "Choose one of: nb (bokmål), nn (nynorsk), en (English).",
    "mine": "You have no saved reflections yet.",
    "dashboard": "Your link to the coach dashboard: {link}",
    "stop": "Do you want to unlink this chat account from Tenkepause? Your saved reflections "
    "are kept. To take a break instead, write “pause”.",
}
MENU = "I am not waiting for an answer from you right now, so I did not save what you wrote."
EXPIRED = "The question you were answering has waited too long, so I did not save what you wrote."


def reply_of(command: str, locale: str) -> str:
    """Return the start of the reply to `command` in `locale` (up to any placeholder)."""
    return gettext_for(locale).gettext(_REPLIES[command]).split("{")[0]


def say(msgid: str, locale: str) -> str:
    """Return a message in `locale`, up to its first placeholder."""
    return gettext_for(locale).gettext(msgid).split("{")[0]
