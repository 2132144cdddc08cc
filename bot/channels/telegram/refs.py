"""Telegram message references: ``"<chat_id>:<message_id>"``."""

from __future__ import annotations


def message_ref(chat_id: int | str, message_id: int) -> str:
    """Return the reference we store for a message in a chat."""
    return f"{chat_id}:{message_id}"


def parse_ref(ref: str) -> tuple[int, int]:
    """Return (chat_id, message_id) from a reference; raise ValueError if it is not ours."""
    chat, separator, message = ref.rpartition(":")
    if not separator:
        raise ValueError(f"not a Telegram message reference: {ref!r}")
    return int(chat), int(message)
