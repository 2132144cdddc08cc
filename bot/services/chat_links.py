"""Personal login links to the built-in web chat."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.problems import UserError
from bot.services.one_time_codes import issue_code
from bot.services.web_sessions import is_active
from storage.models import Person

PURPOSE = "webchat_login"
LINK_LIFETIME = timedelta(days=7)


async def chat_link(session: AsyncSession, email: str, public_url: str, now: datetime) -> str:
    """Return a single-use link that signs the person with this email into the web chat."""
    person = await session.scalar(
        select(Person).where(func.lower(Person.email) == email.strip().lower())
    )
    if person is None:
        raise UserError(f"nobody with the email {email!r} is in the roster")
    if not is_active(person):
        raise UserError(f"{person.email} is no longer in the roster, so gets no chat link")
    code = await issue_code(session, PURPOSE, now=now, ttl=LINK_LIFETIME, person_id=person.id)
    return f"{public_url.rstrip('/')}/chat/login/{code}"
