"""The inbound side: an AgentApplication whose handlers only note the activity and return.

The SDK answers Teams' HTTP call only after the handler finishes, and Teams gives up after
about 15 seconds, so every handler schedules the real work (roster lookup, the router,
replies) as a task and returns at once. Replies then go out as proactive messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes
from microsoft_agents.hosting.core import (
    AgentApplication,
    ApplicationOptions,
    ConnectorClientBase,
    MemoryStorage,
    TurnContext,
    TurnState,
)
from microsoft_agents.hosting.core.app.proactive import Conversation, ProactiveOptions
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.port import SendError
from bot.channels.teams import PLATFORM, linking
from bot.channels.teams.channel import TeamsChannel, address_for, call, is_personal, run_turn
from bot.channels.teams.inbound import (
    Speaker,
    card_data,
    click_interaction,
    is_group,
    link_code,
    link_interaction,
    speaker,
    text_interaction,
)
from bot.channels.teams.refs import base_conversation
from bot.clock import Clock
from bot.core.messages import Interaction, OutMessage
from bot.handlers.context import Reply
from bot.services.identities import find_identity

log = logging.getLogger(__name__)

Handle = Callable[[Interaction], Awaitable[list[Reply]]]


def build_application(connections: Any) -> AgentApplication[TurnState]:
    """Return an AgentApplication with in-memory turn state and proactive support."""
    storage = MemoryStorage()
    options = ApplicationOptions(
        storage=storage,
        adapter=None,
        start_typing_timer=False,
        remove_recipient_mention=True,
        proactive=ProactiveOptions(storage=storage),
    )
    return AgentApplication[TurnState](options, connection_manager=connections)


class TeamsInbound:
    """Register the routes and run the work they schedule."""

    def __init__(
        self,
        app: AgentApplication[TurnState],
        channel: TeamsChannel,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        secret: str,
        handle: Handle,
        commands: frozenset[str],
    ) -> None:
        self.app, self.channel = app, channel
        self.sessions, self.clock, self.secret = sessions, clock, secret
        self.handle, self.commands = handle, commands
        self._tasks: set[asyncio.Task[None]] = set()
        self._register()

    def _register(self) -> None:
        # Card submits are messages too; their route must come before the catch-all.
        self.app.add_route(_is_card_click, self.on_card)
        self.app.activity(ActivityTypes.conversation_update)(self.on_installed)
        self.app.activity(ActivityTypes.installation_update)(self.on_installed)
        self.app.message()(self.on_message)  # the catch-all, registered last

    # -- background work --------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` after the HTTP answer; keep a reference so it is not collected."""
        task = asyncio.create_task(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception as error:  # a failed turn must not take the process down
            log.exception("teams: background work failed", extra={"error": type(error).__name__})

    async def drain(self) -> None:
        """Wait for every scheduled piece of work (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- routes -----------------------------------------------------------------------------

    async def on_card(self, context: TurnContext, _state: TurnState) -> None:
        """A card button or form: decode the signed data, then handle it after the reply."""
        activity = context.activity
        data = card_data(activity)
        assert data is not None
        interaction = click_interaction(self.secret, activity, data)
        if interaction is not None:
            self._schedule(context, interaction)

    async def on_message(self, context: TurnContext, _state: TurnState) -> None:
        """A typed message: `link CODE` in a group, a command, or an answer."""
        activity = context.activity
        who = speaker(activity)
        if who is None:
            return
        conversation = Conversation.from_turn_context(context)
        self.channel.remember(conversation)
        code = link_code(activity)
        if code is not None:
            interaction = link_interaction(activity, code, self._chat_address(conversation))
        else:
            interaction = text_interaction(activity, self.commands)
        if interaction is not None:
            self._schedule(context, interaction)

    async def on_installed(self, context: TurnContext, _state: TurnState) -> None:
        """Store the 1:1 conversation of a user who installed the app or opened the chat."""
        activity = context.activity
        who = speaker(activity)
        if who is None or is_group(activity):
            return
        conversation = Conversation.from_turn_context(context)
        self.channel.remember(conversation)
        self.spawn(self._ensure_linked(conversation, activity, who))

    def _schedule(self, context: TurnContext, interaction: Interaction) -> None:
        conversation = Conversation.from_turn_context(context)
        self.channel.remember(conversation)
        who = speaker(context.activity)
        assert who is not None
        self.spawn(self._run(conversation, context.activity, who, interaction))

    # -- the work ---------------------------------------------------------------------------

    async def _run(
        self, conversation: Conversation, activity: Activity, who: Speaker, interaction: Interaction
    ) -> None:
        await self._ensure_linked(conversation, activity, who)
        replies = await self.handle(interaction)
        await self._deliver(conversation, interaction, replies)

    def _address(
        self, conversation: Conversation, activity: Activity, who: Speaker
    ) -> dict[str, Any]:
        address = address_for(conversation, activity.from_property)
        address["external_id"] = who.external_id
        if not is_personal(conversation):
            # A group chat is no place for this person's prompts; keep it only as the place
            # we met them, whose service URL and bot account open a 1:1 chat later.
            address["via"] = address.pop("conversation")
        return address

    async def _ensure_linked(
        self, conversation: Conversation, activity: Activity, who: Speaker
    ) -> None:
        address = self._address(conversation, activity, who)
        if await linking.known(self.sessions, who.external_id):
            await linking.refresh_address(self.sessions, who.external_id, address)
            return
        sender = activity.from_property
        email = linking.email_of(sender.model_extra or {}) if sender is not None else None
        if email is None:
            email = await self._member_email(conversation, who)
        await linking.link_user(self.sessions, who.external_id, email, address)

    async def _member_email(self, conversation: Conversation, who: Speaker) -> str | None:
        """Ask the connector for the member's email/UPN (Teams leaves it out of activities)."""
        found: list[str | None] = []
        reference = conversation.conversation_reference
        conversation_id = str(reference.conversation.id) if reference.conversation else ""

        async def lookup(context: TurnContext) -> None:
            client = context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
            assert client is not None
            member = await client.conversations.get_conversation_member(
                conversation_id, who.user_id
            )
            found.append(linking.email_of(member.model_extra or {}))

        continuation = reference.get_continuation_activity()
        try:
            claims = self.channel.identity(conversation)
            await call(lambda: run_turn(self.channel.adapter, claims, continuation, lookup))
        except SendError as error:
            log.warning("teams: member lookup failed", extra={"error": str(error)})
            return None
        return found[0] if found else None

    @staticmethod
    def _chat_address(conversation: Conversation) -> dict[str, Any]:
        """Return where group prompts for this chat go: new posts, not thread replies."""
        reference = conversation.conversation_reference.model_copy(deep=True)
        assert reference.conversation is not None
        reference.conversation.id = base_conversation(str(reference.conversation.id))
        reference.activity_id = None
        return {"conversation": Conversation(conversation.claims, reference).store_item_to_json()}

    async def _deliver(
        self, conversation: Conversation, interaction: Interaction, replies: list[Reply]
    ) -> None:
        for reply in replies:
            try:
                if reply.replace is not None:
                    await self.channel.update(reply.replace, reply.message)
                elif reply.ephemeral and interaction.is_group_chat:
                    await self._to_person(interaction.external_user, reply.message)
                else:
                    await self.channel.post(conversation, reply.message)
            except (SendError, ValueError) as error:
                log.warning("teams: reply not delivered", extra={"error": str(error)})

    async def _to_person(self, external_id: str, message: OutMessage) -> None:
        """Send a personal reply (e.g. "saved") to the person's 1:1 chat, not the group."""
        async with self.sessions() as session:
            identity = await find_identity(session, PLATFORM, external_id)
            address = dict(identity.address) if identity is not None else None
        if address:
            await self.channel.send(address, message)


def _is_card_click(context: TurnContext) -> bool:
    return (
        context.activity.type == ActivityTypes.message and card_data(context.activity) is not None
    )
