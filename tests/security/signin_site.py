"""The real app (dashboard and web chat) on the example roster, and browsers to attack it with.

People come from `examples/roster.csv` through the real roster import; each "browser" is a
separate HTTP client with its own cookie jar, calling the app in-process.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from bot.app import enabled_plugins
from bot.clock import FrozenClock
from bot.core.roster import Creating
from bot.handlers.registry import build_router
from bot.runtime import Runtime
from bot.services.chat_links import chat_link
from bot.services.roster_import import run_roster_import
from bot.settings import Settings
from bot.web.dashboard import dashboard_routes
from bot.web.dashboard.auth import issue_login_link
from bot.web.server import build_app
from storage.models import Person
from tests import factories

ROSTER = Path(__file__).resolve().parents[2] / "examples" / "roster.csv"
BASE = "http://testserver"
SECRET = "security-tests-secret-key-that-is-long-enough-0123456789"
COACH = "marit.odegaard.lie@trondheim.kommune.example"
LEADER = "ingrid.solberg-aune@trondheim.kommune.example"
OTHER_LEADER = "ase.odegard@trondheim.kommune.example"
CHAT_COOKIE = "tenkepause_chat"
DASHBOARD_COOKIE = "tk_dashboard"


@dataclass
class Site:
    """The running app, its clock and database, and the ids of the people under attack."""

    runtime: Runtime
    app: Starlette
    clock: FrozenClock
    sessions: async_sessionmaker[AsyncSession]
    coach_id: int
    leader_id: int

    def browser(self) -> httpx.AsyncClient:
        """Return a new browser: its own cookie jar, nothing shared with any other."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=BASE,
            headers={"Accept-Language": "en"},
        )

    async def import_roster(self, text: str) -> None:
        """Import roster text with the real service, as `tenkepause roster import` does."""
        await run_roster_import(
            self.sessions, text.encode("utf-8"), "roster.csv", now=self.clock.now()
        )

    async def chat_link(self, email: str = LEADER) -> str:
        """Issue a web chat link for a person, as `tenkepause chat-link` does."""
        async with self.sessions.begin() as session:
            link = await chat_link(session, email, BASE, self.clock.now())
        return link.removeprefix(BASE)

    async def dashboard_link(self, email: str = COACH) -> str:
        """Issue a dashboard link for a coach, as the chat command `dashboard` does."""
        async with self.sessions.begin() as session:
            person = await session.scalar(select(Person).where(Person.email == email))
            assert person is not None
            link = await issue_login_link(session, person, self.clock.now(), BASE)
        return link.removeprefix(BASE)


@asynccontextmanager
async def open_site(
    db_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    *,
    idle_days: float = 14,
) -> AsyncIterator[Site]:
    """Import the example roster and build the app `tenkepause run` serves."""
    settings = Settings(
        database_url=db_url,
        secret_key=SecretStr(SECRET),
        public_url=BASE,
        webchat_idle_days=idle_days,
    )
    clock = FrozenClock(factories.T0)
    runtime = Runtime(settings, engine, sessions, clock, instance="security")
    runtime.router = build_router(sessions, clock, runtime.secret, settings.conversation_policy())
    runtime.plugins = enabled_plugins(runtime)
    app = build_app(runtime, extra_routes=dashboard_routes(runtime))
    await run_roster_import(
        sessions, ROSTER.read_bytes(), str(ROSTER), now=clock.now(), creating=Creating(cohorts=True)
    )
    async with sessions() as session:
        ids = {
            email: person_id
            for person_id, email in await session.execute(
                select(Person.id, Person.email).where(Person.email.in_([COACH, LEADER]))
            )
        }
    yield Site(runtime, app, clock, sessions, ids[COACH], ids[LEADER])


def roster_without(*emails: str) -> str:
    """Return the example roster with these people's rows left out."""
    lines = ROSTER.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if line.split(";")[0] not in emails) + "\n"


def form_of(html: str) -> tuple[str, dict[str, str]]:
    """Return the action and the hidden fields of the first POST form on a page."""
    action = re.search(r'<form[^>]* method="post" action="([^"]+)"', html)
    assert action is not None, html
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    return action.group(1), fields


async def press_sign_in(browser: httpx.AsyncClient, link: str) -> httpx.Response:
    """Open a sign-in link and press its button, as a person in a browser does."""
    page = await browser.get(link)
    assert page.status_code == 200, page.text
    action, fields = form_of(page.text)
    return await browser.post(action, data=fields)


async def chat_csrf(browser: httpx.AsyncClient) -> str:
    """Return the web chat page's CSRF token (the page must be open to this browser)."""
    page = await browser.get("/chat/")
    assert page.status_code == 200, page.text
    match = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
    assert match is not None
    return match.group(1)


def sets_cookie(response: httpx.Response, name: str) -> bool:
    """Tell whether a response sets (not deletes) a cookie of this name."""
    for header in response.headers.get_list("set-cookie"):
        cookie_name, _eq, rest = header.partition("=")
        value = rest.split(";", 1)[0].strip().strip('"')
        if cookie_name.strip() == name and value and "max-age=0" not in header.lower():
            return True
    return False
