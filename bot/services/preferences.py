"""A leader's own settings: pause, language, time zone, unlinking."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.vocabulary import Locale
from storage.models import AuditEntry, Identity, Person


def valid_timezone(name: str) -> bool:
    """Tell whether `name` is an IANA time zone."""
    if name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return False
    return True


def pause(person: Person, until: date) -> None:
    """Pause prompts to this person until and including `until`."""
    person.paused_until = until


def resume(person: Person) -> None:
    """Resume prompts, and forgive ignored ones."""
    person.paused_until = None
    person.ignored_in_a_row, person.needs_attention_since = 0, None


def set_language(person: Person, code: str) -> bool:
    """Switch the person's language; return False for an unknown code."""
    if code not in {locale.value for locale in Locale}:
        return False
    person.locale = code
    return True


def set_timezone(person: Person, name: str) -> bool:
    """Switch the person's time zone; return False for an unknown zone."""
    if not valid_timezone(name):
        return False
    person.timezone = name
    return True


async def unlink(session: AsyncSession, identity: Identity) -> None:
    """Remove a platform link at the person's request; answers stay theirs."""
    session.add(
        AuditEntry(
            actor_id=identity.person_id,
            action="identity.unlink",
            subject=f"{identity.platform}:{identity.id}",
        )
    )
    await session.delete(identity)
