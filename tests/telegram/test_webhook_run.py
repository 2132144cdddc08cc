"""Webhook mode over real HTTP: `tenkepause run` as a subprocess, Telegram's secret header."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import SystemClock
from storage.models import Answer, Delivery, ProcessedEvent
from tests import factories
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, FakeUser
from tests.telegram.harness import linked_leader

KARI = FakeUser(7401, "Kari", language_code="en")
WEBHOOK_SECRET = "webhook-secret_0123456789_abcdefghij"
STARTUP = 40.0


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_until_serving(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    """Poll /healthz until the server answers; fail if the process dies or takes too long."""
    deadline = asyncio.get_running_loop().time() + STARTUP
    async with httpx.AsyncClient() as client:
        while asyncio.get_running_loop().time() < deadline:
            if process.returncode is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise AssertionError(f"tenkepause run exited with {process.returncode}:\n{tail}")
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)  # readiness polling, not waiting for a schedule
    raise AssertionError("tenkepause run did not start serving in time")


@pytest.fixture
async def served(telegram_api: FakeTelegramAPI, db_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """Run `tenkepause run` in webhook mode against the fake API; yield its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TENKEPAUSE_DATABASE_URL": db_url,
        "TENKEPAUSE_HTTP_HOST": "127.0.0.1",
        "TENKEPAUSE_HTTP_PORT": str(port),
        "TENKEPAUSE_PUBLIC_URL": url,
        "TENKEPAUSE_SECRET_KEY": "webhook-test-signing-key-of-32-bytes-or-more",
        "TENKEPAUSE_DISPATCH_SECONDS": "0.2",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram_api.base_url,
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        env.pop(name, None)
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("tenkepause")),
            "run",
            cwd=tmp_path,  # no stray .env
            env=env,
            stdout=output,
            stderr=output,
        )
    try:
        await wait_until_serving(url, process, log)
        yield url
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


async def post(url: str, update: dict[str, Any], secret: str | None) -> int:
    """POST an update to the webhook as Telegram would; return the status code."""
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{url}/telegram/webhook", json=update, headers=headers)
    return response.status_code


async def seed_due_prompt(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Link Kari and put a prompt for her in the outbox, due now by the real clock."""
    person = await linked_leader(sessions, KARI)
    now = SystemClock().now()
    async with sessions() as session, session.begin():
        prompt = await factories.prompt(session, text={"en": "What went well?"})
        delivery = Delivery(
            key="webhook-test",
            kind="prompt",
            person_id=person.id,
            prompt_id=prompt.id,
            due_at=now - timedelta(minutes=1),
            next_attempt_at=now - timedelta(minutes=1),
            expires_at=now + timedelta(days=1),
            payload={"visibility": "coach"},
        )
        session.add(delivery)
    return delivery.id


async def test_webhook_mode_checks_the_secret_token(
    telegram_api: FakeTelegramAPI,
    sessions: async_sessionmaker[AsyncSession],
    served: str,
) -> None:
    webhook = telegram_api.webhook
    assert webhook is not None
    assert webhook["url"] == f"{served}/telegram/webhook"
    assert webhook["secret_token"] == WEBHOOK_SECRET
    assert telegram_api.calls_to("getUpdates") == []  # no polling in webhook mode

    await seed_due_prompt(sessions)
    await telegram_api.wait_until(lambda: bool(telegram_api.sent_to(KARI.id)), timeout=STARTUP)
    prompt_message = telegram_api.last_sent_to(KARI.id)

    def reply() -> dict[str, Any]:
        return telegram_api.text_update(KARI, "It went well.", reply_to=prompt_message)

    missing, wrong = reply(), reply()
    assert await post(served, missing, None) == 403
    assert await post(served, wrong, "not-the-secret") == 403
    assert await post(served, wrong, WEBHOOK_SECRET[:-1]) == 403

    async with sessions() as session:
        assert list(await session.scalars(select(Answer))) == []
        assert list(await session.scalars(select(ProcessedEvent))) == []

    accepted = reply()
    assert await post(served, accepted, WEBHOOK_SECRET) == 200

    async with sessions() as session:
        [answer] = list(await session.scalars(select(Answer)))
        events = list(await session.scalars(select(ProcessedEvent.event_id)))
    assert answer.text == "It went well."
    assert events == [str(accepted["update_id"])]
    assert telegram_api.last_sent_to(KARI.id)["text"].startswith("Thank you, your reflection")
