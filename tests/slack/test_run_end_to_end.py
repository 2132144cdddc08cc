"""End to end: `tenkepause run` serves /slack/events over real HTTP against the fake Web API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.channels.slack.blocks import ANSWER_ACTION, AskSpec
from bot.core import button_codec
from storage.engine import make_engine, make_sessionmaker
from storage.models import Answer, Delivery, Prompt
from tests import databases
from tests.fakes.slack_api import FakeSlackApi
from tests.slack.world import SlackClient, build_world

SECRET_KEY = "e2e-instance-secret-of-at-least-32-bytes"
SIGNING_SECRET = "e2e-signing-secret"
TENKEPAUSE = Path(sys.executable).with_name("tenkepause")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _eventually(check: Callable[[], object], what: str, seconds: float = 20.0) -> None:
    """Poll a subprocess's visible effect until it shows up (no fixed sleeps)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def served(
    sqlite_template: Path, tmp_path: Path, slack_api: FakeSlackApi
) -> AsyncIterator[tuple[str, str]]:
    """Start `tenkepause run` on a free port; yield its base URL and database URL."""
    db_url = databases.clone_sqlite(sqlite_template, tmp_path)
    port = _free_port()
    env = {
        **os.environ,
        "TENKEPAUSE_DATABASE_URL": db_url,
        "TENKEPAUSE_HTTP_HOST": "127.0.0.1",
        "TENKEPAUSE_HTTP_PORT": str(port),
        "TENKEPAUSE_SECRET_KEY": SECRET_KEY,
        "TENKEPAUSE_LOG_LEVEL": "WARNING",
        "SLACK_BOT_TOKEN": "xoxb-e2e-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api.url,
    }
    for name in ("SLACK_APP_TOKEN", "TELEGRAM_BOT_TOKEN"):
        env.pop(name, None)
    process = await asyncio.create_subprocess_exec(
        str(TENKEPAUSE), "run", env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(400):
                if process.returncode is not None:
                    break
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        if process.returncode is not None:
            assert process.stderr is not None
            error = (await process.stderr.read()).decode()[-2000:]
            raise AssertionError(f"tenkepause run exited: {error}")
        yield base, db_url
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_tenkepause_run_serves_signed_url_verification_and_block_actions(
    served: tuple[str, str], slack_api: FakeSlackApi
) -> None:
    base, db_url = served
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        world = await build_world(sessions, slack_api)
        person_id = world.people["U1"]
        async with sessions() as session, session.begin():
            prompt = await session.scalar(select(Prompt))
            assert prompt is not None
            delivery = Delivery(
                key="e2e:1",
                kind="prompt",
                person_id=person_id,
                prompt_id=prompt.id,
                payload={"visibility": "coach"},
                status="sent",
                due_at=datetime.now(UTC),
                next_attempt_at=datetime.now(UTC),
                platform="slack",
                message_ref="D1:1700000000.000001",
            )
            session.add(delivery)
        slack_api.add_channel("D1")
        slack_api.messages[("D1", "1700000000.000001")] = {"text": "prompt", "blocks": []}

        async with httpx.AsyncClient(base_url=base) as http:
            slack = SlackClient(http, SIGNING_SECRET)
            challenge = json.dumps({"token": "t", "challenge": "c-123", "type": "url_verification"})
            answered = await slack.post(challenge, "application/json")
            assert answered.status_code == 200
            assert answered.json() == {"challenge": "c-123"}
            forged = await slack.post(challenge, "application/json", signing_secret="wrong")
            assert forged.status_code == 401

            data = button_codec.encode(SECRET_KEY, "ans", str(delivery.id))
            spec = AskSpec(
                data=data,
                locale="en",
                label="Your reflection",
                submit_label="Save",
                visibilities=(("private", "Only me"), ("group", "My peer group")),
                default_visibility="group",
            )
            button = {
                "action_id": ANSWER_ACTION,
                "value": spec.to_value(),
                "text": {"type": "plain_text", "text": "Answer"},
            }
            clicked = await slack.interact(slack.click("U1", "D1:1700000000.000001", button))
            assert clicked.status_code == 200
            await _eventually(lambda: slack_api.calls_to("views.open"), "views.open")

            view = next(iter(slack_api.views.values()))
            values = {
                "answer": {"text": {"type": "plain_text_input", "value": "Over real HTTP."}},
                "visibility": {"choice": {"selected_option": {"value": "group"}}},
            }
            submitted = await slack.interact(slack.submission("U1", view, values))
            assert submitted.status_code == 200
            await _eventually(lambda: slack_api.calls_to("chat.update"), "chat.update")

        async with sessions() as session:
            answer = await session.scalar(select(Answer))
        assert answer is not None
        assert (answer.text, answer.visibility, answer.person_id) == (
            "Over real HTTP.",
            "group",
            person_id,
        )
        assert slack_api.calls_to("chat.update")[0]["ts"] == "1700000000.000001"
    finally:
        await engine.dispose()
