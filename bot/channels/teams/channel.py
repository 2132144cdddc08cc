"""The outbound Teams channel: proactive sends and updates through the Agents SDK adapter.

An address holds a stored `Conversation` (reference + the claims it was received with,
from `Conversation.store_item_to_json()`), and the Teams user id and tenant so a 1:1
conversation can be created for someone we have only met in a group chat.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiohttp
from microsoft_agents.activity import (
    Activity,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from microsoft_agents.hosting.core import (
    AgentApplication,
    ChannelServiceAdapter,
    ClaimsIdentity,
    MessageFactory,
    TurnContext,
)
from microsoft_agents.hosting.core.app.proactive import Conversation, CreateConversationOptions
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.port import Address, PermanentFailure, RateLimited, TemporaryFailure
from bot.channels.teams import CHANNEL_ID, PLATFORM
from bot.channels.teams.cards import CONTENT_TYPE, adaptive_card, fallback_text, needs_card
from bot.channels.teams.refs import make_ref, parse_ref
from bot.core.messages import OutMessage
from storage.models import Identity

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_RETRY_AFTER = 1.0
PERMANENT_STATUSES = frozenset({403, 404})
# Teams says this (with 403 or sometimes 400) when the app is not installed for the user.
NOT_INSTALLED = ("not installed", "notinstalled", "conversationblockedbyuser")
SUMMARY_LENGTH = 140


def error_detail(body: str) -> str:
    """Return the message of a Bot Connector error body ({"error": {"message": ...}})."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return body


def translate_error(error: aiohttp.ClientResponseError) -> Exception:
    """Map a Bot Connector HTTP error to RateLimited, PermanentFailure or TemporaryFailure."""
    status, detail = error.status, error_detail(str(error.message or ""))
    if status == 429:
        raw = error.headers.get("Retry-After") if error.headers is not None else None
        try:
            wait = float(raw) if raw is not None else DEFAULT_RETRY_AFTER
        except ValueError:
            wait = DEFAULT_RETRY_AFTER
        return RateLimited(wait, detail="teams 429")
    lowered = detail.lower().replace(" ", "")
    if status in PERMANENT_STATUSES or any(m.replace(" ", "") in lowered for m in NOT_INSTALLED):
        return PermanentFailure(f"teams {status}: {detail[:150]}")
    # 5xx and anything we cannot classify: retry with backoff, bounded by max attempts.
    return TemporaryFailure(f"teams HTTP {status}")


async def call(operation: Callable[[], Awaitable[T]]) -> T:
    """Run one connector operation, raising only the port's errors."""
    try:
        return await operation()
    except aiohttp.ClientResponseError as error:
        raise translate_error(error) from error
    except (TimeoutError, aiohttp.ClientError) as error:
        raise TemporaryFailure(f"teams unreachable: {type(error).__name__}") from error


async def run_turn(
    adapter: ChannelServiceAdapter,
    claims: ClaimsIdentity,
    continuation: Activity,
    work: Callable[[TurnContext], Awaitable[None]],
) -> None:
    """Run `work` in a proactive turn and raise what it raised.

    The adapter hands exceptions from a turn to its on_turn_error instead of raising them,
    so they are caught inside the turn and raised again here, as the SDK's Proactive does.
    """
    failure: list[BaseException] = []

    async def turn(context: TurnContext) -> None:
        try:
            await work(context)
        except Exception as error:
            failure.append(error)

    await adapter.continue_conversation_with_claims(claims, continuation, turn)
    if failure:
        raise failure[0]


def stored(conversation: Conversation) -> dict[str, Any]:
    """Return the JSON form of a conversation for an identity or group chat address."""
    return conversation.store_item_to_json()


def address_for(conversation: Conversation, user: ChannelAccount | None) -> dict[str, Any]:
    """Return an address: the stored conversation plus who to open a 1:1 chat with."""
    reference = conversation.conversation_reference
    address: dict[str, Any] = {"conversation": stored(conversation)}
    if user is not None and user.id:
        address["user_id"] = user.id
    if reference.conversation is not None and reference.conversation.tenant_id:
        address["tenant_id"] = reference.conversation.tenant_id
    return address


def is_personal(conversation: Conversation) -> bool:
    """Tell whether a stored conversation is a 1:1 chat with the bot."""
    account = conversation.conversation_reference.conversation
    return (
        account is not None
        and not account.is_group
        and account.conversation_type
        in (
            None,
            "personal",
        )
    )


