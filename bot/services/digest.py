"""The weekly digest each coach gets in chat: response rates, new shared reflections, attention.

The payload holds numbers and person ids only; names are looked up when the digest is
rendered, in the coach's language.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import OutMessage
from bot.i18n import gettext_for
from bot.services.render import renders
from bot.services.review import (
    WEEK,
    attention_list,
    new_shared_answers,
    prompt_rate,
    visible_cohorts,
)
from storage.models import Cohort, CohortMembership, Delivery, Person
from storage.queries.inserts import insert_once

DIGEST_LIFETIME = timedelta(days=2)


def iso_week(now: datetime) -> str:
    """Return the ISO week of an instant, e.g. "2027-W09"."""
    year, week, _day = now.isocalendar()
    return f"{year}-W{week:02d}"


def digest_key(coach_id: int, now: datetime) -> str:
    """Return the outbox key of a coach's digest for the week of `now`."""
    return f"digest:{coach_id}:{iso_week(now)}"


async def digest_payload(session: AsyncSession, coach: Person, now: datetime) -> dict[str, Any]:
    """Return the numbers of a coach's digest for the seven days before `now`."""
    since = now - WEEK
    cohorts = []
    for cohort in await visible_cohorts(session, coach):
        rate = await prompt_rate(session, cohort.id, since, now)
        attention = await attention_list(session, cohort.id, now.date())
        cohorts.append(
            {
                "cohort_id": cohort.id,
                "asked": rate.asked,
                "answered": rate.answered,
                "percent": rate.percent,
                "new_shared": await new_shared_answers(session, cohort.id, since, now),
                "ignored": [a.person_id for a in attention if "ignored" in a.reasons],
                "unreachable": [a.person_id for a in attention if "unreachable" in a.reasons],
            }
        )
    return {"iso_week": iso_week(now), "since": since.isoformat(), "cohorts": cohorts}


async def coaches(session: AsyncSession) -> list[Person]:
    """Return everyone who coaches at least one cohort."""
    coach_ids = select(CohortMembership.person_id).where(CohortMembership.role == "coach")
    return list(
        await session.scalars(
            select(Person)
            .where(Person.id.in_(coach_ids), Person.role.in_(("coach", "admin")))
            .order_by(Person.id)
        )
    )


async def queue_weekly_digests(session: AsyncSession, now: datetime) -> int:
    """Queue this week's digest for every coach once; return how many were new.

    Safe to call on every tick: the key holds the ISO week, so a second call adds nothing.
    """
    queued = 0
    for coach in await coaches(session):
        key = digest_key(coach.id, now)
        exists = await session.scalar(select(Delivery.id).where(Delivery.key == key))
        if exists is not None:
            continue
        inserted = await insert_once(
            session,
            Delivery,
            {
                "key": key,
                "kind": "digest",
                "person_id": coach.id,
                "payload": await digest_payload(session, coach, now),
                "status": "pending",
                "due_at": now,
                "next_attempt_at": now,
                "expires_at": now + DIGEST_LIFETIME,
                "attempts": 0,
                "throttles": 0,
                "created_at": now,
                "updated_at": now,
            },
        )
        queued += int(inserted)
    return queued


@renders("digest")
async def render_digest(session: AsyncSession, delivery: Delivery, locale: str) -> OutMessage:
    """Render a digest payload as one message, a paragraph per cohort."""
    tr = gettext_for(locale)
    _ = tr.gettext
    payload = delivery.payload
    paragraphs = []
    for part in payload.get("cohorts", []):
        cohort = await session.get(Cohort, int(part["cohort_id"]))
        lines = [f"{cohort.title or cohort.name}:" if cohort else "?"]
        lines.append(
            _("Prompts answered: {answered} of {asked} ({percent} %)").format(
                answered=part["answered"], asked=part["asked"], percent=part["percent"]
            )
        )
        count = int(part["new_shared"])
        lines.append(
            tr.ngettext(
                "{count} new reflection shared with you",
                "{count} new reflections shared with you",
                count,
            ).format(count=count)
        )
        ignored = await _names(session, part.get("ignored", []))
        if ignored:
            lines.append(_("Not answering prompts: {names}").format(names=", ".join(ignored)))
        unreachable = await _names(session, part.get("unreachable", []))
        if unreachable:
            lines.append(_("Cannot be reached: {names}").format(names=", ".join(unreachable)))
        paragraphs.append("\n".join(lines))
    if not paragraphs:
        paragraphs.append(_("You coach no cohorts yet."))
    title = _("Your week in Tenkepause ({week})").format(week=payload.get("iso_week", ""))
    return OutMessage(text="\n\n".join(paragraphs), locale=locale, title=title, tag="digest")


async def _names(session: AsyncSession, person_ids: list[int]) -> list[str]:
    if not person_ids:
        return []
    rows = await session.scalars(
        select(Person.name).where(Person.id.in_(person_ids)).order_by(Person.name)
    )
    return list(rows)
