"""Two cohorts with coaches, leaders, shared and private answers, a pulse survey and campaign.

Cohort A has six leaders (enough for the pulse threshold of 5) and coach A; cohort B has
one leader and coach B. Marker strings in answer texts let tests grep whole pages and
exports for what must, or must never, appear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from bot.clock import FrozenClock
from bot.runtime import Runtime
from bot.services.pulses import close_round, record_response
from bot.settings import Settings
from bot.web.dashboard import dashboard_routes
from bot.web.dashboard.auth import issue_login_link
from bot.web.server import build_app
from storage.models import (
    Answer,
    Audience,
    Campaign,
    CohortMembership,
    Delivery,
    GroupMembership,
    Identity,
    Occurrence,
    PeerGroup,
    Person,
    PulseItem,
    PulseRound,
    PulseSurvey,
)
from tests import factories

NOW = datetime(2027, 3, 22, 9, 0, tzinfo=UTC)
SECRET = "test-secret-for-dashboard"
PUBLIC_URL = "http://testserver"
SHARED_TEXT = "SHARED-WITH-COACH-7731"
GROUP_TEXT = "SHARED-WITH-GROUP-5512"
PRIVATE_TEXT = "PRIVATE-NEVER-SHOWN-9043"
COHORT_B_TEXT = "COHORT-B-ANSWER-2288"
SLACK_ID = "UPLATFORMID42"


@dataclass
class World:
    """Ids of everything the web tests look at."""

    cohort_a: int
    cohort_b: int
    group_a: int
    coach_a: Person
    coach_b: Person
    admin: Person
    leader: Person
    leader_b: Person
    shared_answer: int
    private_answer: int
    answer_b: int
    survey: int
    rounds: list[int]


async def _leader(
    session: AsyncSession, name: str, email: str, cohort_id: int, group: PeerGroup
) -> Person:
    person = await factories.person(session, name=name, email=email, locale="en")
    session.add(CohortMembership(cohort_id=cohort_id, person_id=person.id, role="participant"))
    session.add(GroupMembership(group_id=group.id, person_id=person.id))
    await session.flush()
    return person


async def _coach(session: AsyncSession, name: str, email: str, cohort_id: int | None) -> Person:
    role = "admin" if cohort_id is None else "coach"
    person = await factories.person(session, name=name, email=email, role=role, locale="en")
    if cohort_id is not None:
        session.add(CohortMembership(cohort_id=cohort_id, person_id=person.id, role="coach"))
        await session.flush()
    return person


async def build_world(sessions: async_sessionmaker[AsyncSession]) -> World:
    """Create and commit the two cohorts and everything in them."""
    async with sessions() as session:
        cohort_a, group_a = await factories.cohort_with_group(session, "kull-a", "kull-a-gruppe-1")
        cohort_b, group_b = await factories.cohort_with_group(session, "kull-b", "kull-b-gruppe-1")
        cohort_a.title = "Kull A"
        coach_a = await _coach(session, "Coach Anna", "coach.a@kommune.example", cohort_a.id)
        coach_b = await _coach(session, "Coach Bjørn", "coach.b@kommune.example", cohort_b.id)
        admin = await _coach(session, "Admin Ada", "admin@kommune.example", None)
        leaders = [
            await _leader(
                session, f"Leder A{n}", f"leder.a{n}@kommune.example", cohort_a.id, group_a
            )
            for n in range(1, 7)
        ]
        leader_b = await _leader(
            session, "Leder B1", "leder.b1@kommune.example", cohort_b.id, group_b
        )
        leader = leaders[0]
        session.add(
            Identity(
                person_id=leader.id,
                platform="slack",
                external_id=SLACK_ID,
                address={"user": SLACK_ID, "channel": "D" + SLACK_ID},
            )
        )
        session.add(
            Identity(
                person_id=leaders[1].id,
                platform="telegram",
                external_id="555001",
                status="unreachable",
            )
        )
        leaders[2].paused_until = date(2027, 4, 1)
        leaders[3].needs_attention_since = NOW - timedelta(days=3)

        campaign = Campaign(
            key="refleksjon", title="Ukentlig refleksjon", start_date=date(2027, 3, 1)
        )
        session.add(campaign)
        await session.flush()
        session.add(Audience(owner_kind="campaign", owner_id=campaign.id, cohort_id=cohort_a.id))
        prompt = await factories.prompt(
            session, text={"en": "Describe a decision you shared.", "nb": "Beskriv en beslutning."}
        )
        occurrence = Occurrence(
            campaign_id=campaign.id, local_date=date(2027, 3, 15), prompt_id=prompt.id
        )
        session.add(occurrence)
        await session.flush()
        deliveries = []
        for person in [*leaders, leader_b]:
            deliveries.append(
                await factories.sent_delivery(
                    session,
                    person,
                    prompt,
                    occurrence_id=occurrence.id,
                    sent_at=NOW - timedelta(days=6),
                    message_ref=f"D{SLACK_ID}:{person.id}.000",
                )
            )

        def answer(person: Person, delivery: Delivery, text: str, visibility: str) -> Answer:
            row = Answer(
                delivery_id=delivery.id,
                person_id=person.id,
                prompt_id=prompt.id,
                text=text,
                visibility=visibility,
                platform="slack",
                created_at=NOW - timedelta(days=5),
            )
            session.add(row)
            delivery.answered_at = NOW - timedelta(days=5)
            return row

        shared = answer(leader, deliveries[0], SHARED_TEXT, "coach")
        private = answer(leaders[1], deliveries[1], PRIVATE_TEXT, "private")
        group = answer(leaders[2], deliveries[2], GROUP_TEXT, "group")
        # A private follow-up by the same leader whose shared answer coaches may read.
        follow_up = Answer(
            delivery_id=deliveries[0].id,
            person_id=leader.id,
            prompt_id=prompt.id,
            stage="follow_up",
            text=PRIVATE_TEXT + "-FOLLOWUP",
            visibility="private",
            platform="slack",
            created_at=NOW - timedelta(days=5),
        )
        session.add(follow_up)
        answer_b = answer(leader_b, deliveries[-1], COHORT_B_TEXT, "coach")
        await session.flush()
        survey_id, round_ids = await _pulse(session, cohort_a.id, leaders)
        await session.commit()
        del group
        return World(
            cohort_a=cohort_a.id,
            cohort_b=cohort_b.id,
            group_a=group_a.id,
            coach_a=coach_a,
            coach_b=coach_b,
            admin=admin,
            leader=leader,
            leader_b=leader_b,
            shared_answer=shared.id,
            private_answer=private.id,
            answer_b=answer_b.id,
            survey=survey_id,
            rounds=round_ids,
        )


async def _pulse(
    session: AsyncSession, cohort_id: int, leaders: list[Person]
) -> tuple[int, list[int]]:
    """Two closed rounds: six answers in the first (shown), two in the second (withheld)."""
    survey = PulseSurvey(
        key="trivsel", title={"en": "Wellbeing", "nb": "Trivsel"}, start_date=date(2027, 3, 1)
    )
    session.add(survey)
    await session.flush()
    session.add(Audience(owner_kind="pulse_survey", owner_id=survey.id, cohort_id=cohort_id))
    item = PulseItem(
        survey_id=survey.id,
        key="energy",
        position=0,
        kind="likert",
        text={"en": "How much energy did you have this week?", "nb": "Hvor mye energi?"},
    )
    session.add(item)
    rounds = []
    for number, answers in ((1, [4, 5, 3, 4, 5, 2]), (2, [1, 5])):
        day = date(2027, 3, 1) + timedelta(days=7 * (number - 1))
        opens = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        pulse_round = PulseRound(
            survey_id=survey.id,
            number=number,
            local_date=day,
            opens_at=opens,
            closes_at=opens + timedelta(days=3),
            status="open",
        )
        session.add(pulse_round)
        await session.flush()
        for person, value in zip(leaders, answers, strict=False):
            await record_response(
                session, pulse_round.id, item.id, person.id, value, day, secret=SECRET
            )
        await close_round(session, pulse_round.id, secret=SECRET)
        rounds.append(pulse_round.id)
    return survey.id, rounds


def make_runtime(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], db_url: str
) -> Runtime:
    """Return a runtime on the test database with a frozen clock."""
    settings = Settings(database_url=db_url, secret_key=SecretStr(SECRET), public_url=PUBLIC_URL)
    return Runtime(settings, engine, sessions, clock=FrozenClock(NOW), instance="test")


def make_app(runtime: Runtime) -> Starlette:
    """Return the real HTTP app with the dashboard mounted."""
    return build_app(runtime, extra_routes=dashboard_routes(runtime))


def client(app: Starlette, base_url: str = PUBLIC_URL) -> httpx.AsyncClient:
    """Return an HTTP client that calls the app in-process."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=base_url,
        headers={"Accept-Language": "en"},  # the coaches are English; pages before sign-in too
    )


async def login_link(runtime: Runtime, person: Person) -> str:
    """Issue a login link for a person and commit it."""
    async with runtime.sessions() as session:
        fresh = await session.get(Person, person.id)
        assert fresh is not None
        link = await issue_login_link(session, fresh, runtime.clock.now(), PUBLIC_URL)
        await session.commit()
    return link


async def sign_in(http: httpx.AsyncClient, link: str) -> httpx.Response:
    """Open a login link and press its sign-in button, as a browser would."""
    page = await http.get(link)
    assert page.status_code == 200, page.text
    token = _field(page.text, "csrf_token")
    code = _field(page.text, "code")
    return await http.post("/dashboard/login", data={"csrf_token": token, "code": code})


def csrf_token(html: str) -> str:
    """Return the CSRF token of the first form on a page."""
    return _field(html, "csrf_token")


def _field(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]
