"""Socket Mode: with SLACK_APP_TOKEN, events arrive over a websocket instead of HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.channels.slack.plugin import SlackPlugin, build_plugin
from bot.services.render import OutboxRenderer
from scheduler.dispatcher import Dispatcher
from scheduler.tick import tick
from storage.models import Answer, Delivery, Identity
from tests.fakes import slack_signing
from tests.fakes.slack_api import FakeSlackApi
from tests.slack.conftest import BOT_TOKEN, slack_runtime
from tests.slack.world import World, build_world

APP_TOKEN = "xapp-1-A0000001-test"


@pytest.fixture
async def socket_plugin(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], slack_api: FakeSlackApi
) -> AsyncIterator[SlackPlugin]:
    runtime = slack_runtime(
        engine,
        sessions,
        slack_api,
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_app_token=SecretStr(APP_TOKEN),
    )
    plugin = build_plugin(runtime)
    yield plugin
    await plugin.stop()


def _envelope(envelope_id: str, body: str, retry_attempt: int = 0) -> dict[str, Any]:
    return {
        "envelope_id": envelope_id,
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": retry_attempt,
        "retry_reason": "timeout" if retry_attempt else "",
        "payload": json.loads(body),
    }


async def test_an_event_over_socket_mode_reaches_the_router_and_a_duplicate_stores_once(
    socket_plugin: SlackPlugin,
    slack_api: FakeSlackApi,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world: World = await build_world(sessions, slack_api)
    assert socket_plugin.routes() == []  # no POST /slack/events: the socket carries events
    await socket_plugin.start()
    await slack_api.wait_for_socket()
    assert slack_api.tokens_of("apps.connections.open") == [APP_TOKEN]

    clock = socket_plugin.runtime.clock
    await tick(sessions, clock)
    channels = {"slack": socket_plugin.channel}
    await Dispatcher(sessions, channels, OutboxRenderer(), clock).run_once()
    async with sessions() as session:
        ref = await session.scalar(
            select(Delivery.message_ref)
            .join(Identity, Identity.person_id == Delivery.person_id)
            .where(Identity.external_id == "U2", Delivery.kind == "prompt")
        )
    assert ref is not None
    channel, ts = ref.split(":")
    reply = {
        "type": "message",
        "channel": channel,
        "channel_type": "im",
        "user": "U2",
        "text": "Eg lytta meir enn eg snakka.",
        "ts": "1800000000.000300",
        "thread_ts": ts,
    }
    body = slack_signing.event_body(reply, event_id="EvSOCKET1")

    await slack_api.socket_send(_envelope("env-1", body))
    ack = await slack_api.wait_for_ack("env-1")
    assert ack["envelope_id"] == "env-1"
    await socket_plugin.inbound.drain()

    # Slack redelivers the same event in a new envelope when an ack is late.
    await slack_api.socket_send(_envelope("env-2", body, retry_attempt=1))
    await slack_api.wait_for_ack("env-2")
    await socket_plugin.inbound.drain()

    async with sessions() as session:
        answers = list(await session.scalars(select(Answer)))
    assert [(a.person_id, a.text) for a in answers] == [
        (world.people["U2"], "Eg lytta meir enn eg snakka.")
    ]
    assert [(u["channel"], u["ts"]) for u in slack_api.calls_to("chat.update")] == [(channel, ts)]
