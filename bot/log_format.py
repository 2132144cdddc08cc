"""Structured log lines (key=value), so operators can grep and ship them.

Never pass answer text to a logger: records carry ids, kinds and statuses only.
"""

from __future__ import annotations

import logging

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """Format a record as `time level logger message key=value …`."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record with its extra fields."""
        base = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if not extras:
            return base
        return base + " " + " ".join(f"{key}={value!r}" for key, value in sorted(extras.items()))


def configure_logging(level: str) -> None:
    """Send key=value lines to stderr at `level`."""
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
