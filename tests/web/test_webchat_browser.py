"""The leader's tour in headless Chromium: open the chat link, answer a prompt and a pulse.

The real app (router, web chat channel, dispatcher, renderers) runs under uvicorn in
this process on a free loopback port; Playwright drives Debian's chromium.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import enabled_plugins
from bot.clock import FrozenClock
from bot.handlers.registry import build_router
from bot.runtime import Runtime
from bot.services.chat_links import chat_link
from bot.services.render import OutboxRenderer
from bot.settings import Settings
from bot.web.server import build_app
from scheduler.dispatcher import Dispatcher
from scheduler.rate_limits import RateLimiter
from storage.models import Answer, Delivery, PulseResponse
from tests import factories
from tests.web.conftest import loopback_listener, loopback_only, serving, shot

NOW = factories.T0


@pytest.fixture
async def chat_server(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[tuple[Runtime, str]]:
    """Serve the real app with the web chat on a free loopback port."""
    listener, base = loopback_listener()
    settings = Settings(
        TENKEPAUSE_DATABASE_URL=db_url, TENKEPAUSE_SECRET_KEY="browser", TENKEPAUSE_PUBLIC_URL=base
    )
    clock = FrozenClock(NOW)
    runtime = Runtime(settings, engine, sessions, clock, instance="browser-test")
    runtime.router = build_router(sessions, clock, runtime.secret, settings.conversation_policy())
    runtime.plugins = enabled_plugins(runtime)
    async with serving(build_app(runtime), listener):
        yield runtime, base


async def owe_prompt_and_pulse(session: AsyncSession, person_id: int) -> None:
    """Queue one reflection prompt and one anonymous pulse item for the leader, due now."""
    prompt = await factories.prompt(
        session, text={"nb": "Beskriv en situasjon der du lyttet mer enn du snakket."}
    )
    session.add(
        Delivery(
            key="browser:prompt",
            kind="prompt",
            person_id=person_id,
            prompt_id=prompt.id,
            payload={"visibility": "coach"},
            due_at=NOW,
            next_attempt_at=NOW,
            expires_at=NOW + timedelta(days=1),
        )
    )
    await factories.open_pulse(
        session,
        [person_id],
        text={"nb": "Jeg har hatt energi til lederjobben denne uka."},
        open_days=2,
        title={"nb": "Puls"},
    )


async def dispatch(runtime: Runtime) -> None:
    """Send what is due through the real dispatcher and the web chat channel."""
    dispatcher = Dispatcher(
        runtime.sessions,
        runtime.channels,
        OutboxRenderer(),
        runtime.clock,
        instance="browser-test",
        limiter=RateLimiter.off(),
    )
    while await dispatcher.run_once():
        pass


async def test_leader_answers_a_prompt_and_a_pulse_in_the_web_chat(
    chat_server: tuple[Runtime, str], browser: Browser, backend: str
) -> None:
    runtime, base = chat_server
    async with runtime.sessions.begin() as session:
        leader = await factories.person(session, name="Åse Ødegård", locale="nb")
        await owe_prompt_and_pulse(session, leader.id)
        link = await chat_link(session, leader.email, base, NOW)
    context = await browser.new_context(locale="nb-NO", viewport={"width": 900, "height": 1000})
    page = await context.new_page()
    await page.route("**/*", lambda route: loopback_only(route, base))
    await page.goto(link)  # shows the sign-in button; opening the link spends nothing
    await shot(page, "webchat-sign-in", backend)
    await page.get_by_role("button", name="Logg inn").click()  # signs in and opens /chat/
    await expect(page.get_by_text("Ingen meldinger ennå")).to_be_visible()
    await dispatch(runtime)

    await expect(page.get_by_text("lyttet mer enn du snakket")).to_be_visible(timeout=10_000)
    await page.get_by_label("Din refleksjon").fill("Jeg lot teamet snakke først på møtet.")
    await page.get_by_label("Kun meg").check()
    await page.get_by_role("button", name="Lagre").click()
    await expect(page.get_by_text("Besvart. Synlig for: Kun meg.")).to_be_visible()
    await shot(page, "webchat-answered", backend)

    pulse = page.locator("article", has_text="energi til lederjobben")
    await expect(pulse).to_be_visible()
    await pulse.get_by_role("button", name="4 Enig").click()
    # Anonymous: the card says only that the item is registered, and marks no button.
    await expect(pulse.get_by_text("Svarene dine: 1: registrert")).to_be_visible()
    await expect(pulse.locator("button.primary")).to_have_count(0)
    await shot(page, "webchat-pulse", backend)
    await page.goto(link)  # the used link, in a browser still signed in: back to the chat
    await expect(page).to_have_url(f"{base}/chat/")
    await page.get_by_role("button", name="Logg ut").click()
    await expect(page.get_by_role("heading", name="Du er logget ut")).to_be_visible()
    await page.goto(f"{base}/chat/")
    await expect(page.get_by_role("heading", name="Du er ikke logget inn")).to_be_visible()
    await context.close()

    async with runtime.sessions() as session:
        answer = await session.scalar(select(Answer))
        responses = list(await session.scalars(select(PulseResponse)))
    assert answer is not None and (answer.text, answer.visibility, answer.platform) == (
        "Jeg lot teamet snakke først på møtet.",
        "private",
        "webchat",
    )
    values = [(factories.opened(r, "browser").value_int, r.person_id) for r in responses]
    assert values == [(4, None)]
