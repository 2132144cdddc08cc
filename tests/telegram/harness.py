"""Run the real Telegram plugin (PTB polling) against the fake Bot API and a test database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from scheduler.dispatcher import Dispatcher
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.telegram.conftest import telegram_settings

NOW = datetime(2027, 3, 1, 7, 30, tzinfo=UTC)
WAIT = 10.0


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
        runtime.router = build_router(self.sessions, self.clock)
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
