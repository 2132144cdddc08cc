"""Weekly digests and coach comments on both backends: once per week, numbers, rendering."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import render as render_service
from bot.services.comments import add_comment
from bot.services.digest import digest_key, iso_week, queue_weekly_digests
from storage.models import Delivery, Person
from tests.web import world as w


async def digests(session: AsyncSession) -> list[Delivery]:
    """Return the queued digests by person."""
    return list(
        await session.scalars(
            select(Delivery).where(Delivery.kind == "digest").order_by(Delivery.person_id)
        )
    )


async def test_each_coach_gets_one_digest_per_week_with_the_numbers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await w.build_world(sessions)
    async with sessions() as session:
        assert await queue_weekly_digests(session, w.NOW) == 2
        assert await queue_weekly_digests(session, w.NOW + timedelta(hours=3)) == 0
        await session.commit()
    async with sessions() as session:
        rows = await digests(session)
    assert [r.person_id for r in rows] == [world.coach_a.id, world.coach_b.id]
    assert (
        rows[0].key == digest_key(world.coach_a.id, w.NOW) == f"digest:{world.coach_a.id}:2027-W12"
    )
    (part,) = rows[0].payload["cohorts"]
    assert part["cohort_id"] == world.cohort_a
    assert (part["asked"], part["answered"], part["percent"]) == (6, 3, 50)
    assert part["new_shared"] == 2  # the coach and group answers; the private one is not counted
    assert len(part["unreachable"]) == 1 and len(part["ignored"]) == 1
    assert "text" not in str(rows[0].payload).lower()
    async with sessions() as session:
        assert await queue_weekly_digests(session, w.NOW + timedelta(days=7)) == 2
        await session.commit()


async def test_digest_renders_in_the_coachs_language(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await w.build_world(sessions)
    async with sessions() as session:
        coach = await session.get(Person, world.coach_a.id)
        assert coach is not None
        coach.locale = "nb"
        await queue_weekly_digests(session, w.NOW)
        delivery = (await digests(session))[0]
        message = await render_service.render(session, delivery)
    assert message.tag == "digest" and iso_week(w.NOW) in (message.title or "")
    assert "Kull A" in message.text and "3 av 6" in message.text
    assert "Leder A4" in message.text  # stopped answering
    assert "Leder A2" in message.text  # unreachable
    assert w.SHARED_TEXT not in message.text


async def test_comment_is_queued_and_rendered_for_the_author_only_if_visible(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await w.build_world(sessions)
    async with sessions() as session:
        coach_a = await session.get(Person, world.coach_a.id)
        coach_b = await session.get(Person, world.coach_b.id)
        assert coach_a is not None and coach_b is not None
        assert await add_comment(session, coach_b, world.shared_answer, "Hei", w.NOW) is None
        assert await add_comment(session, coach_a, world.private_answer, "Hei", w.NOW) is None
        comment = await add_comment(session, coach_a, world.shared_answer, "Sterkt!", w.NOW)
        assert comment is not None
        delivery = await session.scalar(select(Delivery).where(Delivery.kind == "comment"))
        assert delivery is not None and delivery.person_id == world.leader.id
        message = await render_service.render(session, delivery)
        count = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.kind == "comment")
        )
    assert count == 1
    assert message.text == "Sterkt!" and message.tag == "comment"
    assert "Coach Anna" in (message.title or "")
    assert message.context == ("About: Describe a decision you shared.",)
