"""Render OutMessages as Block Kit: DM messages, the answer modal and the App Home."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.core import button_codec
from bot.core.messages import Button, OutMessage, TextRequest
from bot.i18n import gettext_for

Block = dict[str, Any]

# Action and callback ids bolt routes on; button ids carry their position for uniqueness.
BUTTON_PREFIX = "tk:b"
ANSWER_ACTION = "tk:answer"
ANSWER_MODAL = "tk:answer_modal"
ANSWER_BLOCK, ANSWER_INPUT = "answer", "text"
VISIBILITY_BLOCK, VISIBILITY_INPUT = "visibility", "choice"
# The App Home asks for short text inline: an input (Enter saves) and a Save button.
HOME_ASK_BLOCK_PREFIX = "tk:ha:"  # + the signed action and value
HOME_ASK_INPUT = "tk:ha_input"
HOME_ASK_SAVE = "tk:ha_save"
SINGLE_LINE_CHARS = 150

# Slack's limits (https://api.slack.com/reference/block-kit).
SECTION_CHARS = 3000
HEADER_CHARS = 150
BUTTON_LABEL_CHARS = 75
BUTTON_VALUE_CHARS = 2000
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
VIEW_TITLE_CHARS = 24
INPUT_MAX_CHARS = 3000
TEXT_CHARS = 40000


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit), "emoji": True}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sections(text: str) -> list[Block]:
    """Split long text into sections at line breaks, each within Slack's limit."""
    blocks: list[Block] = []
    rest = text
    while rest:
        cut = len(rest) if len(rest) <= SECTION_CHARS else rest.rfind("\n", 0, SECTION_CHARS)
        if cut <= 0:
            cut = min(len(rest), SECTION_CHARS)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": rest[:cut]}})
        rest = rest[cut:].lstrip("\n")
    return blocks


def _button(secret: str, button: Button, action_id: str) -> Block:
    element: Block = {
        "type": "button",
        "action_id": action_id,
        "text": _plain(button.label, BUTTON_LABEL_CHARS),
        "value": button_codec.encode(secret, button.action, button.value),
    }
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    return element


