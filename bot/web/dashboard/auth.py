"""Coach sign-in: single-use login links and a signed, expiring, revocable session cookie.

A login link carries a one-time code (only its hash is stored). Opening the link shows a
"Sign in" button rather than signing in at once, so that link previews and mail scanners,
which fetch links with GET, cannot use up the code. The session cookie is signed with
itsdangerous, HttpOnly, SameSite=Lax, and expires after `SESSION_TTL`, judged by the
injected clock. A signed-in cookie's id is a server-side session (`web_sessions`), so
logout and removal from the roster end it at once; a cookie without a person only binds
the CSRF token of the sign-in form.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from bot.core.problems import UserError
from bot.services.coaching import is_staff
from bot.services.one_time_codes import CodeProblem, issue_code, redeem_code
from bot.services.web_sessions import is_active
from storage.models import AuditEntry, Person

LOGIN_PURPOSE = "dashboard_login"
LOGIN_TTL = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=8)
COOKIE = "tk_dashboard"
COOKIE_PATH = "/dashboard"
SALT = "tenkepause.dashboard.session"


class NotStaff(UserError):
    """Someone who is neither coach nor admin asked for a dashboard link."""


@dataclass(frozen=True)
class DashboardSession:
    """What the cookie says: a random id (binds CSRF tokens), the person, when it began."""

    sid: str
    person_id: int | None
    issued: datetime

    def expired(self, now: datetime) -> bool:
        """Tell whether the session is too old to use."""
        return now >= self.issued + SESSION_TTL or now < self.issued - timedelta(minutes=5)


def login_url(public_url: str, code: str) -> str:
    """Return the dashboard link that redeems `code`."""
    return f"{public_url.rstrip('/')}/dashboard/login?code={code}"


async def issue_login_link(
    session: AsyncSession, person: Person, now: datetime, public_url: str
) -> str:
    """Return a single-use link that signs a coach or admin in to the dashboard."""
    if not is_staff(person):
        raise NotStaff(f"{person.email} is not a coach or admin, so has no dashboard")
    if not is_active(person):
        raise NotStaff(f"{person.email} is no longer in the roster, so has no dashboard")
    code = await issue_code(session, LOGIN_PURPOSE, now=now, ttl=LOGIN_TTL, person_id=person.id)
    return login_url(public_url, code)


async def person_by_email(session: AsyncSession, email: str) -> Person | None:
    """Find a person by email, ignoring case."""
    return await session.scalar(
        select(Person).where(func.lower(Person.email) == email.strip().lower())
    )


async def redeem_login(session: AsyncSession, code: str, now: datetime) -> Person | CodeProblem:
    """Use a login code once: return its coach or admin, or why it was refused."""
    row = await redeem_code(session, LOGIN_PURPOSE, code, now)
    if isinstance(row, CodeProblem):
        return row
    person = await session.get(Person, row.person_id) if row.person_id is not None else None
    if person is None or not is_staff(person) or not is_active(person):
        return CodeProblem.UNKNOWN
    session.add(AuditEntry(at=now, actor_id=person.id, action="dashboard.login", subject=""))
    await session.flush()
    return person


class SessionCookies:
    """Sign, read and set the dashboard's session cookie."""

    def __init__(self, secret: str, secure: bool) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT)
        self._secure = secure

    def read(self, request: Request, now: datetime) -> DashboardSession | None:
        """Return the request's session if its cookie is genuine and fresh."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data: dict[str, Any] = self._serializer.loads(raw)
            found = DashboardSession(
                sid=str(data["sid"]),
                person_id=int(data["pid"]) if data.get("pid") is not None else None,
                issued=datetime.fromisoformat(str(data["iat"])),
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        return None if found.expired(now) else found

    def new(self, person_id: int | None, now: datetime) -> DashboardSession:
        """Return a fresh session (a new id, so an old CSRF token dies with the old one)."""
        return DashboardSession(secrets.token_urlsafe(16), person_id, now)

    def attach(self, response: Response, started: DashboardSession) -> None:
        """Set the signed cookie of a session on a response."""
        value = self._serializer.dumps(
            {"sid": started.sid, "pid": started.person_id, "iat": started.issued.isoformat()}
        )
        response.set_cookie(
            COOKIE,
            value,
            max_age=int(SESSION_TTL.total_seconds()),
            path=COOKIE_PATH,
            secure=self._secure,
            httponly=True,
            samesite="lax",
        )

    def start(
        self, response: Response, token: str, person_id: int, now: datetime
    ) -> DashboardSession:
        """Put a signed-in session on `response`; its id is the server-side session token."""
        started = DashboardSession(token, person_id, now)
        self.attach(response, started)
        return started

    def end(self, response: Response) -> None:
        """Drop the session cookie."""
        response.delete_cookie(
            COOKIE, path=COOKIE_PATH, secure=self._secure, httponly=True, samesite="lax"
        )
