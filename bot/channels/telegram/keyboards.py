"""Render an OutMessage as Telegram text and reply markup."""

from __future__ import annotations

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit

from bot.core import button_codec
from bot.core.messages import OutMessage
from bot.i18n import gettext_for

ReplyMarkup = InlineKeyboardMarkup | ForceReply


def render_text(message: OutMessage) -> str:
    """Return the message as plain text: title, text, notes and, if asked, how to answer."""
    _ = gettext_for(message.locale).gettext
    parts = [message.title, message.text, *message.context]
    if message.ask is not None:
        parts.append(f"{message.ask.label}\n{_('Reply to this message to answer.')}")
    text = "\n\n".join(part for part in parts if part)
    limit = MessageLimit.MAX_TEXT_LENGTH
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_keyboard(message: OutMessage, secret: str) -> InlineKeyboardMarkup | None:
    """Return the buttons as an inline keyboard with signed callback data, or None."""
    if not message.rows:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    button.label,
                    callback_data=button_codec.encode(secret, button.action, button.value),
                )
                for button in row
            ]
            for row in message.rows
            if row
        ]
    )


def render(message: OutMessage, secret: str) -> tuple[str, ReplyMarkup | None]:
    """Return text and markup; a text request without buttons asks the client to reply."""
    keyboard = render_keyboard(message, secret)
    if keyboard is None and message.ask is not None:
        placeholder = message.ask.label[:64]
        return render_text(message), ForceReply(input_field_placeholder=placeholder or None)
    return render_text(message), keyboard
