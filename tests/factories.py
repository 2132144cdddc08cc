"""Build realistic rows for tests, with sensible defaults."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.port import Address, Channel
from bot.core.pulse_values import PulseValue
from bot.services.group_prompts import PostedPrompt, post_group_prompt
from bot.services.pulse_messages import pulse_card
from bot.services.pulses import value_of
from scheduler.rounds import open_due_pulse_rounds
from storage.models import (
    Cohort,
    CohortMembership,
    Delivery,
    GroupMembership,
    Identity,
    PeerGroup,
    Person,
    Prompt,
    PulseItem,
    PulseResponse,
    PulseRound,
    PulseSurvey,
)

_numbers = itertools.count(1)
T0 = datetime(2027, 3, 1, 7, 30, tzinfo=UTC)
# The app key tests hand to routers and services (slots of anonymous pulses are keyed by it).
SECRET = "factories-test-secret-with-32-bytes!"
ENERGY = {"en": "How is your energy this week?"}


async def person(session: AsyncSession, **values: Any) -> Person:
    """Create a participant (override any column)."""
    n = next(_numbers)
    values.setdefault("email", f"leder{n}@kommune.example")
    values.setdefault("name", f"Leder {n}")
    row = Person(**values)
    session.add(row)
    await session.flush()
    return row


async def identity(
    session: AsyncSession, who: Person, platform: str = "slack", **values: Any
) -> Identity:
    """Link a person to a platform account."""
    values.setdefault("external_id", f"U{who.id:06d}")
    values.setdefault("address", {"user": values["external_id"]})
    row = Identity(person_id=who.id, platform=platform, **values)
    session.add(row)
    await session.flush()
    await session.refresh(row, ["person"])
    return row


async def cohort_with_group(
    session: AsyncSession, cohort: str = "kull-1", group: str = "kull-1-gruppe-1"
) -> tuple[Cohort, PeerGroup]:
    """Create a cohort and one peer group in it."""
    row = Cohort(name=cohort)
    session.add(row)
    await session.flush()
    peer_group = PeerGroup(name=group, cohort_id=row.id)
    session.add(peer_group)
    await session.flush()
    return row, peer_group


async def join(
    session: AsyncSession, who: Person, cohort: Cohort, group: PeerGroup | None = None
) -> None:
    """Put a person in a cohort (with their role) and optionally a group."""
    session.add(CohortMembership(cohort_id=cohort.id, person_id=who.id, role=who.role))
    if group is not None:
        session.add(GroupMembership(group_id=group.id, person_id=who.id))
    await session.flush()


async def prompt(session: AsyncSession, key: str | None = None, **values: Any) -> Prompt:
    """Create a reflection prompt with bokmål and English text and a follow-up."""
    values.setdefault("text", {"nb": "Beskriv en konkret situasjon.", "en": "Describe a case."})
    values.setdefault("follow_up", {"nb": "Hva ville du gjort annerledes?", "en": "What next?"})
    row = Prompt(key=key or f"test-{next(_numbers)}", **values)
    session.add(row)
    await session.flush()
    return row


async def sent_delivery(
    session: AsyncSession,
    who: Person | None,
    about: Prompt,
    *,
    platform: str = "slack",
    kind: str = "prompt",
    message_ref: str | None = None,
    sent_at: datetime = T0,
    **values: Any,
) -> Delivery:
    """Create a prompt delivery that has already been sent."""
    n = next(_numbers)
    row = Delivery(
        key=f"test:{n}",
        kind=kind,
        person_id=who.id if who else None,
        prompt_id=about.id,
        status="sent",
        due_at=sent_at,
        next_attempt_at=sent_at,
        sent_at=sent_at,
        expires_at=sent_at + timedelta(days=7),
        platform=platform,
        message_ref=message_ref or f"D{n}:{n}.0001",
        payload=values.pop("payload", {"visibility": "coach"}),
        **values,
    )
    session.add(row)
    await session.flush()
    return row


async def pulse_survey(
    session: AsyncSession,
    *,
    key: str = "puls",
    kind: str = "likert",
    text: dict[str, str] = ENERGY,
    position: int = 0,
    **values: Any,
) -> tuple[PulseSurvey, PulseItem]:
    """Create a pulse survey (override any column) with one item, `energy`."""
    values.setdefault("start_date", T0.date())
    survey = PulseSurvey(key=key, **values)
    session.add(survey)
    await session.flush()
    item = PulseItem(survey_id=survey.id, key="energy", position=position, kind=kind, text=text)
    session.add(item)
    await session.flush()
    return survey, item


async def open_pulse(
    session: AsyncSession,
    person_ids: Sequence[int],
    *,
    anonymous: bool = True,
    kind: str = "likert",
    text: dict[str, str] = ENERGY,
    opens_at: datetime = T0,
    open_days: int = 3,
    status: str = "open",
    **survey_values: Any,
) -> tuple[PulseRound, list[Delivery]]:
    """Open round 1 of a one-item pulse survey and owe each person its pulse, due at once.

    With `status="scheduled"` the round is only planned, as the tick leaves it until its
    `opens_at`; the pulses are due then.
    """
    survey, _ = await pulse_survey(
        session,
        kind=kind,
        text=text,
        anonymous=anonymous,
        start_date=opens_at.date(),
        **survey_values,
    )
    pulse_round = PulseRound(
        survey_id=survey.id,
        number=1,
        local_date=opens_at.date(),
        opens_at=opens_at,
        closes_at=opens_at + timedelta(days=open_days),
        status=status,
    )
    session.add(pulse_round)
    await session.flush()
    deliveries = [
        Delivery.owed(
            key=f"pulse:{pulse_round.id}:person:{person_id}",
            kind="pulse",
            due_at=opens_at,
            expires_at=pulse_round.closes_at,
            person_id=person_id,
            pulse_round_id=pulse_round.id,
            payload={"survey_id": survey.id, "anonymous": anonymous},
        )
        for person_id in person_ids
    ]
    session.add_all(deliveries)
    await session.flush()
    return pulse_round, deliveries


async def group_prompt(
    session: AsyncSession, coach: Person, group: PeerGroup, text: str, send_at: datetime = T0
) -> PostedPrompt:
    """Post `text` as the coach's prompt to the group (both loaded afresh in this session)."""
    group_row = await session.get(PeerGroup, group.id)
    coach_row = await session.get(Person, coach.id)
    assert group_row is not None and coach_row is not None
    return await post_group_prompt(session, coach_row, group_row, text, send_at=send_at)


