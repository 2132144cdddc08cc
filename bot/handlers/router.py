"""The one inbound dispatcher every channel calls.

It deduplicates the platform's event id in the database, finds who is talking,
checks what they may do, and hands the act to the handler registered for it, all in
one transaction: a handler that fails leaves no trace, so a platform retry can try again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.core.conversation import Policy, canonical, parse_command
from bot.core.messages import TAMPERED, Interaction, InteractionKind
from bot.handlers.context import Context, Handler, Reply
from bot.services.events import first_time
from bot.services.identities import find_identity

log = logging.getLogger(__name__)


# A busy or briefly lost database gets the interaction again, this often, this far apart.
HANDLE_ATTEMPTS = 4
HANDLE_RETRY_PAUSE = 0.5


@dataclass(frozen=True)
class Route:
    """A handler and who may reach it."""

    handler: Handler
    open: bool = False  # reachable by people we do not know yet
    pending: bool = False  # reachable before consent is given
    staff: bool = False  # coaches and admins only


@dataclass
class Router:
    """Route interactions to handlers; see `bot.handlers.registry` for the table."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    secret: str
    commands: dict[str, Route] = field(default_factory=dict)
    buttons: dict[str, Route] = field(default_factory=dict)
    submits: dict[str, Route] = field(default_factory=dict)
    text: Route | None = None
    edit: Route | None = None
    policy: Policy = field(default_factory=Policy)

    def command(self, name: str, handler: Handler, **access: bool) -> None:
        """Register a command (e.g. `pause`, or `prompt` with staff=True)."""
        self.commands[name] = Route(handler, **access)

    def button(self, action: str, handler: Handler, **access: bool) -> None:
        """Register a button action."""
        self.buttons[action] = Route(handler, **access)

    def submit(self, action: str, handler: Handler, **access: bool) -> None:
        """Register a form submission action."""
        self.submits[action] = Route(handler, **access)

    async def handle(self, interaction: Interaction) -> list[Reply]:
        """Handle one interaction; a duplicate event id returns no replies.

        A database that is busy or briefly gone (SQLite's lock wait ran out, a dropped
        PostgreSQL connection) gets the whole interaction again: its transaction rolled
        back, so nothing of it was kept, and the platform was already told it arrived.
        """
        for attempt in range(1, HANDLE_ATTEMPTS + 1):
            try:
                return await self._handle_once(interaction)
            except OperationalError as error:
                if attempt == HANDLE_ATTEMPTS:
                    raise
                log.warning(
                    "database busy; handling the event again",
                    extra={"error": type(error.orig).__name__, "attempt": attempt},
                )
                await asyncio.sleep(HANDLE_RETRY_PAUSE * attempt)
        raise AssertionError("unreachable")

    async def _handle_once(self, interaction: Interaction) -> list[Reply]:
        after_commit: list[Callable[[], Awaitable[object]]] = []
        async with self.sessions() as session, session.begin():
            if interaction.event_id and not await first_time(
                session, interaction.platform, interaction.event_id
            ):
                log.info("duplicate event ignored", extra={"platform": interaction.platform})
                return []
            replies = await self._dispatch(session, interaction, after_commit)
        for work in after_commit:
            await work()
        return replies

    def _route(self, interaction: Interaction) -> Route | None:
        if interaction.kind is InteractionKind.COMMAND:
            return self.commands.get(canonical(interaction.command)) or self.commands.get("help")
        if interaction.kind is InteractionKind.BUTTON:
            return self.buttons.get(interaction.action)
        if interaction.kind is InteractionKind.SUBMIT:
            return self.submits.get(interaction.action)
        if interaction.kind is InteractionKind.EDIT:
            return self.edit
        return self.text

    async def _dispatch(
        self,
        session: AsyncSession,
        interaction: Interaction,
        after_commit: list[Callable[[], Awaitable[object]]],
    ) -> list[Reply]:
        identity = await find_identity(session, interaction.platform, interaction.external_user)
        person = identity.person if identity is not None else None
        typed = _typed_command(interaction)
        if typed is not None and interaction.is_group_chat:
            # Never an answer; but commands act on one's own account, so not in a group.
            if not interaction.reply_to:
                return []
            context = Context(session, interaction, self.clock.now(), person, identity)
            text = context._("Commands work in your private chat with me. Nothing was saved.")
            return context.say(text, tag="group_command", ephemeral=True)
        interaction = typed or interaction
        context = Context(
            session,
            interaction,
            self.clock.now(),
            person,
            identity,
            secret=self.secret,
            policy=self.policy,
            after_commit=after_commit,
        )
        route = self._route(interaction)
        if interaction.action == TAMPERED and interaction.kind is InteractionKind.BUTTON:
            return context.say(context._("This button is no longer valid."), ephemeral=True)
        if route is None:
            return context.say(context._("Sorry, I did not understand that."), ephemeral=True)
        refusal = self._refusal(context, route)
        if refusal is not None:
            return refusal
        return await route.handler(context)

    def _refusal(self, context: Context, route: Route) -> list[Reply] | None:
        _ = context._
        if route.open:
            return None
        if context.identity is None:
            return context.say(
                _(
                    "Hello! You are not part of a leadership programme in Tenkepause yet. "
                    "If you think you should be, please contact your programme coordinator."
                ),
                tag="unknown_user",
            )
        if context.identity.status == "pending" and not route.pending:
            return context.say(_("Please accept the consent message first."), tag="consent")
        if route.staff and context.me.role not in ("coach", "admin"):
            return context.say(
                _("That command is for coaches and programme administrators."),
                tag="refused",
                ephemeral=True,
            )
        return None


def _typed_command(interaction: Interaction) -> Interaction | None:
    """Return a typed text that is a command as that command, before any answer routing."""
    if interaction.kind is not InteractionKind.TEXT:
        return None
    command = parse_command(interaction.text)
    if command is None:
        return None
    return replace(
        interaction, kind=InteractionKind.COMMAND, command=command.name, args=command.args
    )
