"""Inbound Telegram updates: translate them to Interactions, route them, send the replies."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import Chat, MaybeInaccessibleMessage, Message, Update
from telegram.constants import CallbackQueryLimit
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.port import SendError
from bot.channels.telegram.channel import PLATFORM, TelegramChannel
from bot.channels.telegram.onboarding import CONSENT, Onboarding
from bot.channels.telegram.refs import message_ref
from bot.core import button_codec
from bot.core.messages import TAMPERED, Interaction, InteractionKind, OutMessage
from bot.handlers.group_link import CHAT_ADDRESS, NOT_LINKED_TEXT
from bot.handlers.router import Router
from bot.i18n import N_, gettext_for

log = logging.getLogger(__name__)

GROUP_TYPES = (Chat.GROUP, Chat.SUPERGROUP)
LINK = "link"  # `/link CODE` in a group chat links it to a peer group


def locale_of(language_code: str | None) -> str:
    """Map a Telegram language code to one of our locales (bokmål unless English or nynorsk)."""
    code = (language_code or "").lower()
    if code.startswith("nn"):
        return "nn"
    if code.startswith("en"):
        return "en"
    return "nb"


def _ref(message: Message | MaybeInaccessibleMessage | None) -> str | None:
    return message_ref(message.chat.id, message.message_id) if message is not None else None


def _command(text: str, bot_username: str | None) -> tuple[str, tuple[str, ...]] | None:
    """Return (command, args) of a '/command@bot args' text, or None if it is for another bot."""
    head, *args = text.split()
    name, _, addressee = head[1:].partition("@")
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return None
    return name.lower(), tuple(args)


def to_interaction(
    update: Update, secret: str, bot_username: str | None = None
) -> Interaction | None:
    """Translate an update into an Interaction; None for updates we do not act on."""
    query = update.callback_query
    if query is not None:
        return _button(update, secret)
    message = update.edited_message or update.message
    if message is None or message.text is None or message.from_user is None:
        return None
    common: dict[str, Any] = {
        "platform": PLATFORM,
        "external_user": str(message.from_user.id),
        "text": message.text,
        "reply_to": _ref(message.reply_to_message),
        "chat": str(message.chat.id),
        "is_group_chat": message.chat.type in GROUP_TYPES,
        "event_id": str(update.update_id),
        "fields": {
            "message_ref": _ref(message),
            "language_code": message.from_user.language_code,
        },
    }
    if update.edited_message is not None:
        return Interaction(kind=InteractionKind.EDIT, **common)
    if message.text.startswith("/"):
        command = _command(message.text, bot_username)
        if command is None:
            return None
        name, args = command
        if name == LINK:
            common["fields"].update(_link_fields(message.chat.id))
        return Interaction(kind=InteractionKind.COMMAND, command=name, args=args, **common)
    return Interaction(kind=InteractionKind.TEXT, **common)


def _link_fields(chat_id: int) -> dict[str, Any]:
    """Return what `/link CODE` needs beyond the chat id: where to post, how to get linked."""
    return {
        CHAT_ADDRESS: {"chat_id": chat_id},
        NOT_LINKED_TEXT: N_("Only a linked coach can link this chat. Open your invite link first."),
    }


def _button(update: Update, secret: str) -> Interaction:
    query = update.callback_query
    assert query is not None
    try:
        action, value = button_codec.decode(secret, query.data or "")
    except button_codec.TamperedButton:
        action, value = TAMPERED, ""
    chat = query.message.chat if query.message is not None else None
    return Interaction(
        platform=PLATFORM,
        external_user=str(query.from_user.id),
        kind=InteractionKind.BUTTON,
        action=action,
        value=value,
        reply_to=_ref(query.message),
        chat=str(chat.id) if chat is not None else None,
        is_group_chat=chat is not None and chat.type in GROUP_TYPES,
        event_id=str(update.update_id),
        fields={"language_code": query.from_user.language_code},
    )


def _can_be_toast(message: OutMessage) -> bool:
    """Tell whether a reply fits in a callback answer: short text, nothing to press."""
    return (
        not message.rows
        and message.ask is None
        and len(message.text) <= CallbackQueryLimit.ANSWER_CALLBACK_QUERY_TEXT_LENGTH
    )


@dataclass
class TelegramInbound:
    """The PTB callbacks: each translates, routes and answers one kind of update."""

    channel: TelegramChannel
    router: Callable[[], Router]
    onboarding: Onboarding
    secret: str

    def register(self, application: Application) -> None:  # type: ignore[type-arg]
        """Register every handler of the Telegram bot, in the order PTB should try them."""
        new_messages = filters.UpdateType.MESSAGE
        application.add_handler(CommandHandler("start", self.start, filters=new_messages))
        application.add_handler(CallbackQueryHandler(self.button))
        application.add_handler(MessageHandler(filters.TEXT, self.message))
        application.add_error_handler(self.error)

    def _interaction(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> Interaction | None:
        return to_interaction(update, self.secret, context.bot.username)

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Link a Telegram account with an invite code, or greet someone already linked."""
        message, interaction = update.message, self._interaction(update, context)
        if message is None or interaction is None or message.from_user is None:
            return
        if message.chat.type != Chat.PRIVATE or not interaction.args:
            await self.route(interaction)
            return
        reply = await self.onboarding.start(
            interaction.event_id or "",
            user_id=message.from_user.id,
            chat_id=message.chat.id,
            code=interaction.args[0],
            language_code=message.from_user.language_code,
        )
        if reply is not None:
            await self._send(message.chat.id, reply)

    async def message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Route a text message, a command or an edit."""
        interaction = self._interaction(update, context)
        if interaction is not None:
            await self.route(interaction)

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Route a tapped button and always answer the callback query."""
        query = update.callback_query
        interaction = self._interaction(update, context)
        if query is None or interaction is None:
            return
        toast: str | None = None
        try:
            if interaction.action == CONSENT:
                toast = await self.onboarding.consent(
                    interaction.event_id or "",
                    user_id=query.from_user.id,
                    value=interaction.value,
                    message_ref=interaction.reply_to,
                    channel=self.channel,
                )
            else:
                toast = await self.route(interaction, toast_allowed=True)
            if toast is None and interaction.action == TAMPERED:
                toast = self._tampered(query.from_user.language_code)
        finally:
            # Answer even when handling failed, or the client shows a spinner for long.
            await query.answer(text=toast)

    @staticmethod
    def _tampered(language_code: str | None) -> str:
        _ = gettext_for(locale_of(language_code)).gettext
        return _("This button is no longer valid. Nothing was changed.")

    async def route(self, interaction: Interaction, *, toast_allowed: bool = False) -> str | None:
        """Hand the interaction to the router and deliver its replies; return a toast text."""
        replies = await self.router().handle(interaction)
        toast: str | None = None
        chat_id = int(interaction.chat) if interaction.chat else int(interaction.external_user)
        for reply in replies:
            if reply.ephemeral and toast_allowed and toast is None and _can_be_toast(reply.message):
                toast = reply.message.text
            elif reply.replace:
                await self._replace(reply.replace, reply.message, chat_id)
            elif reply.ephemeral and interaction.is_group_chat:
                # Only the person should see it: say it in their private chat with the bot.
                await self._send(int(interaction.external_user), reply.message)
            else:
                await self._send(chat_id, reply.message)
        return toast

    async def _send(self, chat_id: int, message: OutMessage) -> None:
        try:
            await self.channel.send({"chat_id": chat_id}, message)
        except SendError as error:
            log.warning("reply not delivered", extra={"error": type(error).__name__})

    async def _replace(self, ref: str, message: OutMessage, chat_id: int) -> None:
        try:
            await self.channel.update(ref, message)
        except (SendError, TelegramError, ValueError) as error:
            log.info("edit failed; sending anew", extra={"error": type(error).__name__})
            await self._send(chat_id, message)

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log a failed update by type only: an exception's text could quote an answer."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error(
            "telegram update failed",
            extra={"update_id": update_id, "error": type(context.error).__name__},
        )
