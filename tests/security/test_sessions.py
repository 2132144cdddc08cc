"""Attack: reuse a session cookie after logout, after removal from the roster, after idling.

The attacker holds a copy of the victim's cookie (a shared computer, a backup of the
browser profile, a stolen device) and replays it from a browser of their own.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.channels.webchat.cookies import csrf_token
from bot.core.problems import UserError
from bot.services.web_sessions import RENEW_EVERY
from bot.web.dashboard.auth import NotStaff, issue_login_link
from storage.models import Person, WebSession
from tests.security.signin_site import (
    CHAT_COOKIE,
    COACH,
    DASHBOARD_COOKIE,
    LEADER,
    OTHER_LEADER,
    SECRET,
    Site,
    form_of,
    open_site,
    press_sign_in,
    roster_without,
    sets_cookie,
)

Sessions = async_sessionmaker[AsyncSession]


def copy_cookie(browser: httpx.AsyncClient, name: str, path: str) -> str:
    value = browser.cookies.get(name, path=path)
    assert value, f"{name} is not set"
    return value


async def replay_chat(site: Site, cookie: str) -> list[int]:
    """Use a copied chat cookie from another browser: page, history and a post."""
    async with site.browser() as thief:
        thief.cookies.set(CHAT_COOKIE, cookie, path="/chat")
        return [
            (await thief.get("/chat/")).status_code,
            (await thief.get("/chat/api/messages")).status_code,
            (await thief.post("/chat/api/act", json={"type": "text", "text": "hei"})).status_code,
        ]


async def replay_dashboard(site: Site, cookie: str) -> int:
    async with site.browser() as thief:
        thief.cookies.set(DASHBOARD_COOKIE, cookie, path="/dashboard")
        return (await thief.get("/dashboard/")).status_code


async def signed_in_chat(site: Site) -> httpx.AsyncClient:
    browser = site.browser()
    assert (await press_sign_in(browser, await site.chat_link())).status_code == 303
    return browser


async def signed_in_dashboard(site: Site) -> httpx.AsyncClient:
    browser = site.browser()
    assert (await press_sign_in(browser, await site.dashboard_link())).status_code == 303
    return browser


async def test_a_chat_cookie_copied_before_logout_is_refused_after_it(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        leader = await signed_in_chat(site)
        cookie = copy_cookie(leader, CHAT_COOKIE, "/chat")
        assert await replay_chat(site, cookie) == [200, 200, 403]  # works (CSRF aside) until logout
        page = await leader.get("/chat/")
        action, fields = form_of(page.text)
        assert action == "/chat/logout"
        out = await leader.post(action, data=fields)
        assert out.status_code == 200 and not sets_cookie(out, CHAT_COOKIE)
        assert (await leader.get("/chat/")).status_code == 401
        await leader.aclose()
        assert await replay_chat(site, cookie) == [401, 401, 401]


async def test_logout_without_the_page_token_is_refused(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        leader = await signed_in_chat(site)
        # Another site cannot sign the leader out (nor anything else) without the token.
        assert (await leader.post("/chat/logout", data={})).status_code == 403
        assert (await leader.get("/chat/")).status_code == 200
        await leader.aclose()


async def test_a_dashboard_cookie_copied_before_logout_is_refused_after_it(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        coach = await signed_in_dashboard(site)
        cookie = copy_cookie(coach, DASHBOARD_COOKIE, "/dashboard")
        assert await replay_dashboard(site, cookie) == 200
        home = await coach.get("/dashboard/")
        token = form_of(home.text)[1]["csrf_token"]
        assert (
            await coach.post("/dashboard/logout", data={"csrf_token": token})
        ).status_code == 200
        await coach.aclose()
        assert await replay_dashboard(site, cookie) == 401
        async with site.sessions() as session:
            assert list(await session.scalars(select(WebSession))) == []


async def test_people_removed_from_the_roster_lose_every_session_at_once(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        leader, coach = await signed_in_chat(site), await signed_in_dashboard(site)
        # The coach also uses the web chat, on a second device.
        coach_chat = site.browser()
        await press_sign_in(coach_chat, await site.chat_link(COACH))
        cookies = (
            copy_cookie(leader, CHAT_COOKIE, "/chat"),
            copy_cookie(coach, DASHBOARD_COOKIE, "/dashboard"),
            copy_cookie(coach_chat, CHAT_COOKIE, "/chat"),
        )
        assert await replay_chat(site, cookies[0]) == [200, 200, 403]
        assert await replay_dashboard(site, cookies[1]) == 200
        assert await replay_chat(site, cookies[2]) == [200, 200, 403]

        await site.import_roster(roster_without(LEADER, COACH))

        assert [(await leader.get("/chat/")).status_code] == [401]
        assert (await leader.get("/chat/api/messages")).status_code == 401
        assert (await coach.get("/dashboard/")).status_code == 401
        assert (await coach_chat.get("/chat/")).status_code == 401
        assert await replay_chat(site, cookies[0]) == [401, 401, 401]
        assert await replay_dashboard(site, cookies[1]) == 401
        assert await replay_chat(site, cookies[2]) == [401, 401, 401]
        for browser in (leader, coach, coach_chat):
            await browser.aclose()
        # Nor can they sign in again with a link issued before, or get a new one.
        async with site.sessions() as session:
            gone = await session.scalar(select(Person).where(Person.email == COACH))
            assert gone is not None and gone.deactivated_at is not None
            with pytest.raises(NotStaff, match="no longer in the roster"):
                await issue_login_link(session, gone, site.clock.now(), "http://testserver")
        with pytest.raises(UserError, match="no longer in the roster"):
            await site.chat_link(LEADER)


async def test_a_link_issued_before_removal_does_not_sign_in_after_it(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        chat, dashboard = await site.chat_link(), await site.dashboard_link()
        await site.import_roster(roster_without(LEADER, COACH))
        async with site.browser() as browser:
            assert (await browser.get(chat)).status_code == 410
            page = await browser.get(dashboard)
            assert page.status_code == 200  # the button is shown, but pressing it fails
            action, fields = form_of(page.text)
            pressed = await browser.post(action, data=fields)
            assert pressed.status_code == 410 and not sets_cookie(pressed, DASHBOARD_COOKIE)
        # Named in the roster again, a fresh link works.
        await site.import_roster(roster_without())
        async with site.browser() as browser:
            assert (await press_sign_in(browser, await site.chat_link())).status_code == 303
            assert (await browser.get("/chat/")).status_code == 200


async def say(site: Site, browser: httpx.AsyncClient, text: str) -> httpx.Response:
    """Write in the chat without reloading the page (the token comes from the cookie)."""
    token = csrf_token(SECRET, copy_cookie(browser, CHAT_COOKIE, "/chat"))
    return await browser.post(
        "/chat/api/act", json={"type": "text", "text": text}, headers={"X-CSRF-Token": token}
    )


async def test_an_idle_chat_session_expires_after_14_days_and_an_active_one_renews(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        idle, active = await signed_in_chat(site), site.browser()
        assert (await press_sign_in(active, await site.chat_link(OTHER_LEADER))).status_code == 303
        idle_cookie = copy_cookie(idle, CHAT_COOKIE, "/chat")

        # The active leader writes in the chat every 10 days, for 40 days.
        for _ in range(4):
            site.clock.advance(days=10)
            said = await say(site, active, "hei")
            assert said.status_code == 200
            assert sets_cookie(said, CHAT_COOKIE)  # the browser's expiry moves along too

        # The idle one has not been used for 40 days: refused, also as a copied cookie.
        assert (await idle.get("/chat/")).status_code == 401
        assert await replay_chat(site, idle_cookie) == [401, 401, 401]

        # A moment short of 14 days idle the session still works (opening the page renews)...
        site.clock.advance(days=14, seconds=-60)
        assert (await active.get("/chat/")).status_code == 200
        # ...and 14 days idle after that, it is over.
        site.clock.advance(days=14)
        assert (await active.get("/chat/api/messages")).status_code == 401
        assert (await active.get("/chat/")).status_code == 401
        for browser in (idle, active):
            await browser.aclose()


async def test_a_tab_left_open_does_not_keep_the_chat_session_alive(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        tab = await signed_in_chat(site)
        # The page polls for messages on its own; nobody is there.
        for _ in range(13):
            site.clock.advance(days=1)
            polled = await tab.get("/chat/api/messages")
            assert polled.status_code == 200 and not sets_cookie(polled, CHAT_COOKIE)
        site.clock.advance(days=1)
        assert (await tab.get("/chat/api/messages")).status_code == 401
        await tab.aclose()


async def test_the_idle_limit_is_configurable_and_renewal_is_not_a_write_per_request(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions, idle_days=2) as site:
        leader = await signed_in_chat(site)
        site.clock.advance(days=1, hours=23)
        assert (await say(site, leader, "hei")).status_code == 200
        async with site.sessions() as session:
            first = await session.scalar(select(WebSession.expires_at))
        assert first == site.clock.now() + timedelta(days=2)
        site.clock.advance(seconds=RENEW_EVERY.total_seconds() / 2)
        assert (await say(site, leader, "hei igjen")).status_code == 200
        async with site.sessions() as session:
            assert await session.scalar(select(WebSession.expires_at)) == first
        site.clock.advance(days=2)
        assert (await leader.get("/chat/")).status_code == 401
        await leader.aclose()


async def test_a_dashboard_session_keeps_its_8_hour_limit_even_while_used(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        coach = await signed_in_dashboard(site)
        cookie = copy_cookie(coach, DASHBOARD_COOKIE, "/dashboard")
        for _ in range(7):
            site.clock.advance(hours=1)
            assert (await coach.get("/dashboard/")).status_code == 200
        site.clock.advance(hours=1)
        assert (await coach.get("/dashboard/")).status_code == 401
        assert await replay_dashboard(site, cookie) == 401
        await coach.aclose()
