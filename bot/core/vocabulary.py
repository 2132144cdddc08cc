"""The domain's fixed vocabularies (the database checks the same values)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a person does in the programme."""

    PARTICIPANT = "participant"
    COACH = "coach"
    ADMIN = "admin"


class Locale(StrEnum):
    """Languages a leader can choose."""

    NB = "nb"
    NN = "nn"
    EN = "en"


class Platform(StrEnum):
    """Chat platforms Tenkepause speaks."""

    SLACK = "slack"
    TELEGRAM = "telegram"
    TEAMS = "teams"
    WEBCHAT = "webchat"


class Visibility(StrEnum):
    """Who may read a reflection answer besides its author."""

    PRIVATE = "private"
    COACH = "coach"
    GROUP = "group"


class DeliveryStatus(StrEnum):
    """Lifecycle of an outbox row."""

    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    EXPIRED = "expired"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class PulseItemKind(StrEnum):
    """Kinds of pulse question."""

    LIKERT = "likert"
    SCALE = "scale"
    SINGLE = "single"
    MULTI = "multi"
    TEXT = "text"


DEFAULT_LOCALE = Locale.NB
