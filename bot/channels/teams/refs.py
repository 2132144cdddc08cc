"""Teams message references: "conversationId|activityId", with channel threads folded in."""

from __future__ import annotations

THREAD_MARK = ";messageid="
SEPARATOR = "|"


def base_conversation(conversation_id: str) -> str:
    """Return a channel's conversation id without the thread part (other ids unchanged)."""
    return conversation_id.split(THREAD_MARK, 1)[0]


def thread_root(conversation_id: str) -> str | None:
    """Return the id of the post a channel thread hangs under, if the id names a thread."""
    _, mark, root = conversation_id.partition(THREAD_MARK)
    return root or None if mark else None


def make_ref(conversation_id: str, activity_id: str) -> str:
    """Return our reference for one message."""
    return f"{conversation_id}{SEPARATOR}{activity_id}"


def parse_ref(message_ref: str) -> tuple[str, str]:
    """Split a reference into conversation id and activity id."""
    conversation_id, separator, activity_id = message_ref.rpartition(SEPARATOR)
    if not separator or not conversation_id or not activity_id:
        raise ValueError(f"not a Teams message reference: {message_ref!r}")
    return conversation_id, activity_id
