"""Fixtures for Telegram tests: the fake Bot API and a real PTB Application against it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram.ext import Application

from bot.channels.telegram.application import build_application
from bot.settings import Settings
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI

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
