"""Structured log lines (key=value), so operators can grep and ship them.

Never pass answer text to a logger: records carry ids, kinds and statuses only. Client
libraries log whole URLs, headers and bodies at INFO and DEBUG (the Telegram token sits in
every Bot API URL), so they are held at WARNING whatever the level, and every line passes
a redaction filter as a safety net.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

# Loggers of libraries that log request URLs, headers, bodies, updates or SQL parameters.
QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "hpack",
    "aiohttp",
    "urllib3",
    "slack_sdk",
    "slack_bolt",
    "telegram",
    "microsoft_agents",
    "msal",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "alembic",
    "apscheduler",
    "multipart",
)
REDACTED = "[redacted]"
# Secrets shorter than this are not searched for: they would blank out ordinary words.
MIN_SECRET_LENGTH = 8

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Telegram bot tokens, in Bot API URLs (…/bot123:AA…/sendMessage) or alone.
    (re.compile(r"\b(bot)?\d{5,}:[A-Za-z0-9_-]{20,}"), r"\1" + REDACTED),
    # Slack tokens: bot, user, app-level, refresh, configuration.
    (re.compile(r"\bx(?:ox[a-z]|app)-[A-Za-z0-9-]+"), REDACTED),
    # Authorization headers and their values, however they were printed.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (
        re.compile(
            r"(?i)(['\"]?(?:authorization|x-telegram-bot-api-secret-token)['\"]?[:=]\s*)"
            r"(['\"]?)(?!(?:bearer|basic)\s)[^'\"\s,}]+"
        ),
        r"\1\2" + REDACTED,
    ),
)


class Redactor:
    """Replace tokens, known secret values and authorization headers in a line of text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known = sorted(
            {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
        )
        self._known = re.compile("|".join(map(re.escape, known))) if known else None

    def __call__(self, text: str) -> str:
        """Return `text` with every secret it carries replaced."""
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class RedactingFilter(logging.Filter):
    """Rewrite each record's message, extras and traceback through a `Redactor`."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redact = redactor
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drop it."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must still be logged, and safely
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info:
            record.exc_text = self.redact(self._formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key in _STANDARD:
                continue
            text = value if isinstance(value, str) else repr(value)
            cleaned = self.redact(text)
            if cleaned != text:
                setattr(record, key, cleaned)
        return True


class KeyValueFormatter(logging.Formatter):
    """Format a record as `time level logger message key=value …`."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record with its extra fields."""
        base = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if not extras:
            return base
        return base + " " + " ".join(f"{key}={value!r}" for key, value in sorted(extras.items()))


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Send redacted key=value lines to stderr at `level`; client libraries at WARNING."""
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter(Redactor(secrets)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
