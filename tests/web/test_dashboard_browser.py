"""The coach's tour in headless Chromium: sign in by link, read, see the chart, post a prompt.

The real app runs under uvicorn in this process on 127.0.0.1 (a free port) against the
test database; Playwright drives Debian's chromium (`make browser` installs it).
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.runtime import Runtime
from bot.web.dashboard.auth import issue_login_link
from storage.models import Delivery, Person
from tests.web import world as w
from tests.web.conftest import loopback_listener, loopback_only, serving, shot


@pytest.fixture
async def served(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[tuple[Runtime, w.World, str]]:
    """Serve the real app with uvicorn on a free loopback port; yield its base URL."""
    world = await w.build_world(sessions)
    listener, base = loopback_listener()
    runtime = w.make_runtime(engine, sessions, db_url)
    runtime.settings = runtime.settings.model_copy(update={"public_url": base})
    async with serving(w.make_app(runtime), listener):
        yield runtime, world, base


async def test_coach_signs_in_reads_sees_the_chart_and_posts_a_group_prompt(
    served: tuple[Runtime, w.World, str], browser: Browser, backend: str
) -> None:
    runtime, world, base = served
    async with runtime.sessions() as session:
        coach = await session.get(Person, world.coach_a.id)
        assert coach is not None
        link = await issue_login_link(session, coach, runtime.clock.now(), base)
        await session.commit()
    context = await browser.new_context(locale="en-GB", viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    await page.route("**/*", lambda route: loopback_only(route, base))

    await page.goto(link)
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "Skip to content"
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Your cohorts")).to_be_visible()
    await page.get_by_role("link", name="Kull A").click()
    await expect(page.get_by_role("heading", name="Kull A", exact=True)).to_be_visible()
    await expect(page.get_by_role("heading", name="Needs attention")).to_be_visible()
    await shot(page, "dashboard-cohort", backend)

    await page.get_by_role("link", name="Leder A1").first.click()
    await expect(page.get_by_text(w.SHARED_TEXT)).to_be_visible()
    content = await page.content()
    assert w.PRIVATE_TEXT not in content
    await shot(page, "dashboard-timeline", backend)
    await page.goto(f"{base}/dashboard/cohorts/{world.cohort_a}/people/{world.leader.id + 1}")
    assert w.PRIVATE_TEXT not in await page.content()

    await page.goto(f"{base}/dashboard/cohorts/{world.cohort_a}")
    await page.get_by_role("link", name="Wellbeing").click()
    # The latest closed round had two answers: withheld, with the reason, and no bars.
    await expect(page.get_by_text("Result withheld.")).to_be_visible()
    await expect(page.get_by_text("Round 2: Hidden to protect anonymity")).to_be_visible()
    assert await page.locator("rect.bar").count() == 0
    await expect(page.get_by_role("img", name="Mean per round")).to_be_visible()
    await page.get_by_role("link", name="Round 1").click()
    chart = page.get_by_role("img", name="Distribution of answers: How much energy")
    await expect(chart).to_be_visible()
    assert await chart.locator("rect.bar").count() == 5
    assert await chart.locator("text.count").all_text_contents() == ["0", "1", "1", "2", "2"]
    await shot(page, "dashboard-pulse", backend)

    await page.goto(f"{base}/dashboard/cohorts/{world.cohort_a}")
    await page.get_by_label("Peer group").select_option(str(world.group_a))
    await page.get_by_label("Prompt", exact=True).fill("Hva lærte dere av forrige samling?")
    await page.get_by_label("Now").check()
    await page.get_by_role("button", name="Post prompt").click()
    await expect(page.get_by_role("status")).to_have_text("The prompt was queued for the group.")
    await shot(page, "dashboard-posted", backend)
    await context.close()

    async with runtime.sessions() as session:
        queued = list(
            await session.scalars(select(Delivery).where(Delivery.kind == "group_prompt"))
        )
    assert len(queued) == 6 and {d.group_id for d in queued} == {world.group_a}
