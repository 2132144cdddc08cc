"""ATTACK: someone holding one valid Bot Framework token (or none, where anonymous calls are
allowed) posts an activity whose serviceUrl names their own server, hoping the bot sends its
replies, and with them its own access token, there.

Promise: the activity's serviceUrl must equal the token's serviceurl claim, or, for a token
without one, name an allowed Bot Framework host. Otherwise: 401, nothing stored, and no
request leaves the bot for any host. Stored conversation references keep the serviceUrl that
was checked, and proactive sends go only there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.models import Answer, Delivery, Identity, ProcessedEvent
from tests.fakes.recording_server import RecordingServer
from tests.fakes.teams_connector import FakeConnector
from tests.teams.conftest import APP_ID, FixedTokenProvider
from tests.teams.world import (
    TeamsWorld,
    WorldFactory,
    install,
    roster_member,
    scheduled_occurrence,
)


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    """The real Bot Connector (as far as this test is concerned)."""
    async with FakeConnector() as fake:
        yield fake


@pytest.fixture
async def attacker() -> AsyncIterator[RecordingServer]:
    """The attacker's server: it must hear nothing."""
    async with RecordingServer() as server:
        yield server


@pytest.fixture
async def worlds(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], connector: FakeConnector
) -> AsyncIterator[WorldFactory]:
    """Build Teams worlds on the test database."""
    factory = WorldFactory(engine, sessions, connector)
    yield factory
    await factory.close()


async def secured(worlds: WorldFactory, connector: FakeConnector, **settings: Any) -> TeamsWorld:
    """Return a world with an app id, keys from the fake's OpenID metadata."""
    return await worlds.build(
        TEAMS_APP_ID=APP_ID,
        TEAMS_OPENID_METADATA_URL=connector.metadata_url,
        provider=lambda _config: FixedTokenProvider(),
        **settings,
    )


async def assert_nothing_happened(
    world: TeamsWorld, connector: FakeConnector, attacker: RecordingServer
) -> None:
    assert await world.count(Identity) == 0
    assert await world.count(ProcessedEvent) == 0
    assert attacker.requests == [], "the bot sent something to the activity's host"
    assert connector.calls == [], "the bot sent something to the Bot Connector"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
@pytest.mark.parametrize("kind", ["message", "install"])
async def test_a_valid_token_whose_serviceurl_claim_differs_from_the_activity_gets_401(
    worlds: WorldFactory,
    connector: FakeConnector,
    attacker: RecordingServer,
    host: str,
    kind: str,
) -> None:
    world = await secured(worlds, connector)
    user, _ = await roster_member(world, "Kari Nordmann")
    token = connector.token(APP_ID)  # valid: right key, audience, issuer; claim = real connector
    activity = world.message(user, "/pause") if kind == "message" else world.installed(user)
    activity["serviceUrl"] = f"http://{host}:{attacker.port}/"

    response = await world.post(activity, token=token)

    assert response.status_code == 401
    await assert_nothing_happened(world, connector, attacker)
    # The same token with the serviceUrl it names gets in: the 401 was the serviceUrl's.
    activity["serviceUrl"] = connector.service_url
    assert (await world.post(activity, token=token)).status_code == 202
    assert attacker.requests == []


async def test_a_claim_naming_the_attackers_host_does_not_open_another_host(
    worlds: WorldFactory, connector: FakeConnector, attacker: RecordingServer
) -> None:
    world = await secured(worlds, connector)
    user, _ = await roster_member(world, "Kari Nordmann")
    token = connector.token(APP_ID, serviceurl=f"{connector.service_url}emea/")
    activity = world.message(user, "/pause")
    activity["serviceUrl"] = attacker.url

    assert (await world.post(activity, token=token)).status_code == 401
    await assert_nothing_happened(world, connector, attacker)


@pytest.mark.parametrize("allowed", ["", "smba.trafficmanager.net,*.botframework.com"])
async def test_without_a_serviceurl_claim_only_allow_listed_hosts_get_in(
    worlds: WorldFactory, connector: FakeConnector, attacker: RecordingServer, allowed: str
) -> None:
    # "" is the default list (blank = unset): the public cloud's Bot Framework hosts.
    world = await secured(worlds, connector, TEAMS_ALLOWED_SERVICE_HOSTS=allowed)
    user, _ = await roster_member(world, "Kari Nordmann")
    token = connector.token(APP_ID, serviceurl=None)
    activity = world.message(user, "/pause")
    activity["serviceUrl"] = attacker.url

    assert (await world.post(activity, token=token)).status_code == 401
    await assert_nothing_happened(world, connector, attacker)


async def test_without_a_serviceurl_claim_an_allow_listed_host_gets_in(
    worlds: WorldFactory, connector: FakeConnector, attacker: RecordingServer
) -> None:
    # The recording server stands in for an allowed Bot Connector here, which also shows
    # that it does hear the bot when the bot is let through.
    world = await secured(worlds, connector, TEAMS_ALLOWED_SERVICE_HOSTS="127.0.0.1")
    user, _ = await roster_member(world, "Kari Nordmann")
    activity = world.message(user, "/pause")
    activity["serviceUrl"] = attacker.url

    response = await world.post(activity, token=connector.token(APP_ID, serviceurl=None))

    assert response.status_code == 202
    assert ("POST", f"/v3/conversations/{user.chat}/activities") in attacker.requests


async def test_anonymous_calls_still_need_an_allow_listed_service_url(
    worlds: WorldFactory, connector: FakeConnector, attacker: RecordingServer
) -> None:
    # No app id (the emulator set-up): no token at all, so only the allow-list stands.
    world = await worlds.build(TEAMS_ALLOWED_SERVICE_HOSTS="")
    user, _ = await roster_member(world, "Kari Nordmann")
    activity = world.message(user, "/pause")
    activity["serviceUrl"] = attacker.url

    assert (await world.post(activity)).status_code == 401
    await assert_nothing_happened(world, connector, attacker)


async def test_stored_references_keep_the_checked_service_url_and_proactive_sends_go_only_there(
    worlds: WorldFactory, connector: FakeConnector, attacker: RecordingServer
) -> None:
    world = await secured(worlds, connector)
    user, person = await install(world, "Kari Nordmann")
    # A second, refused activity for the same chat tries to move it to the attacker's host.
    moved = world.message(user, "hello")
    moved["serviceUrl"] = attacker.url
    assert (await world.post(moved, token=connector.token(APP_ID))).status_code == 401

    await scheduled_occurrence(world.runtime.sessions, [person])
    await world.dispatch_all()

    async with world.runtime.sessions() as session:
        identity = await session.scalar(select(Identity))
        delivery = await session.scalar(select(Delivery))
    assert identity is not None and delivery is not None
    stored = identity.address["conversation"]["conversation_reference"]
    assert stored["serviceUrl"] == connector.service_url
    assert delivery.status == "sent"
    assert connector.sent(user.chat), "the prompt went to the checked Bot Connector"
    assert attacker.requests == []
    assert await world.count(Answer) == 0