async def send_closed_card(
    sessions: async_sessionmaker[AsyncSession], channel: Channel, delivery_id: int, address: Address
) -> str:
    """Send a pulse card the way a dispatcher that ran ahead of the tick did: still closed.

    The card is rendered while its round is scheduled, so it says the round is over and
    has no buttons; the row is marked sent with the platform's reference, as after a send.
    """
    async with sessions() as session, session.begin():
        delivery = await session.get(Delivery, delivery_id)
        assert delivery is not None and delivery.person_id is not None
        person = await session.get(Person, delivery.person_id)
        assert person is not None
        card = await pulse_card(session, delivery, person.locale)
        ref = await channel.send(address, card.message)
        delivery.status, delivery.platform, delivery.message_ref = "sent", channel.platform, ref
    return ref


async def open_due_rounds(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Open the rounds due at `now`, as the tick does."""
    async with sessions() as session, session.begin():
        return await open_due_pulse_rounds(session, now)


def opened(row: PulseResponse, secret: str) -> PulseValue:
    """Return a response's value as the app reads it: opened with the key while sealed."""
    if row.sealed is not None:
        # A sealed row keeps nothing readable beside the seal.
        assert (row.value_int, row.value_choices, row.value_text) == (None, None, None)
    return value_of(row, secret)
