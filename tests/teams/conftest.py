"""Fixtures for the Teams tests: the fake Bot Connector and a world factory on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from microsoft_agents.hosting.core import AnonymousTokenProvider
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.fakes.teams_connector import FakeConnector
from tests.teams.world import TeamsWorld, WorldFactory


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    """The fake Bot Connector on a free loopback port."""
    async with FakeConnector() as fake:
        yield fake


@pytest.fixture
async def worlds(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], connector: FakeConnector
) -> AsyncIterator[WorldFactory]:
    """Build Teams worlds on the test database."""
    factory = WorldFactory(engine, sessions, connector)
    yield factory
    await factory.close()


@pytest.fixture
async def world(worlds: WorldFactory) -> TeamsWorld:
    """A world without an app id: anonymous calls, as with the Bot Framework Emulator."""
    return await worlds.build()


APP_ID = "6f1c2b8e-0000-4000-8000-00000000a99"
OUTBOUND_TOKEN = "token-from-the-fake-entra-id"


class FixedTokenProvider(AnonymousTokenProvider):
    """Stand in for MSAL's client-credentials token, which would need Entra ID."""

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        return OUTBOUND_TOKEN


@pytest.fixture
async def secured(worlds: WorldFactory, connector: FakeConnector) -> TeamsWorld:
    """A world with TEAMS_APP_ID set: every activity needs a valid Bot Framework token.

    TEAMS_OPENID_METADATA_URL names the fake's metadata, so tokens it signs verify and any
    other key fails.
    """
    return await worlds.build(
        TEAMS_APP_ID=APP_ID,
        TEAMS_OPENID_METADATA_URL=connector.metadata_url,
        provider=lambda _config: FixedTokenProvider(),
    )
