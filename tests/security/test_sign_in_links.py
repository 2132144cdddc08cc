"""Attack: a link scanner or chat preview opens sign-in links; another site posts them.

Opening a link (GET, as scanners and previews do) must spend nothing and start no
session; only the page's button (a POST carrying a token bound to the browser that
opened the page) signs in. A used link in a browser that is still signed in goes to the
session; anywhere else it explains what to do.
"""

from __future__ import annotations

import httpx
from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.services.one_time_codes import hash_code
from bot.web.dashboard.auth import SALT
from storage.models import OneTimeCode, WebSession
from tests.security.signin_site import (
    CHAT_COOKIE,
    DASHBOARD_COOKIE,
    SECRET,
    Site,
    form_of,
    open_site,
    press_sign_in,
    sets_cookie,
)

Sessions = async_sessionmaker[AsyncSession]


async def code_used(site: Site, link: str) -> bool:
    code = link.rsplit("/", 1)[-1].rsplit("=", 1)[-1]
    async with site.sessions() as session:
        row = await session.scalar(
            select(OneTimeCode).where(OneTimeCode.code_hash == hash_code(code))
        )
        assert row is not None
        return row.used_at is not None


async def session_rows(site: Site) -> int:
    async with site.sessions() as session:
        return len(list(await session.scalars(select(WebSession))))


async def scan(scanner: httpx.AsyncClient, link: str) -> list[httpx.Response]:
    """Fetch a link the ways scanners and previews do: GET (twice) and HEAD."""
    return [await scanner.get(link), await scanner.get(link), await scanner.head(link)]


async def test_a_link_scanner_opening_a_chat_link_spends_nothing_and_gets_no_session(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        link = await site.chat_link()
        async with site.browser() as scanner:
            for seen in await scan(scanner, link):
                assert seen.status_code in (200, 405)
                assert not sets_cookie(seen, CHAT_COOKIE)
            assert (await scanner.get("/chat/")).status_code == 401
            assert (await scanner.get("/chat/api/messages")).status_code == 401
        assert not await code_used(site, link) and await session_rows(site) == 0

        async with site.browser() as leader:
            signed_in = await press_sign_in(leader, link)
            assert signed_in.status_code == 303 and signed_in.headers["location"] == "/chat/"
            assert sets_cookie(signed_in, CHAT_COOKIE)
            assert (await leader.get("/chat/")).status_code == 200
        assert await code_used(site, link) and await session_rows(site) == 1


async def test_a_link_scanner_opening_a_dashboard_link_spends_nothing_and_gets_no_session(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        link = await site.dashboard_link()
        async with site.browser() as scanner:
            for seen in await scan(scanner, link):
                assert seen.status_code in (200, 405)
            # The page sets only an anonymous cookie that binds the form's CSRF token.
            anonymous = scanner.cookies.get(DASHBOARD_COOKIE, path="/dashboard")
            assert (
                anonymous and URLSafeSerializer(SECRET, salt=SALT).loads(anonymous)["pid"] is None
            )
            assert (await scanner.get("/dashboard/")).status_code == 401
        assert not await code_used(site, link) and await session_rows(site) == 0

        async with site.browser() as coach:
            signed_in = await press_sign_in(coach, link)
            assert signed_in.status_code == 303 and sets_cookie(signed_in, DASHBOARD_COOKIE)
            assert (await coach.get("/dashboard/")).status_code == 200
        assert await code_used(site, link) and await session_rows(site) == 1


async def test_a_sign_in_post_from_another_site_or_a_scanner_is_refused_and_spends_nothing(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        link = await site.chat_link()
        async with site.browser() as scanner:
            action, fields = form_of((await scanner.get(link)).text)
        # The attacker read the form, but the victim's browser has no matching nonce cookie.
        async with site.browser() as victim:
            for data in (fields, {}, {"csrf_token": "0" * 64}):
                refused = await victim.post(action, data=data)
                assert refused.status_code == 403 and not sets_cookie(refused, CHAT_COOKIE)
            # A token made for one link does not sign in with another.
            other = await site.chat_link()
            _, mine = form_of((await victim.get(other)).text)
            crossed = await victim.post(action, data=mine)
            assert crossed.status_code == 403
        assert not await code_used(site, link) and await session_rows(site) == 0


async def test_a_used_link_in_a_signed_in_browser_goes_to_the_session(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        chat, dashboard = await site.chat_link(), await site.dashboard_link()
        async with site.browser() as browser:
            assert (await press_sign_in(browser, chat)).status_code == 303
            assert (await press_sign_in(browser, dashboard)).status_code == 303
            again = await browser.get(chat)
            assert again.status_code == 303 and again.headers["location"] == "/chat/"
            again = await browser.get(dashboard)
            assert again.status_code == 303 and again.headers["location"] == "/dashboard/"
            # A second press of the button (its nonce cookie now gone) lands there too.
            replay = await browser.post(chat, data={"csrf_token": "stale"})
            assert replay.status_code == 303 and replay.headers["location"] == "/chat/"


async def test_a_used_or_expired_link_without_a_session_says_what_to_do(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        used, expired = await site.chat_link(), await site.chat_link()
        used_dashboard = await site.dashboard_link()
        async with site.browser() as first:
            await press_sign_in(first, used)
            await press_sign_in(first, used_dashboard)
        site.clock.advance(days=8)
        async with site.browser() as elsewhere:
            page = await elsewhere.get(used)
            assert page.status_code == 410 and not sets_cookie(page, CHAT_COOKIE)
            assert "allerede brukt" in page.text and "tenkepause chat-link" in page.text
            page = await elsewhere.get(expired)
            assert page.status_code == 410 and "utløpt" in page.text
            assert "tenkepause chat-link" in page.text
            page = await elsewhere.get(used_dashboard)
            assert page.status_code == 410 and "tenkepause login-link" in page.text