@dataclass(frozen=True, slots=True)
class AskSpec:
    """What the Answer button carries so a click can open the modal without a lookup.

    Only `data` (the signed action and value) is trusted; the rest is display.
    """

    data: str
    locale: str
    label: str
    submit_label: str
    initial_text: str = ""
    visibilities: tuple[tuple[str, str], ...] = ()
    default_visibility: str | None = None
    max_length: int = INPUT_MAX_CHARS
    title: str = ""

    def to_value(self) -> str:
        """Return the button value, dropping the initial text if it would not fit."""
        fields = {
            "d": self.data,
            "l": self.locale,
            "q": self.label,
            "s": self.submit_label,
            "v": [list(pair) for pair in self.visibilities],
            "dv": self.default_visibility,
            "m": self.max_length,
            "t": self.title,
            "i": self.initial_text,
        }
        value = json.dumps(fields, ensure_ascii=False)
        if len(value) > BUTTON_VALUE_CHARS:
            value = json.dumps({**fields, "i": ""}, ensure_ascii=False)
        return value

    @classmethod
    def from_value(cls, value: str) -> AskSpec:
        """Parse a button value; raise ValueError if it is not one of ours."""
        try:
            fields = json.loads(value)
            return cls(
                data=str(fields["d"]),
                locale=str(fields.get("l") or "nb"),
                label=str(fields.get("q") or ""),
                submit_label=str(fields.get("s") or "OK"),
                initial_text=str(fields.get("i") or ""),
                visibilities=tuple((str(v), str(label)) for v, label in fields.get("v") or ()),
                default_visibility=fields.get("dv"),
                max_length=int(fields.get("m") or INPUT_MAX_CHARS),
                title=str(fields.get("t") or ""),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError("not an answer button value") from error


def ask_spec(secret: str, message: OutMessage, ask: TextRequest) -> AskSpec:
    """Return the modal description for a message's text request."""
    return AskSpec(
        data=button_codec.encode(secret, ask.action, ask.value),
        locale=message.locale,
        label=ask.label,
        submit_label=ask.submit_label,
        initial_text=ask.initial_text,
        visibilities=ask.visibilities,
        default_visibility=ask.default_visibility,
        max_length=min(ask.max_length, INPUT_MAX_CHARS),
        title=message.title or "",
    )


def message_blocks(secret: str, message: OutMessage, *, home: bool = False) -> list[Block]:
    """Return the Block Kit blocks of a message: header, text, notes, buttons.

    In the App Home a short text request without a visibility choice is an inline input
    with a Save button; elsewhere it is the Answer button that opens the modal.
    """
    blocks: list[Block] = []
    if message.title:
        blocks.append({"type": "header", "text": _plain(message.title, HEADER_CHARS)})
    blocks.extend(_sections(message.text))
    if message.context:
        notes = [{"type": "mrkdwn", "text": note} for note in message.context if note]
        blocks.append({"type": "context", "elements": notes[:CONTEXT_ELEMENTS]})
    position = 0
    for row in message.rows:
        elements = []
        for button in row[:ACTIONS_ELEMENTS]:
            elements.append(_button(secret, button, f"{BUTTON_PREFIX}{position}"))
            position += 1
        if elements:
            blocks.append({"type": "actions", "elements": elements})
    if message.ask is not None and home and not message.ask.visibilities:
        blocks.extend(home_ask_blocks(secret, message.ask))
    elif message.ask is not None:
        blocks.append(_answer_actions(secret, message, message.ask))
    return blocks


def home_ask_blocks(secret: str, ask: TextRequest) -> list[Block]:
    """Return an inline input for `ask` and its Save button (App Home only)."""
    data = button_codec.encode(secret, ask.action, ask.value)
    multiline = ask.max_length > SINGLE_LINE_CHARS
    element: Block = {
        "type": "plain_text_input",
        "action_id": HOME_ASK_INPUT,
        "multiline": multiline,
        "max_length": min(ask.max_length, INPUT_MAX_CHARS),
    }
    if ask.initial_text:
        element["initial_value"] = ask.initial_text[:INPUT_MAX_CHARS]
    field: Block = {
        "type": "input",
        "block_id": HOME_ASK_BLOCK_PREFIX + data,
        "label": _plain(ask.label, 2000),
        "element": element,
    }
    if not multiline:
        element["dispatch_action_config"] = {"trigger_actions_on": ["on_enter_pressed"]}
        field["dispatch_action"] = True
    save = {
        "type": "button",
        "action_id": HOME_ASK_SAVE,
        "text": _plain(ask.submit_label, BUTTON_LABEL_CHARS),
        "value": data,
    }
    return [field, {"type": "actions", "elements": [save]}]


def _answer_actions(secret: str, message: OutMessage, ask: TextRequest) -> Block:
    _ = gettext_for(message.locale).gettext
    button = {
        "type": "button",
        "action_id": ANSWER_ACTION,
        "style": "primary",
        "text": _plain(_("Answer"), BUTTON_LABEL_CHARS),
        "value": ask_spec(secret, message, ask).to_value(),
    }
    return {"type": "actions", "block_id": "tk:ask", "elements": [button]}


def fallback_text(message: OutMessage) -> str:
    """Return the plain text Slack shows in notifications and where blocks cannot render."""
    return _clip(message.as_plain_text(), TEXT_CHARS)


def answer_modal(spec: AskSpec, metadata: dict[str, Any]) -> dict[str, Any]:
    """Return the modal with a multi-line input and, if offered, the visibility choice."""
    _ = gettext_for(spec.locale).gettext
    text_input: Block = {
        "type": "plain_text_input",
        "action_id": ANSWER_INPUT,
        "multiline": True,
        "max_length": min(spec.max_length, INPUT_MAX_CHARS),
    }
    if spec.initial_text:
        text_input["initial_value"] = spec.initial_text[:INPUT_MAX_CHARS]
    blocks: list[Block] = [
        {
            "type": "input",
            "block_id": ANSWER_BLOCK,
            "label": _plain(spec.label or _("Your answer"), 2000),
            "element": text_input,
        }
    ]
    if spec.visibilities:
        options = [
            {"text": _plain(label, 75), "value": value} for value, label in spec.visibilities
        ]
        choice: Block = {"type": "radio_buttons", "action_id": VISIBILITY_INPUT, "options": options}
        default = next((o for o in options if o["value"] == spec.default_visibility), options[0])
        choice["initial_option"] = default
        blocks.append(
            {
                "type": "input",
                "block_id": VISIBILITY_BLOCK,
                "label": _plain(_("Who can read it?"), 2000),
                "element": choice,
            }
        )
    return {
        "type": "modal",
        "callback_id": ANSWER_MODAL,
        "title": _plain(spec.title or _("Your answer"), VIEW_TITLE_CHARS),
        "submit": _plain(spec.submit_label, VIEW_TITLE_CHARS),
        "close": _plain(_("Cancel"), VIEW_TITLE_CHARS),
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def home_view(secret: str, messages: list[OutMessage]) -> dict[str, Any]:
    """Return an App Home view showing the given messages one after another."""
    blocks: list[Block] = []
    for message in messages:
        if blocks:
            blocks.append({"type": "divider"})
        blocks.extend(message_blocks(secret, message, home=True))
    return {"type": "home", "blocks": blocks[:100]}
