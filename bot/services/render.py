"""Render an outbox row into the message to send, in its recipient's language.

Each delivery kind has one renderer. Other modules add theirs with `renders(kind)`.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import compose
from bot.core.messages import OutMessage
from bot.i18n import gettext_for
from bot.services.prompt_views import prompt_view
from storage.models import Delivery, Person

KindRenderer = Callable[[AsyncSession, Delivery, str], Awaitable[OutMessage]]
RENDERERS: dict[str, KindRenderer] = {}


# Modules whose renderers register themselves on import. Listed here, in one place, so the
# dispatcher can render every kind whichever modules the process happened to import.
RENDERER_MODULES = (
    "bot.services.comments",
    "bot.services.digest",
    "bot.services.peer_rounds",
    "bot.services.pulse_closing",
    "bot.services.pulse_messages",
)


def load_renderers() -> None:
    """Import every module that registers renderers (idempotent)."""
    for module in RENDERER_MODULES:
        importlib.import_module(module)


class UnknownKind(LookupError):
    """No renderer is registered for a delivery kind."""


def renders(*kinds: str) -> Callable[[KindRenderer], KindRenderer]:
    """Register a renderer for one or more delivery kinds."""

    def register(function: KindRenderer) -> KindRenderer:
        for kind in kinds:
            RENDERERS[kind] = function
        return function

    return register


async def recipient_locale(session: AsyncSession, delivery: Delivery) -> str:
    """Return the language of the person a delivery goes to (bokmål for group chats)."""
    if delivery.person_id is None:
        return str(delivery.payload.get("locale", "nb"))
    person = await session.get(Person, delivery.person_id)
    return person.locale if person is not None else "nb"


async def render(session: AsyncSession, delivery: Delivery) -> OutMessage:
    """Return the message for an outbox row."""
    load_renderers()
    renderer = RENDERERS.get(delivery.kind)
    if renderer is None:
        raise UnknownKind(f"no renderer for delivery kind {delivery.kind!r}")
    return await renderer(session, delivery, await recipient_locale(session, delivery))


class OutboxRenderer:
    """The renderer the dispatcher calls."""

    async def render(self, session: AsyncSession, delivery: Delivery) -> OutMessage:
        """Return the message for an outbox row."""
        return await render(session, delivery)


@renders("prompt", "reminder", "group_prompt")
async def _prompt(session: AsyncSession, delivery: Delivery, locale: str) -> OutMessage:
    return compose.prompt_message(gettext_for(locale), await prompt_view(session, delivery, locale))


@renders("follow_up")
async def _follow_up(session: AsyncSession, delivery: Delivery, locale: str) -> OutMessage:
    return compose.follow_up_message(
        gettext_for(locale), await prompt_view(session, delivery, locale)
    )


@renders("notice")
async def _notice(session: AsyncSession, delivery: Delivery, locale: str) -> OutMessage:
    return await notice_text(session, delivery, locale)


async def notice_text(session: AsyncSession, delivery: Delivery, locale: str) -> OutMessage:
    """Render a notice whose payload names a `reason` (and maybe a subject person)."""
    _ = gettext_for(locale).gettext
    payload = delivery.payload
    subject = None
    if "subject_person_id" in payload:
        subject = await session.get(Person, int(payload["subject_person_id"]))
    name = subject.name if subject is not None else "?"
    reasons = {
        "ignored": _(
            "{name} has not answered the last prompts, so Tenkepause has stopped sending them. "
            "A personal word from you may help."
        ),
    }
    text = payload.get("text") or reasons.get(str(payload.get("reason")), "")
    return compose.notice(str(text).format(name=name), locale, delivery.kind)
