"""Run the real Telegram plugin (PTB polling) against the fake Bot API and a test database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import ContextTypes, TypeHandler

from bot.channels.telegram.plugin import TelegramPlugin
from bot.clock import FrozenClock
from bot.handlers.registry import build_router
from bot.runtime import Runtime
from bot.services.render import OutboxRenderer
from bot.settings import Settings
from scheduler.dispatcher import Dispatcher
from storage.models import Delivery, Identity, Person
from tests import factories
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, FakeUser

NOW = datetime(2027, 3, 1, 7, 30, tzinfo=UTC)
WAIT = 10.0
SECRET = "telegram-test-secret"


def telegram_settings(api: FakeTelegramAPI, **overrides: object) -> Settings:
    """Return settings that point PTB at the fake Bot API."""
    values: dict[str, object] = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "TENKEPAUSE_SECRET_KEY": SECRET,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Harness:
    """One running instance's Telegram side; `restart()` builds a fresh Application."""

    api: FakeTelegramAPI
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: FrozenClock = field(default_factory=lambda: FrozenClock(NOW))
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    plugin: TelegramPlugin | None = None
    processed: dict[int, asyncio.Event] = field(default_factory=dict)

    def runtime(self) -> Runtime:
        """Return a runtime like `tenkepause run` builds."""
        settings = telegram_settings(self.api, **self.settings_overrides)
        runtime = Runtime(settings, self.engine, self.sessions, self.clock)
        runtime.router = build_router(
            self.sessions, self.clock, SECRET, settings.conversation_policy()
        )
        return runtime

    async def start(self) -> TelegramPlugin:
        """Start the plugin (polling the fake) with a hook that reports processed updates."""
        plugin = TelegramPlugin(self.runtime(), max_retries=0)
        # Group 1 runs after the real handlers (group 0) have finished with an update.
        plugin.application.add_handler(TypeHandler(Update, self._done), group=1)
        await plugin.start()
        self.plugin = plugin
        return plugin

    async def _done(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.processed.setdefault(update.update_id, asyncio.Event()).set()

    async def stop(self) -> None:
        """Stop the plugin."""
        if self.plugin is not None:
            await self.plugin.stop()
            self.plugin = None

    async def restart(self) -> TelegramPlugin:
        """Stop this Application and start a new one, as a process restart would."""
        await self.stop()
        return await self.start()

    async def send(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates and wait until the Application has handled it."""
        event = self.processed.setdefault(update["update_id"], asyncio.Event())
        event.clear()
        self.api.queue(update)
        await asyncio.wait_for(event.wait(), WAIT)
        return update

    def dispatcher(self, **options: Any) -> Dispatcher:
        """Return the real outbox dispatcher sending through this plugin's channel."""
        assert self.plugin is not None
        return Dispatcher(
            sessions=self.sessions,
            channels={"telegram": self.plugin.channel},
            renderer=OutboxRenderer(),
            clock=self.clock,
            instance="telegram-test",
            **options,
        )

    async def count(self, model: type[Any], *where: Any) -> int:
        """Return how many rows of `model` match."""
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def linked_leader(
    sessions: async_sessionmaker[AsyncSession], user: FakeUser, **values: Any
) -> Person:
    """Create a roster person whose Telegram account is linked and consented."""
    async with sessions() as session, session.begin():
        values.setdefault("locale", "en")
        values.setdefault("name", user.first_name)
        person = await factories.person(session, **values)
        session.add(
            Identity(
                person_id=person.id,
                platform="telegram",
                external_id=str(user.id),
                address={"chat_id": user.id},
                status="active",
                consent_at=NOW,
            )
        )
    return person


async def due_prompt(
    sessions: async_sessionmaker[AsyncSession],
    person: Person | None,
    *,
    kind: str = "prompt",
    group_id: int | None = None,
    visibility: str = "coach",
    text: str = "What did you learn this week?",
) -> Delivery:
    """Put a reflection prompt in the outbox, due now."""
    async with sessions() as session, session.begin():
        prompt = await factories.prompt(session, text={"en": text, "nb": text})
        delivery = Delivery(
            key=f"test:{prompt.id}:{person.id if person else group_id}",
            kind=kind,
            person_id=person.id if person else None,
            group_id=group_id,
            prompt_id=prompt.id,
            due_at=NOW,
            next_attempt_at=NOW,
            expires_at=NOW + timedelta(days=2),
            payload={"visibility": visibility, "locale": "en"},
        )
        session.add(delivery)
    return delivery
