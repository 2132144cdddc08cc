"""Fixtures for the Slack tests: the fake Web API, a channel on it, and the app behind HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from bot.channels.slack.app import SlackInbound
from bot.channels.slack.channel import SlackChannel, make_client
from bot.channels.slack.linking import SlackLinker
from bot.clock import Clock, FrozenClock
from bot.core.conversation import Policy
from bot.handlers.registry import build_router
from bot.runtime import Runtime
from bot.settings import Settings
from tests.fakes.slack_api import FakeSlackApi
from tests.slack.world import AFTER_FIRING, SlackClient, World, build_world

SECRET = "test-instance-secret"
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


@pytest.fixture
async def slack_api() -> AsyncIterator[FakeSlackApi]:
    """Serve the fake Slack Web API on a free loopback port."""
    api = FakeSlackApi()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
def slack_channel(slack_api: FakeSlackApi) -> SlackChannel:
    """A SlackChannel whose client talks to the fake API."""
    return SlackChannel(make_client(BOT_TOKEN, slack_api.url), SECRET)


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession], slack_api: FakeSlackApi) -> World:
    """The scenarios' cohort: three leaders and a coach, all linked, and a Monday campaign."""
    return await build_world(sessions, slack_api)


def slack_runtime(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    api: FakeSlackApi,
    **settings: Any,
) -> Runtime:
    """Return a runtime on the fake API whose router's clock stands just after Monday's firing.

    `settings` adds the Slack settings of the mode under test (bot token, app token, OAuth).
    """
    clock = FrozenClock(AFTER_FIRING)
    values = {
        "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "slack_api_url": api.url,
        "secret_key": SecretStr(SECRET),
        **settings,
    }
    runtime = Runtime(Settings(_env_file=None, **values), engine, sessions, clock)
    runtime.router = build_router(
        sessions, clock, runtime.secret, runtime.settings.conversation_policy()
    )
    return runtime


@asynccontextmanager
async def signed_app(
    sessions: async_sessionmaker[AsyncSession], channel: SlackChannel, clock: Clock
) -> AsyncIterator[tuple[SlackInbound, SlackClient]]:
    """Serve the bolt app on the real router; yield it and a client that signs like Slack.

    On the way out, wait for the work the app scheduled.
    """
    router = build_router(sessions, clock, SECRET, Policy())
    inbound = SlackInbound(
        channel=channel,
        signing_secret=SIGNING_SECRET,
        handle=router.handle,
        linker=SlackLinker(sessions, channel),
    )
    transport = httpx.ASGITransport(app=Starlette(routes=inbound.routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://slack.test") as http:
        yield inbound, SlackClient(http, SIGNING_SECRET)
        await inbound.drain()
