"""What handlers say and hear, independent of any platform.

Handlers speak `OutMessage` and receive `Interaction`; each channel renders buttons
natively and falls back to numbered text where it must.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class Button:
    """A choice the recipient can tap; `action` and `value` come back in an Interaction."""

    label: str
    action: str
    value: str = ""
    style: str | None = None  # "primary" | "danger" | None


@dataclass(frozen=True, slots=True)
class TextRequest:
    """Ask for free text: a modal or card input where the platform has one, a reply otherwise.

    Submitting it comes back as an Interaction of kind SUBMIT (or TEXT for a reply) with
    this `action` and `value`, the typed text, and `fields["visibility"]` when the
    platform showed the `visibilities` choice.
    """

    label: str
    action: str
    value: str
    submit_label: str = "OK"
    initial_text: str = ""
    visibilities: tuple[tuple[str, str], ...] = ()  # (value, label) pairs
    default_visibility: str | None = None
    max_length: int = 3000


@dataclass(frozen=True, slots=True)
class OutMessage:
    """A message to one person or one group chat.

    `rows` are rows of buttons. `ask` asks for a free-text answer (a modal or input
    where the platform has one, a reply otherwise). `context` holds small notes
    shown under the text (e.g. "anonymous"). `tag` names what the message is, for
    tests and metrics, never for rendering.
    """

    text: str
    locale: str = "nb"
    rows: tuple[tuple[Button, ...], ...] = ()
    ask: TextRequest | None = None
    context: tuple[str, ...] = ()
    title: str | None = None
    tag: str = "notice"

    @property
    def buttons(self) -> tuple[Button, ...]:
        """Return all buttons, row by row."""
        return tuple(button for row in self.rows for button in row)

    def as_plain_text(self) -> str:
        """Render for a channel with no buttons: numbered choices after the text."""
        lines = [self.title, self.text] if self.title else [self.text]
        lines.extend(self.context)
        for number, button in enumerate(self.buttons, start=1):
            lines.append(f"{number}. {button.label}")
        return "\n".join(line for line in lines if line)


class InteractionKind(StrEnum):
    """What a person did."""

    TEXT = "text"  # a free-text message or reply
    BUTTON = "button"  # a tapped button
    SUBMIT = "submit"  # a submitted form (modal, card)
    COMMAND = "command"  # a slash or bot command
    EDIT = "edit"  # an edited earlier message


@dataclass(frozen=True, slots=True)
class Interaction:
    """One inbound act by a person on a platform, already verified and deduplicated.

    `reply_to` is the platform message reference the act responds to, if any.
    `event_id` is the platform's id for deduplication (Slack event_id or action id,
    Telegram update_id, Teams activity id). For BUTTON and SUBMIT, `action` and `value`
    are already decoded and verified by `bot.core.button_codec`; a tampered one arrives
    with action `TAMPERED`.
    """

    platform: str
    external_user: str
    kind: InteractionKind
    text: str = ""
    action: str = ""
    value: str = ""
    command: str = ""
    args: tuple[str, ...] = ()
    reply_to: str | None = None
    chat: str | None = None
    is_group_chat: bool = False
    event_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


TAMPERED = "tampered"
