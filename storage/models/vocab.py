"""Allowed values of the string-coded columns, checked by the database itself.

`bot/core` owns the matching enums; a test keeps both in step.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint

ROLES = ("participant", "coach", "admin")
LOCALES = ("nb", "nn", "en")
PLATFORMS = ("slack", "telegram", "teams", "webchat")
IDENTITY_STATUSES = ("pending", "active", "unreachable")
SESSION_KINDS = ("dashboard", "webchat")
VISIBILITIES = ("private", "coach", "group")
DELIVERY_KINDS = (
    "prompt",
    "reminder",
    "follow_up",
    "group_prompt",
    "pulse",
    "pulse_reminder",
    "pulse_closing",
    "pulse_refresh",
    "intro",
    "meeting_check",
    "notice",
    "digest",
    "comment",
)
DELIVERY_STATUSES = ("pending", "claimed", "sent", "failed", "expired", "skipped", "cancelled")
ANSWER_STAGES = ("main", "follow_up")
PULSE_ITEM_KINDS = ("likert", "scale", "single", "multi", "text")
ROUND_STATUSES = ("scheduled", "open", "closed")
MEETING_STATES = ("yes", "no", "planned")


def one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    """Return a CHECK constraint that keeps `column` within `values`."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name)
