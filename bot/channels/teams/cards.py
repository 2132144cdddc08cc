"""Render an OutMessage as an Adaptive Card (a plain dict), with every button signed.

Buttons and the answer form are `Action.Submit`s whose data carries the signed button
under "tk"; Teams posts that data back as `activity.value`, merged with the card's inputs.
"""

from __future__ import annotations

from typing import Any

from bot.core import button_codec
from bot.core.messages import Button, OutMessage, TextRequest

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.4"  # the newest version every Teams client (desktop, web, mobile) renders
TOKEN = "tk"  # noqa: S105 - key of the signed button in Action.Submit data, not a secret
KIND = "kind"  # "button" or "submit": which router table the click goes to
ANSWER_INPUT = "answer"
VISIBILITY_INPUT = "visibility"
STYLES = {"primary": "positive", "danger": "destructive"}

Card = dict[str, Any]


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def submit_action(secret: str, button: Button) -> dict[str, Any]:
    """Return the Action.Submit for one button."""
    action: dict[str, Any] = {
        "type": "Action.Submit",
        "title": button.label,
        "data": {TOKEN: button_codec.encode(secret, button.action, button.value), KIND: "button"},
    }
    if button.style in STYLES:
        action["style"] = STYLES[button.style]
    return action


def ask_elements(secret: str, ask: TextRequest) -> list[dict[str, Any]]:
    """Return the answer input, the visibility choice and the submit button of a TextRequest."""
    elements: list[dict[str, Any]] = [
        {
            "type": "Input.Text",
            "id": ANSWER_INPUT,
            "label": ask.label,
            "isMultiline": True,
            "maxLength": ask.max_length,
            "value": ask.initial_text,
        }
    ]
    if ask.visibilities:
        elements.append(
            {
                "type": "Input.ChoiceSet",
                "id": VISIBILITY_INPUT,
                "style": "expanded",
                "isMultiSelect": False,
                "value": ask.default_visibility or ask.visibilities[0][0],
                "choices": [{"title": label, "value": value} for value, label in ask.visibilities],
            }
        )
    data = {TOKEN: button_codec.encode(secret, ask.action, ask.value), KIND: "submit"}
    submit = {"type": "Action.Submit", "title": ask.submit_label, "style": "positive", "data": data}
    elements.append({"type": "ActionSet", "actions": [submit]})
    return elements


def adaptive_card(secret: str, message: OutMessage) -> Card:
    """Return the Adaptive Card for a message: title, text, notes, button rows, answer form."""
    body: list[dict[str, Any]] = []
    if message.title:
        body.append(_text(message.title, weight="Bolder", size="Medium"))
    body.append(_text(message.text))
    body.extend(_text(note, isSubtle=True, size="Small") for note in message.context)
    for row in message.rows:
        body.append({"type": "ActionSet", "actions": [submit_action(secret, b) for b in row]})
    if message.ask is not None:
        body.extend(ask_elements(secret, message.ask))
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "fallbackText": fallback_text(message),
        "msteams": {"width": "Full"},
        "body": body,
    }


def fallback_text(message: OutMessage) -> str:
    """Return the plain text shown where a card cannot be (notifications, old clients)."""
    return message.as_plain_text()


def needs_card(message: OutMessage) -> bool:
    """Tell whether a message needs a card, or reads as well as plain text."""
    return bool(message.rows or message.ask or message.title or message.context)
