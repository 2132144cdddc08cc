"""Cookies of real server-side sessions, signed with whatever key an attack needs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response

from bot.channels.webchat.cookies import session_cookie
from bot.services.web_sessions import SessionKind, start_session
from bot.web.dashboard.auth import SessionCookies
from storage.models import Person

LIFETIME = timedelta(days=1)


async def session_token(
    sessions: async_sessionmaker[AsyncSession], person_id: int, kind: SessionKind, now: datetime
) -> str:
    """Start a genuine session for `person_id` and return its token."""
    async with sessions() as session, session.begin():
        person = await session.get(Person, person_id)
        assert person is not None
        return await start_session(session, person, kind, now, LIFETIME)


def chat_cookie(key: str, token: str) -> str:
    """Sign a web chat session cookie for `token` with `key`."""
    return session_cookie(key, token)


def dashboard_cookie(key: str, token: str, person_id: int, now: datetime) -> str:
    """Sign a dashboard session cookie for `token` with `key`, as the dashboard does."""
    response = Response()
    SessionCookies(key, secure=False).start(response, token, person_id, now)
    return response.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
