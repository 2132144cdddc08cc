"""The strict Content-Security-Policy blocks nothing of our own pages in a real browser.

A policy that forbids inline code and other origins only helps if the pages still work
under it: Chromium reports every violation, and the test requires none while a leader's
chat and a coach's dashboard render and run their own script and styles.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import enabled_plugins
from bot.channels.webchat.cookies import COOKIE
from bot.runtime import Runtime
from bot.services.web_sessions import SessionKind
from tests.security import signed_in
from tests.web import world as w
from tests.web.conftest import loopback_listener, loopback_only, serving

pytestmark = pytest.mark.slow


@pytest.fixture
async def served(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[tuple[Runtime, w.World, str]]:
    """Serve the real app (dashboard and web chat) with uvicorn on a free loopback port."""
    world = await w.build_world(sessions)
    listener, base = loopback_listener()
    runtime = w.make_runtime(engine, sessions, db_url)
    runtime.settings = runtime.settings.model_copy(update={"public_url": base})
    runtime.plugins = enabled_plugins(runtime)
    async with serving(w.make_app(runtime), listener):
        yield runtime, world, base


def watch_violations(page: Page) -> list[str]:
    """Collect every CSP violation Chromium reports on `page`."""
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen


async def test_chat_and_dashboard_work_under_the_policy(
    served: tuple[Runtime, w.World, str], browser: Browser
) -> None:
    runtime, world, base = served
    now = runtime.clock.now()
    token = await signed_in.session_token(
        runtime.sessions, world.leader.id, SessionKind.WEBCHAT, now
    )
    cookie = signed_in.chat_cookie(runtime.secret, token)
    context = await browser.new_context(locale="en-GB")
    await context.add_cookies([{"name": COOKIE, "value": cookie, "url": base}])
    page = await context.new_page()
    violations = watch_violations(page)
    await page.route("**/*", lambda route: loopback_only(route, base))

    chat = await page.goto(f"{base}/chat/")
    assert chat is not None and "frame-ancestors 'none'" in chat.headers["content-security-policy"]
    # The page's own script ran (it fetched the conversation and rendered it) ...
    await expect(page.locator("#conversation article, #conversation p").first).to_be_visible()
    # ... and its own stylesheet applied (the skip link is moved off screen by it).
    skip_left = await page.locator("a.skip").evaluate("e => e.getBoundingClientRect().left")
    assert skip_left < 0

    link = (await w.login_link(runtime, world.coach_a)).replace(w.PUBLIC_URL, base)
    await page.goto(link)
    await page.get_by_role("button").first.click()
    await expect(page.get_by_text(world.coach_a.name)).to_be_visible()
    await page.goto(f"{base}/dashboard/cohorts/{world.cohort_a}/pulses/{world.survey}")
    await expect(page.locator("svg").first).to_be_visible()
    assert violations == []
    await context.close()
