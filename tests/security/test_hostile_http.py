"""An outsider who knows the public URL posts huge and malformed bodies to every POST route.

Attacker: anyone on the network. They can post anything to `tenkepause run`; some also
hold one valid credential (a signed Slack request, the Telegram secret, a web chat
session) and send garbage behind it. What must hold: a body over 1 MB gets 413 without
being buffered, malformed or wrongly typed input gets a 4xx without a traceback, never a
500, and the process's memory stays flat.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.webchat.cookies import COOKIE, csrf_token
from bot.services.web_sessions import SessionKind
from tests import factories
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI
from tests.security import signed_in
from tests.security.raw_http import post as raw_post
from tests.security.served import SECRET_KEY, Served, tenkepause_run

pytestmark = pytest.mark.slow

SIGNING_SECRET = "hostile-signing-secret-0123456789"
WEBHOOK_SECRET = "hostile-webhook-secret_0123456789abcdef"
BIG = 20 * 1024 * 1024
RSS_BUDGET = 50 * 1024 * 1024
PARALLEL = 6

# Every POST route of `tenkepause run` with Slack, Telegram (webhook) and Teams on.
POST_ROUTES = [
    "/slack/events",
    "/telegram/webhook",
    "/teams/messages",
    "/chat/api/act",
    "/dashboard/login",
    "/dashboard/logout",
    "/dashboard/cohorts/1/prompt",
    "/dashboard/cohorts/1/answers/1/comment",
    "/dashboard/cohorts/1/export",
]
JSON = "application/json"
MALFORMED: list[tuple[str, bytes]] = [
    (JSON, b"{"),
    (JSON, b"[1, 2, 3]"),
    (JSON, b"null"),
    (JSON, b'"a string"'),
    (JSON, b'{"type": "text", "text": 5, "visibility": "everyone"}'),
    (JSON, b"[" * 50_000 + b"]" * 50_000),  # nested deeper than any parser recurses
    (JSON, b"\xff\xfe\x00 not utf-8"),
    ("application/x-www-form-urlencoded", b"payload=%7Bnot-json&&=%%&csrf_token"),
    ("multipart/form-data", b"--x\r\nno boundary was declared"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\nno end"),
    ("text/plain", b"\x00" * 64),
]
# Telegram updates with the right secret but the wrong shapes and types.
BAD_UPDATES: list[object] = [
    [],
    {"update_id": "1"},
    {"message": {"text": "no update id"}},
    {"update_id": 11, "message": "not an object"},
    {"update_id": 12, "message": {"message_id": "x", "chat": 5, "date": "yesterday"}},
    {"update_id": 13, "callback_query": {"id": 1, "from": "nobody", "data": ["x"]}},
]
# Web chat acts from a signed-in person: valid JSON, wrong shapes and values.
BAD_ACTS: list[object] = [
    [{"type": "text", "text": "an array, not an act"}],
    {"type": "text", "text": "hello", "visibility": "everyone"},
    {"type": "submit", "data": "x", "text": "hi", "visibility": ["coach"]},
    {"type": 5},
    {"type": "button", "data": {"nested": True}},
    {"type": "text", "text": "hi", "message": "12"},
    {"type": "text", "text": ["a", "list"]},
]


def slack_headers(body: bytes, content_type: str = JSON) -> dict[str, str]:
    """Sign raw bytes as Slack does."""
    timestamp = str(int(time.time()))
    digest = hmac.new(
        SIGNING_SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256
    )
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": "v0=" + digest.hexdigest(),
    }


@pytest.fixture
async def served(
    db_url: str,
    tmp_path: Path,
    slack_api: FakeSlackApi,
    telegram_api: FakeTelegramAPI,
) -> AsyncIterator[Served]:
    """Run `tenkepause run` with every platform on, against the fakes."""
    settings = {
        "SLACK_BOT_TOKEN": "xoxb-hostile-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api.url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram_api.base_url,
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TEAMS_APP_ID": "00000000-0000-0000-0000-00000000a11d",
        "TEAMS_SERVICE_URL": "http://127.0.0.1:9/teams/",
        "TENKEPAUSE_LOG_LEVEL": "INFO",
    }
    async with tenkepause_run(db_url, tmp_path, settings) as running:
        yield running


@pytest.fixture
async def chat_session(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """Return the cookie and CSRF header of a signed-in web chat user."""
    async with sessions() as session, session.begin():
        person = await factories.person(session, locale="en")
    now = datetime.now(UTC)  # the running process keeps real time
    token = await signed_in.session_token(sessions, person.id, SessionKind.WEBCHAT, now)
    cookie = signed_in.chat_cookie(SECRET_KEY, token)
    return {"cookie": f"{COOKIE}={cookie}", "x-csrf-token": csrf_token(SECRET_KEY, cookie)}


def assert_refused_cleanly(response: httpx.Response, what: str) -> None:
    """Assert a 4xx whose body carries no traceback."""
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.text!r}"
    assert "Traceback" not in response.text, what


async def test_malformed_bodies_get_a_4xx_on_every_post_route(
    served: Served, chat_session: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        for route in POST_ROUTES:
            for content_type, body in MALFORMED:
                response = await http.post(
                    route, content=body, headers={"content-type": content_type}
                )
                assert_refused_cleanly(response, f"{route} {body[:30]!r}")
        # Behind a valid signature, secret or session, the same garbage.
        for content_type, body in MALFORMED:
            signed = await http.post(
                "/slack/events", content=body, headers=slack_headers(body, content_type)
            )
            assert_refused_cleanly(signed, f"signed slack {body[:30]!r}")
            telegram = await http.post(
                "/telegram/webhook",
                content=body,
                headers={
                    "content-type": content_type,
                    "x-telegram-bot-api-secret-token": WEBHOOK_SECRET,
                },
            )
            assert_refused_cleanly(telegram, f"telegram {body[:30]!r}")
            chat = await http.post(
                "/chat/api/act",
                content=body,
                headers={**chat_session, "content-type": content_type},
            )
            assert_refused_cleanly(chat, f"chat {body[:30]!r}")
        for update in BAD_UPDATES:
            response = await http.post(
                "/telegram/webhook",
                json=update,
                headers={"x-telegram-bot-api-secret-token": WEBHOOK_SECRET},
            )
            assert_refused_cleanly(response, f"telegram update {update!r}")
        for act in BAD_ACTS:
            response = await http.post("/chat/api/act", json=act, headers=chat_session)
            assert_refused_cleanly(response, f"chat act {act!r}")
        # The same session can still act: the refusals were about the input, not the route.
        fine = await http.post(
            "/chat/api/act", json={"type": "text", "text": "hjelp"}, headers=chat_session
        )
        assert fine.status_code == 200, fine.text
    log = served.output()
    assert "Traceback" not in log
    assert "Exception in ASGI application" not in log


async def test_twenty_megabytes_get_413_and_memory_stays_flat(
    served: Served, chat_session: dict[str, str]
) -> None:
    # Credentials that get each route as far as reading its body.
    credentials: dict[str, dict[str, str]] = {
        "/slack/events": slack_headers(b"x" * BIG),
        "/telegram/webhook": {"x-telegram-bot-api-secret-token": WEBHOOK_SECRET},
        "/chat/api/act": {**chat_session, "content-type": JSON},
        "/dashboard/login": {"content-type": "application/x-www-form-urlencoded"},
    }
    async with httpx.AsyncClient(base_url=served.url) as http:  # warm every route up
        for route in POST_ROUTES:
            await http.post(route, content=b"{}", headers=credentials.get(route, {}))
    before = served.rss_bytes()
    statuses: dict[tuple[str, bool], set[int]] = {}
    for route in POST_ROUTES:
        for chunked in (False, True):
            answers = await asyncio.gather(
                *(
                    raw_post(
                        served.url + route, BIG, chunked=chunked, headers=credentials.get(route)
                    )
                    for _ in range(PARALLEL)
                )
            )
            # How much of the body a client gets to send before it reads the 413 is a race
            # (the server drains and discards the rest, so the client sees the answer, not a
            # reset); what must hold is the status and the memory, checked below.
            statuses[(route, chunked)] = {answer.status for answer in answers}
    grown = served.rss_bytes() - before

    for (route, chunked), seen in statuses.items():
        if not chunked or route in credentials:
            # A declared length is refused before a byte is read; a counted body once it
            # passes the limit.
            assert seen == {413}, f"{route} chunked={chunked}: {seen}"
        else:
            # Without credentials a route may refuse before reading the body at all.
            assert seen <= {401, 403, 413}, f"{route} chunked={chunked}: {seen}"
    assert grown < RSS_BUDGET, f"RSS grew by {grown / 2**20:.1f} MiB"
    print(f"RSS before {before / 2**20:.1f} MiB, grew {grown / 2**20:.1f} MiB")
    assert "Traceback" not in served.output()
