"""The Channel port on Telegram: send and edit messages through PTB's Bot."""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

from telegram import Bot, ForceReply
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.channels.port import Address, PermanentFailure, RateLimited, TemporaryFailure
from bot.channels.telegram.keyboards import render
from bot.channels.telegram.refs import message_ref, parse_ref
from bot.core.messages import OutMessage

log = logging.getLogger(__name__)

PLATFORM = "telegram"
# Bad requests that mean the recipient is gone for good, not that our request was wrong.
_UNREACHABLE = ("chat not found", "user not found", "peer_id_invalid", "group chat was upgraded")


def retry_seconds(error: RetryAfter) -> float:
    """Return how long Telegram asked us to wait, whichever type this PTB version uses."""
    with warnings.catch_warnings():  # PTB 22 warns that the int becomes a timedelta
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@asynccontextmanager
async def platform_errors() -> AsyncIterator[None]:
    """Turn PTB errors into the port's RateLimited, PermanentFailure and TemporaryFailure."""
    try:
        yield
    except RetryAfter as error:
        raise RateLimited(retry_seconds(error), "telegram flood control") from error
    except Forbidden as error:
        raise PermanentFailure(error.message) from error
    except BadRequest as error:
        if any(reason in error.message.lower() for reason in _UNREACHABLE):
            raise PermanentFailure(error.message) from error
        raise
    except NetworkError as error:  # includes TimedOut; BadRequest is caught above
        raise TemporaryFailure(str(error)) from error


def chat_id_of(address: Address) -> int:
    """Return the chat id from an identity or group-chat address."""
    try:
        return int(address["chat_id"])
    except (KeyError, TypeError, ValueError):
        raise PermanentFailure(f"address has no Telegram chat_id: {dict(address)!r}") from None


class TelegramChannel:
    """Send OutMessages as Telegram messages; refs are ``"<chat_id>:<message_id>"``."""

    platform = PLATFORM

    def __init__(self, bot: Bot, secret: str) -> None:
        self.bot = bot
        self.secret = secret

    async def send(self, address: Address, message: OutMessage) -> str:
        """Send `message` to the chat in `address` and return its reference."""
        chat_id = chat_id_of(address)
        text, markup = render(message, self.secret)
        async with platform_errors():
            sent = await self.bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
        return message_ref(chat_id, sent.message_id)

    async def update(self, message_ref: str, message: OutMessage) -> None:
        """Replace the text and buttons of a message we sent."""
        chat_id, message_id = parse_ref(message_ref)
        text, markup = render(message, self.secret)
        if isinstance(markup, ForceReply):  # an edit can only carry an inline keyboard
            markup = None
        try:
            async with platform_errors():
                await self.bot.edit_message_text(
                    chat_id=chat_id, message_id=message_id, text=text, reply_markup=markup
                )
        except TelegramError as error:
            # Telegram refuses an edit that changes nothing; the message already says it.
            if "message is not modified" not in error.message.lower():
                raise

    async def open_group(self, addresses: Sequence[Address]) -> Address | None:
        """Return None: Telegram bots cannot create group chats, so intros go to each member."""
        return None