class TeamsChannel:
    """Send, update and (not) open group chats on Teams."""

    platform = PLATFORM

    def __init__(
        self,
        app: AgentApplication[Any],
        adapter: ChannelServiceAdapter,
        *,
        secret: str,
        app_id: str,
        service_url: str,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self.app, self.adapter = app, adapter
        self.secret, self.app_id, self.service_url = secret, app_id, service_url
        self.sessions = sessions
        # Where each conversation lives and the claims it was reached with, for updates.
        self._known: dict[str, Conversation] = {}

    # -- rendering --------------------------------------------------------------------------

    def activity(self, message: OutMessage) -> Activity:
        """Return the message as an activity: an Adaptive Card, or plain text for a notice."""
        if not needs_card(message):
            text: Activity = MessageFactory.text(message.text)
            return text
        card = Attachment(content_type=CONTENT_TYPE, content=adaptive_card(self.secret, message))
        activity: Activity = MessageFactory.attachment(card)
        activity.summary = fallback_text(message)[:SUMMARY_LENGTH]
        return activity

    # -- conversations ----------------------------------------------------------------------

    def remember(self, conversation: Conversation) -> None:
        """Note where a conversation lives, so later updates reach the right service URL."""
        account = conversation.conversation_reference.conversation
        if account is not None and account.id:
            self._known[account.id] = conversation

    def identity(self, conversation: Conversation) -> ClaimsIdentity:
        """Return the claims to continue a conversation with (the bot's own when none stored)."""
        if conversation.claims:
            return Conversation.identity_from_claims(conversation.claims)
        if self.app_id:
            return self.adapter.create_claims_identity(self.app_id)
        return ClaimsIdentity()  # anonymous: no app id, as with a local emulator or tests

    def _by_id(self, conversation_id: str) -> Conversation:
        known = self._known.get(conversation_id)
        if known is not None:
            return known
        reference = ConversationReference(
            channel_id=CHANNEL_ID,
            service_url=self.service_url,
            conversation=ConversationAccount(id=conversation_id),
        )
        return Conversation({}, reference)

    async def _personal(self, address: Address) -> Conversation:
        """Return the 1:1 conversation of an address, creating it when only a group one is known."""
        data = address.get("conversation")
        conversation = Conversation.from_json_to_store_item(data) if data else None
        if conversation is not None and is_personal(conversation):
            return conversation
        user_id = address.get("user_id")
        if not user_id:
            raise PermanentFailure("teams address has neither a conversation nor a user")
        via = address.get("via")
        met = Conversation.from_json_to_store_item(via) if via else conversation
        created = await self._create(str(user_id), address, met)
        await self._store_personal(str(address.get("external_id") or user_id), created)
        return created

    async def _create(
        self, user_id: str, address: Address, met: Conversation | None
    ) -> Conversation:
        """Open a 1:1 chat with a user we met in a group chat or channel."""
        reference = met.conversation_reference if met is not None else None
        service_url = (reference.service_url if reference else None) or self.service_url
        tenant = address.get("tenant_id")
        values: dict[str, Any] = {"is_group": False, "members": [ChannelAccount(id=user_id)]}
        if reference is not None and reference.agent is not None:
            values["agent"] = reference.agent
        if tenant:
            values.update(tenant_id=tenant, channel_data={"tenant": {"id": tenant}})
        options = CreateConversationOptions(
            identity=self.identity(met) if met is not None else self.identity_for_new(),
            channel_id=CHANNEL_ID,
            parameters=ConversationParameters(**values),
            service_url=service_url,
        )
        # No handler: create the conversation, then send to it like to any stored one.
        return await call(lambda: self.app.proactive.create_conversation(self.adapter, options))

    def identity_for_new(self) -> ClaimsIdentity:
        """Return the claims to create a conversation with."""
        return self.adapter.create_claims_identity(self.app_id) if self.app_id else ClaimsIdentity()

    async def _store_personal(self, external_id: str, conversation: Conversation) -> None:
        """Keep a created 1:1 conversation on the identity so it is created only once."""
        async with self.sessions() as session, session.begin():
            identity = await session.scalar(
                select(Identity).where(
                    Identity.platform == PLATFORM, Identity.external_id == external_id
                )
            )
            if identity is not None:
                identity.address = {**identity.address, "conversation": stored(conversation)}

    # -- the port ---------------------------------------------------------------------------

    async def send(self, address: Address, message: OutMessage) -> str:
        """Send `message` to a person or linked chat and return "conversationId|activityId"."""
        if address.get("user_id") or not address.get("conversation"):
            conversation = await self._personal(address)
        else:
            conversation = Conversation.from_json_to_store_item(address["conversation"])
        return await self.post(conversation, message)

    async def post(self, conversation: Conversation, message: OutMessage) -> str:
        """Post a message into a known conversation and return its reference."""
        self.remember(conversation)
        activity = self.activity(message)
        continuation = conversation.conversation_reference.get_continuation_activity()
        # Without an id the SDK posts a new message instead of replying to the continuation.
        continuation.id = None
        sent: list[str] = []

        async def deliver(context: TurnContext) -> None:
            response = await context.send_activity(activity)
            sent.append(str(response.id) if response is not None and response.id else "")

        claims = self.identity(conversation)
        await call(lambda: run_turn(self.adapter, claims, continuation, deliver))
        account = conversation.conversation_reference.conversation
        assert account is not None
        return make_ref(str(account.id), sent[0] if sent else "")

    async def update(self, message_ref: str, message: OutMessage) -> None:
        """Replace a message we sent (update_activity)."""
        conversation_id, activity_id = parse_ref(message_ref)
        conversation = self._by_id(conversation_id)
        activity = self.activity(message)
        activity.id = activity_id
        continuation = conversation.conversation_reference.get_continuation_activity()
        continuation.id = None  # an update is no reply

        async def replace(context: TurnContext) -> None:
            await context.update_activity(activity)

        claims = self.identity(conversation)
        await call(lambda: run_turn(self.adapter, claims, continuation, replace))

    async def open_group(self, addresses: Sequence[Address]) -> Address | None:
        """Return None: a bot cannot start a Teams group chat (that takes Microsoft Graph)."""
        return None
