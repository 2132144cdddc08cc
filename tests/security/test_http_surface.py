"""What an outsider with the public URL (or a link scanner, or a framing page) gets back.

Every HTML page carries a policy that forbids other origins, framing and referrers;
/healthz names nothing about the host; /metrics answers only with the bearer token when
one is configured.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import enabled_plugins
from bot.runtime import Runtime
from bot.settings import Settings
from tests.web import world as w

METRICS_TOKEN = "metrics-token-0123456789-abcdefghij"


@pytest.fixture
async def site(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[tuple[w.World, Runtime, httpx.AsyncClient]]:
    """Serve the dashboard and web chat, with a metrics token and the default instance name."""
    world = await w.build_world(sessions)
    runtime = w.make_runtime(engine, sessions, db_url)
    token = Settings(_env_file=None, TENKEPAUSE_METRICS_TOKEN=METRICS_TOKEN).metrics_token
    runtime.settings = runtime.settings.model_copy(update={"metrics_token": token})
    runtime.instance = f"{socket.gethostname()}:{os.getpid()}"
    runtime.plugins = enabled_plugins(runtime)
    async with w.client(w.make_app(runtime)) as http:
        yield world, runtime, http


def assert_protected_html(response: httpx.Response, path: str) -> None:
    """Assert the headers every HTML page must carry."""
    assert response.headers["content-type"].startswith("text/html"), path
    policy = response.headers.get("content-security-policy", "")
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ):
        assert directive in policy, (path, directive)
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
    assert response.headers.get("x-content-type-options") == "nosniff", path
    assert response.headers.get("referrer-policy") == "no-referrer", path
    assert response.headers.get("x-frame-options") == "DENY", path
    assert "camera=()" in response.headers.get("permissions-policy", ""), path


async def test_every_html_page_carries_the_security_headers(
    site: tuple[w.World, Runtime, httpx.AsyncClient],
) -> None:
    world, runtime, http = site
    signed_out = [
        "/chat/",
        "/chat/login/not-a-code",
        "/dashboard/",
        "/dashboard/login",
        "/dashboard/login?code=not-a-code",
        f"/dashboard/cohorts/{world.cohort_a}",
    ]
    for path in signed_out:
        assert_protected_html(await http.get(path), path)
    await w.sign_in(http, await w.login_link(runtime, world.admin))
    signed_in = [
        "/dashboard/",
        f"/dashboard/cohorts/{world.cohort_a}",
        f"/dashboard/cohorts/{world.cohort_a}/people/{world.leader.id}",
        f"/dashboard/cohorts/{world.cohort_a}/pulses/{world.survey}",
        "/dashboard/cohorts/999999",  # not found
    ]
    for path in signed_in:
        response = await http.get(path)
        assert response.status_code in (200, 404), path
        assert_protected_html(response, path)
    for asset in ("/chat/static/chat.js", "/dashboard/static/dashboard.css", "/healthz"):
        assert (await http.get(asset)).headers.get("x-content-type-options") == "nosniff"


async def test_healthz_says_nothing_about_the_host(
    site: tuple[w.World, Runtime, httpx.AsyncClient],
) -> None:
    _, runtime, http = site
    response = await http.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    body = response.text
    for secret in (socket.gethostname(), str(os.getpid()), runtime.instance):
        assert secret not in body


async def test_metrics_need_the_bearer_token_when_one_is_set(
    site: tuple[w.World, Runtime, httpx.AsyncClient],
) -> None:
    _, runtime, http = site
    refused = [
        await http.get("/metrics"),
        await http.get("/metrics", headers={"authorization": "Bearer wrong"}),
        await http.get("/metrics", headers={"authorization": f"Basic {METRICS_TOKEN}"}),
        await http.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}x"}),
    ]
    assert [r.status_code for r in refused] == [401] * 4
    assert all("tenkepause" not in r.text for r in refused)
    allowed = await http.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert allowed.status_code == 200 and "tenkepause" in allowed.text

    runtime.settings = runtime.settings.model_copy(update={"metrics_token": None})
    open_app = w.make_app(runtime)
    async with w.client(open_app) as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 200
