"""Attack: redeem one single-use code 8 times at once; exactly one redemption may win.

Each contender has its own database session (its own connection) and waits at a barrier
until all 8 are connected and have read what they need, so the redemptions really do
overlap in the database. Before the conditional UPDATE, 8 of 8 won on SQLite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.channels.telegram.onboarding import INVITE, Onboarding
from bot.clock import FrozenClock
from bot.i18n import gettext_for
from bot.services import chat_links
from bot.services.group_links import issue_group_link_code, link_group_chat
from bot.services.one_time_codes import hash_code, issue_code, redeem_code
from bot.web.dashboard.auth import redeem_login
from storage.models import GroupChat, Identity, OneTimeCode, PeerGroup, Person, WebSession
from tests import factories
from tests.security.signin_site import (
    CHAT_COOKIE,
    DASHBOARD_COOKIE,
    Site,
    form_of,
    open_site,
    sets_cookie,
)

CONTENDERS = 8
Sessions = async_sessionmaker[AsyncSession]


async def race(
    sessions: Sessions, attempt: Callable[[AsyncSession, int], Awaitable[bool]]
) -> list[bool]:
    """Run `attempt` on 8 sessions at once, each committing its own transaction."""
    barrier = asyncio.Barrier(CONTENDERS)

    async def contender(number: int) -> bool:
        async with sessions() as session:
            # Hold a connection and read before the barrier, as a real request would.
            await session.scalar(select(OneTimeCode.id).limit(1))
            await barrier.wait()
            won = await attempt(session, number)
            await session.commit()
            return won

    return list(await asyncio.gather(*(contender(n) for n in range(CONTENDERS))))


async def used_count(sessions: Sessions, code: str) -> int:
    async with sessions() as session:
        row = await session.scalar(
            select(OneTimeCode).where(OneTimeCode.code_hash == hash_code(code))
        )
        assert row is not None
        return 1 if row.used_at is not None else 0


async def test_one_web_chat_or_login_code_redeemed_8_ways_at_once_wins_once(
    sessions: Sessions,
) -> None:
    async with sessions.begin() as session:
        leader = await factories.person(session)
        code = await issue_code(
            session,
            chat_links.PURPOSE,
            now=factories.T0,
            ttl=timedelta(days=7),
            person_id=leader.id,
        )

    async def attempt(session: AsyncSession, _number: int) -> bool:
        result = await redeem_code(session, chat_links.PURPOSE, code, factories.T0)
        return isinstance(result, OneTimeCode)

    assert sum(await race(sessions, attempt)) == 1
    assert await used_count(sessions, code) == 1


async def test_one_dashboard_code_redeemed_8_ways_at_once_wins_once(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        coach = await factories.person(session, role="coach")
        code = await issue_code(
            session,
            "dashboard_login",
            now=factories.T0,
            ttl=timedelta(minutes=15),
            person_id=coach.id,
        )

    async def attempt(session: AsyncSession, _number: int) -> bool:
        return isinstance(await redeem_login(session, code, factories.T0), Person)

    assert sum(await race(sessions, attempt)) == 1


async def test_one_group_link_code_used_by_8_chats_at_once_links_one(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        coach = await factories.person(session, role="coach")
        _cohort, group = await factories.cohort_with_group(session)
        code = await issue_group_link_code(session, group, factories.T0)
        coach_id = coach.id

    async def attempt(session: AsyncSession, number: int) -> bool:
        person = await session.get(Person, coach_id)
        assert person is not None
        outcome = await link_group_chat(
            session, person, "telegram", f"-100{number}", {"chat_id": number}, code, factories.T0
        )
        return outcome.refusal is None

    assert sum(await race(sessions, attempt)) == 1
    async with sessions() as session:
        chats = list(await session.scalars(select(GroupChat)))
        assert len(chats) == 1 and await session.get(PeerGroup, chats[0].group_id) is not None


async def test_one_telegram_invite_accepted_8_times_at_once_is_spent_once(
    sessions: Sessions,
) -> None:
    async with sessions.begin() as session:
        leader = await factories.person(session)
        code = await issue_code(
            session, INVITE, now=factories.T0, ttl=timedelta(days=14), person_id=leader.id
        )
        row = await session.scalar(
            select(OneTimeCode).where(OneTimeCode.code_hash == hash_code(code))
        )
        assert row is not None
        code_id = row.id
        session.add(
            Identity(
                person_id=leader.id,
                platform="telegram",
                external_id="4242",
                address={"chat_id": 4242},
                status="pending",
            )
        )
    onboarding = Onboarding(sessions, FrozenClock(factories.T0), "secret")
    barrier = asyncio.Barrier(CONTENDERS)

    class NoChannel:
        async def update(self, *_args: object) -> None:
            """Stand in for the Telegram channel: the outcome message is not under test."""

        async def send(self, *_args: object) -> str:
            return "1"

    async def tap(number: int) -> str | None:
        await barrier.wait()
        return await onboarding.consent(
            f"tap-{number}",
            user_id=4242,
            value=f"{code_id}.yes",
            message_ref=None,
            channel=NoChannel(),  # type: ignore[arg-type]
        )

    notices = await asyncio.gather(*(tap(n) for n in range(CONTENDERS)))
    linked = [n for n in notices if n == gettext_for("nb").gettext("Linked.")]
    assert len(linked) == 1  # the rest are told nothing, or that the button is spent
    async with sessions() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == "4242"))
        assert identity is not None and identity.status == "active"
        assert await used_count(sessions, code) == 1


async def press_at_once(site: Site, link: str) -> list[httpx.Response]:
    """Open `link` in CONTENDERS browsers, then press every sign-in button at the same moment."""
    browsers = [site.browser() for _ in range(CONTENDERS)]
    forms = []
    for browser in browsers:
        page = await browser.get(link)
        assert page.status_code == 200
        forms.append(form_of(page.text))
    barrier = asyncio.Barrier(CONTENDERS)

    async def press(browser: httpx.AsyncClient, form: tuple[str, dict[str, str]]) -> httpx.Response:
        await barrier.wait()
        return await browser.post(form[0], data=form[1])

    try:
        return list(
            await asyncio.gather(*(press(b, f) for b, f in zip(browsers, forms, strict=True)))
        )
    finally:
        for browser in browsers:
            await browser.aclose()


async def test_8_browsers_pressing_sign_in_on_one_chat_link_at_once_get_one_session(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        link = await site.chat_link()
        answers = await press_at_once(site, link)
    signed_in = [a for a in answers if a.status_code == 303 and sets_cookie(a, CHAT_COOKIE)]
    assert len(signed_in) == 1
    assert sorted(a.status_code for a in answers) == [303] + [410] * (CONTENDERS - 1)
    async with sessions() as session:
        assert len(list(await session.scalars(select(WebSession)))) == 1


async def test_8_browsers_pressing_sign_in_on_one_dashboard_link_at_once_get_one_session(
    db_url: str, engine: AsyncEngine, sessions: Sessions
) -> None:
    async with open_site(db_url, engine, sessions) as site:
        link = await site.dashboard_link()
        answers = await press_at_once(site, link)
    signed_in = [a for a in answers if a.status_code == 303 and sets_cookie(a, DASHBOARD_COOKIE)]
    assert len(signed_in) == 1
    assert sorted(a.status_code for a in answers) == [303] + [410] * (CONTENDERS - 1)
    async with sessions() as session:
        assert len(list(await session.scalars(select(WebSession)))) == 1
