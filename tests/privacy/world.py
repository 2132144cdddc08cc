"""A programme to attack: two cohorts of leaders in units of very different sizes.

Cohort A has 22 leaders (units of 9, 7, 3 and 1, two without a unit) in peer groups of
four, and coach A; cohort B has 8 leaders and coach B; an admin sees both. One anonymous
pulse survey (threshold 5) with every item kind reaches both cohorts. Every person's
answers are distinct and known to the test, so an attack can check what it recovered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.identities import link_identity
from bot.services.pulses import record_response
from storage.models import (
    Audience,
    Cohort,
    CohortMembership,
    GroupMembership,
    PeerGroup,
    Person,
    PulseItem,
    PulseRound,
    PulseSurvey,
)
from tests import factories
from tests.web import world as w

SECRET = w.SECRET
K = 5
DAY = date(2027, 3, 22)
OPENS = datetime(2027, 3, 22, 7, 0, tzinfo=UTC)
UNITS_A: list[str | None] = ["Skole"] * 9 + ["Helse"] * 7 + ["Kultur"] * 3
UNITS_A += ["Sámi barnehage", None, None]
UNITS_B: list[str | None] = ["Skole"] * 4 + ["Helse"] * 4
ITEMS = {
    "energy": ("likert", []),
    "recommend": ("scale", []),
    "format": ("single", [{"key": "talk", "text": {"en": "Talk"}}, {"key": "walk", "text": {}}]),
    "topics": ("multi", [{"key": k, "text": {"en": k.upper()}} for k in ("a", "b", "c")]),
    "note": ("text", []),
}


@dataclass
class Programme:
    """Ids of what the attacks look at, and each leader's answers."""

    cohort_a: int
    cohort_b: int
    coach_a: Person
    coach_b: Person
    admin: Person
    leaders_a: list[Person]
    leaders_b: list[Person]
    survey: int
    round_id: int
    items: dict[str, int]
    answers: dict[int, dict[str, object]] = field(default_factory=dict)

    @property
    def leaders(self) -> list[Person]:
        """Return every leader, cohort A first."""
        return [*self.leaders_a, *self.leaders_b]


def answers_of(person: Person, n: int, cohort: str) -> dict[str, object]:
    """Return a leader's answers: cohort A leans high, cohort B low; the note names them."""
    high = cohort == "a"
    return {
        "energy": 4 + n % 2 if high else 1 + n % 2,
        "recommend": 9 + n % 2 if high else n % 3,
        "format": "talk" if high else "walk",
        "topics": ["a", "b"] if high else ["c"],
        "note": f"NOTE-{person.id}-{cohort.upper()}-UNIQUE",
    }


async def _cohort(
    session: AsyncSession, name: str, units: list[str | None]
) -> tuple[Cohort, list[Person]]:
    cohort = Cohort(name=name)
    session.add(cohort)
    await session.flush()
    people = []
    group: PeerGroup | None = None
    for n, unit in enumerate(units):
        if n % 4 == 0:
            group = PeerGroup(name=f"{name}-gruppe-{n // 4 + 1}", cohort_id=cohort.id)
            session.add(group)
            await session.flush()
        assert group is not None
        person = await factories.person(
            session,
            name=f"Leder {name} {n}",
            email=f"leder.{name}.{n}@kommune.example",
            unit=unit,
            locale="en",
        )
        session.add(CohortMembership(cohort_id=cohort.id, person_id=person.id, role="participant"))
        session.add(GroupMembership(group_id=group.id, person_id=person.id))
        people.append(person)
    await session.flush()
    return cohort, people


async def _staff(session: AsyncSession, name: str, cohort: Cohort | None) -> Person:
    person = await factories.person(
        session,
        name=name,
        email=f"{name.lower().replace(' ', '.')}@kommune.example",
        role="coach" if cohort else "admin",
        locale="en",
    )
    if cohort is not None:
        session.add(CohortMembership(cohort_id=cohort.id, person_id=person.id, role="coach"))
    await session.flush()
    await link_identity(
        session,
        "webchat",
        f"person-{person.id}",
        email=person.email,
        address={"person_id": person.id},
    )
    return person


async def build_programme(
    sessions: async_sessionmaker[AsyncSession], *, min_responses: int = K
) -> Programme:
    """Create and commit both cohorts, the survey and one open round."""
    async with sessions() as session:
        cohort_a, leaders_a = await _cohort(session, "kull-a", UNITS_A)
        cohort_b, leaders_b = await _cohort(session, "kull-b", UNITS_B)
        coach_a = await _staff(session, "Coach Anna", cohort_a)
        coach_b = await _staff(session, "Coach Bjorn", cohort_b)
        admin = await _staff(session, "Admin Ada", None)
        survey = PulseSurvey(
            key="trivsel",
            title={"en": "Wellbeing"},
            anonymous=True,
            min_responses=min_responses,
            start_date=DAY,
        )
        session.add(survey)
        await session.flush()
        for cohort in (cohort_a, cohort_b):
            session.add(
                Audience(owner_kind="pulse_survey", owner_id=survey.id, cohort_id=cohort.id)
            )
        items = {}
        for position, (key, (kind, options)) in enumerate(ITEMS.items()):
            item = PulseItem(
                survey_id=survey.id,
                key=key,
                position=position,
                kind=kind,
                text={"en": f"Question about {key}"},
                options=options,
            )
            session.add(item)
            await session.flush()
            items[key] = item.id
        pulse_round = PulseRound(
            survey_id=survey.id,
            number=1,
            local_date=DAY,
            opens_at=OPENS,
            closes_at=OPENS + timedelta(days=3),
            status="open",
        )
        session.add(pulse_round)
        await session.flush()
        programme = Programme(
            cohort_a=cohort_a.id,
            cohort_b=cohort_b.id,
            coach_a=coach_a,
            coach_b=coach_b,
            admin=admin,
            leaders_a=leaders_a,
            leaders_b=leaders_b,
            survey=survey.id,
            round_id=pulse_round.id,
            items=items,
        )
        for n, person in enumerate(leaders_a):
            programme.answers[person.id] = answers_of(person, n, "a")
        for n, person in enumerate(leaders_b):
            programme.answers[person.id] = answers_of(person, n, "b")
        await session.commit()
    return programme


async def answer(
    sessions: async_sessionmaker[AsyncSession],
    programme: Programme,
    people: list[Person],
    round_id: int | None = None,
) -> None:
    """Record every item for each of `people`, in that order, one commit per person."""
    for person in people:
        async with sessions() as session:
            for key, item_id in programme.items.items():
                await record_response(
                    session,
                    round_id or programme.round_id,
                    item_id,
                    person.id,
                    programme.answers[person.id][key],  # type: ignore[arg-type]
                    DAY,
                    secret=SECRET,
                )
            await session.commit()
