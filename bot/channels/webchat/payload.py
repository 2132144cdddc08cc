"""Translate between OutMessage and the JSON the chat page renders."""

from __future__ import annotations

from typing import Any

from bot.core import button_codec
from bot.core.messages import OutMessage


def to_payload(message: OutMessage, secret: str) -> dict[str, Any]:
    """Render a message as JSON with signed button and form data."""
    body: dict[str, Any] = {
        "title": message.title,
        "text": message.text,
        "context": list(message.context),
        "tag": message.tag,
        "rows": [
            [
                {
                    "label": button.label,
                    "style": button.style,
                    "data": button_codec.encode(secret, button.action, button.value),
                }
                for button in row
            ]
            for row in message.rows
        ],
    }
    if message.ask is not None:
        ask = message.ask
        body["ask"] = {
            "label": ask.label,
            "submit": ask.submit_label,
            "initial": ask.initial_text,
            "max": ask.max_length,
            "data": button_codec.encode(secret, ask.action, ask.value),
            "visibilities": [{"value": v, "label": label} for v, label in ask.visibilities],
            "default": ask.default_visibility,
        }
    return body


def person_text(text: str) -> dict[str, Any]:
    """Render what the person wrote, for the conversation history."""
    return {"text": text, "tag": "person", "rows": [], "context": []}
