"""Whoever reads the logs (an operator, a log shipper, a support ticket) learns no secret.

A full flow through the real `tenkepause run` at DEBUG: Slack (a forged request, a button,
a modal answer) and Telegram (webhook; a prompt and a typed answer), plus /metrics with
its token. The captured output must not hold any token, secret or answer text the test
used, at any level.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.slack.blocks import ANSWER_ACTION, AskSpec
from bot.core import button_codec
from storage.models import Answer, Delivery, Prompt
from tests import factories
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, FakeUser
from tests.security.served import SECRET_KEY, tenkepause_run
from tests.slack.world import SlackClient, build_world
from tests.telegram.harness import linked_leader

pytestmark = pytest.mark.slow

SLACK_TOKEN = "xoxb-4242-log-scan-bot-token"
SIGNING_SECRET = "log-scan-signing-secret-0123456789"
WEBHOOK_SECRET = "log-scan-webhook-secret_0123456789abcdef"
METRICS_TOKEN = "log-scan-metrics-token-0123456789"
SLACK_ANSWER = "Slack answer: I let the quiet ones speak first (7f3a)"
TELEGRAM_ANSWER = "Telegram answer: I said no to a meeting (91c2)"
FORGED_TEXT = "forged request text that must not be logged (5d1e)"
KARI = FakeUser(7402, "Kari", language_code="en")


async def eventually(check: Callable[[], object], what: str, seconds: float = 30.0) -> None:
    """Poll the visible effect of the process until it shows (no fixed sleeps)."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def slack_flow(
    base: str, sessions: async_sessionmaker[AsyncSession], api: FakeSlackApi
) -> None:
    """Forge a request, then click an answer button and submit the modal, as Slack would."""
    world = await build_world(sessions, api)
    async with sessions() as session, session.begin():
        prompt = await session.scalar(select(Prompt))
        assert prompt is not None
        delivery = Delivery(
            key="logs:1",
            kind="prompt",
            person_id=world.people["U1"],
            prompt_id=prompt.id,
            payload={"visibility": "coach"},
            status="sent",
            due_at=datetime.now(UTC),
            next_attempt_at=datetime.now(UTC),
            platform="slack",
            message_ref="D1:1700000000.000001",
        )
        session.add(delivery)
    api.add_channel("D1")
    api.messages[("D1", "1700000000.000001")] = {"text": "prompt", "blocks": []}
    async with httpx.AsyncClient(base_url=base) as http:
        slack = SlackClient(http, SIGNING_SECRET)
        event = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1"}
        forged = await slack.event({**event, "text": FORGED_TEXT}, signing_secret="wrong")
        assert forged.status_code == 401
        spec = AskSpec(
            data=button_codec.encode(SECRET_KEY, "ans", str(delivery.id)),
            locale="en",
            label="Your reflection",
            submit_label="Save",
            visibilities=(("private", "Only me"), ("coach", "Me and my coach")),
            default_visibility="coach",
        )
        button = {
            "action_id": ANSWER_ACTION,
            "value": spec.to_value(),
            "text": {"type": "plain_text", "text": "Answer"},
        }
        await slack.interact(slack.click("U1", "D1:1700000000.000001", button))
        await eventually(lambda: api.calls_to("views.open"), "views.open")
        view = next(iter(api.views.values()))
        values = {
            "answer": {"text": {"type": "plain_text_input", "value": SLACK_ANSWER}},
            "visibility": {"choice": {"selected_option": {"value": "coach"}}},
        }
        await slack.interact(slack.submission("U1", view, values))
        await eventually(lambda: api.calls_to("chat.update"), "chat.update")


async def telegram_flow(
    base: str, sessions: async_sessionmaker[AsyncSession], api: FakeTelegramAPI
) -> None:
    """Send Kari a prompt through the outbox and post her typed answer to the webhook."""
    person = await linked_leader(sessions, KARI)
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        prompt = await factories.prompt(session, text={"en": "What went well?"})
        session.add(
            Delivery(
                key="logs:telegram",
                kind="prompt",
                person_id=person.id,
                prompt_id=prompt.id,
                due_at=now - timedelta(minutes=1),
                next_attempt_at=now - timedelta(minutes=1),
                expires_at=now + timedelta(days=1),
                payload={"visibility": "coach"},
            )
        )
    await api.wait_until(lambda: bool(api.sent_to(KARI.id)), timeout=30)
    update: dict[str, Any] = api.text_update(
        KARI, TELEGRAM_ANSWER, reply_to=api.last_sent_to(KARI.id)
    )
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.post(
            "/telegram/webhook",
            content=json.dumps(update),
            headers={"x-telegram-bot-api-secret-token": WEBHOOK_SECRET},
        )
    assert response.status_code == 200


async def test_a_full_flow_at_debug_logs_no_secret_and_no_answer(
    db_url: str,
    tmp_path: Path,
    sessions: async_sessionmaker[AsyncSession],
    slack_api: FakeSlackApi,
    telegram_api: FakeTelegramAPI,
) -> None:
    settings = {
        "TENKEPAUSE_LOG_LEVEL": "DEBUG",
        "TENKEPAUSE_DISPATCH_SECONDS": "0.2",
        "TENKEPAUSE_METRICS_TOKEN": METRICS_TOKEN,
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api.url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram_api.base_url,
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    async with tenkepause_run(db_url, tmp_path, settings) as served:
        await slack_flow(served.url, sessions, slack_api)
        await telegram_flow(served.url, sessions, telegram_api)
        async with httpx.AsyncClient(base_url=served.url) as http:
            metrics = await http.get(
                "/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"}
            )
            assert metrics.status_code == 200
    async with sessions() as session:
        stored = set(await session.scalars(select(Answer.text)))
    assert {SLACK_ANSWER, TELEGRAM_ANSWER} <= stored, "both answers went through the flow"

    log = served.output()
    assert " DEBUG " in log, "the process logged at DEBUG"
    secrets = {
        "secret key": SECRET_KEY,
        "Slack bot token": SLACK_TOKEN,
        "Slack signing secret": SIGNING_SECRET,
        "Telegram bot token": TOKEN,
        "Telegram token's secret part": TOKEN.split(":", 1)[1],
        "Telegram webhook secret": WEBHOOK_SECRET,
        "metrics token": METRICS_TOKEN,
        "Slack answer": SLACK_ANSWER,
        "Telegram answer": TELEGRAM_ANSWER,
        "forged request's text": FORGED_TEXT,
    }
    for what, value in secrets.items():
        assert value not in log, f"the log holds the {what}"
    for fragment in ("(7f3a)", "(91c2)", "(5d1e)"):  # no piece of an answer, however cut
        assert fragment not in log
    # A refused Slack request is one line, without its body.
    refused = [line for line in log.splitlines() if "slack request refused" in line]
    assert len(refused) == 1
    assert "token will be unused" not in log and "will be ignored" not in log
