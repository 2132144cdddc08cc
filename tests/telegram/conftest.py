"""Fixtures for Telegram tests: the fake Bot API, a real PTB Application and the plugin on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram.ext import Application

from bot.channels.telegram.application import build_application
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.telegram.harness import Harness, telegram_settings


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeTelegramAPI]:
    """A fake Bot API on a free loopback port."""
    async with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
async def application(telegram_api: FakeTelegramAPI) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """An initialised PTB Application (no retries after a 429) on the fake API."""
    app = build_application(telegram_settings(telegram_api), polling=False, max_retries=0)
    await app.initialize()
    yield app
    await app.shutdown()


@pytest.fixture
async def harness(
    telegram_api: FakeTelegramAPI, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Harness]:
    """The Telegram plugin polling the fake API."""
    harness = Harness(telegram_api, engine, sessions)
    await harness.start()
    yield harness
    await harness.stop()
