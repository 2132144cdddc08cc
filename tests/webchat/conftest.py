"""A real runtime with the web chat plugin, served over ASGI in the test's event loop."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import enabled_plugins
from bot.clock import FrozenClock
from bot.handlers.registry import build_router
from bot.runtime import Runtime
from bot.settings import Settings
from bot.web.server import build_app
from tests import factories


@dataclass
class ChatWorld:
    """The runtime and an HTTP client that talks to it."""

    runtime: Runtime
    client: httpx.AsyncClient
    clock: FrozenClock


@pytest.fixture
async def chat_world(
    db_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[ChatWorld]:
    settings = Settings(TENKEPAUSE_DATABASE_URL=db_url, TENKEPAUSE_SECRET_KEY="test-secret")
    clock = FrozenClock(factories.T0)
    runtime = Runtime(settings, engine, sessions, clock)
    runtime.router = build_router(sessions, clock, runtime.secret, settings.conversation_policy())
    runtime.plugins = enabled_plugins(runtime)
    transport = httpx.ASGITransport(app=build_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield ChatWorld(runtime, client, clock)


async def open_link(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """Open a personal chat link and press its sign-in button, as a browser would."""
    page = await client.get(link)
    assert page.status_code == 200, page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert action is not None and token is not None
    return await client.post(action.group(1), data={"csrf_token": token.group(1)})
