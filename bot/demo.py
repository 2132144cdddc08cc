"""Prepare the demo: an embedded SQLite database with the example roster and programme."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import SystemClock
from bot.core.problems import UserError
from bot.core.roster import Creating
from bot.database import open_database
from bot.prompts.bank import load_bank
from bot.services.chat_links import chat_link
from bot.services.identities import link_identity
from bot.services.programme_apply import apply_programme_file
from bot.services.roster_import import run_roster_import
from bot.settings import Settings
from bot.web.dashboard.auth import issue_login_link
from storage.migrate import upgrade
from storage.models import (
    Campaign,
    CampaignPrompt,
    CohortMembership,
    Delivery,
    GroupMembership,
    Occurrence,
    Person,
    PulseRound,
    PulseSurvey,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEMO_DATABASE = "sqlite+aiosqlite:///./data/demo.db"
# A newcomer should see the bot speak within a minute of `make demo`.
PROMPT_DELAY = timedelta(seconds=5)
PULSE_DELAY = timedelta(seconds=20)


def demo_settings(base: Settings) -> Settings:
    """Return settings for the demo: its own SQLite file unless a database was chosen."""
    url = base.database_url
    if url == Settings.model_fields["database_url"].default:
        url = DEMO_DATABASE
    update = {"database_url": url, "demo_mode": True, "dispatch_seconds": 1.0, "tick_seconds": 10.0}
    return base.model_copy(update=update)


async def prepare_demo(settings: Settings, examples: Path = EXAMPLES) -> list[str]:
    """Migrate, import the example roster, apply the example programme; describe each step."""
    await asyncio.to_thread(upgrade, settings.database_url)
    said = [f"Database ready at {settings.database_url} (migrations applied)."]
    roster, programme = examples / "roster.csv", examples / "programme.yaml"
    async with open_database(settings) as (_engine, sessions):
        counts = await run_roster_import(
            sessions,
            roster.read_bytes(),
            str(roster),
            now=SystemClock().now(),
            # The roster names the example's cohorts and groups first; the programme adds to them.
            creating=Creating(cohorts=True),
        )
        said.append(f"Roster {roster.name}: {counts.rows} people; {counts.summary()}.")
        report = await apply_programme_file(
            sessions, programme.read_text(encoding="utf-8"), str(programme), load_bank()
        )
        said.append(
            f"Programme {programme.name}: "
            + ("applied." if report.changed else "already applied, nothing changed.")
        )
    return said


@dataclass(frozen=True)
class DemoTour:
    """Who the demo shows, and the links that open their views."""

    leader_name: str
    leader_link: str
    coach_name: str
    coach_link: str


async def _demo_leader(session: AsyncSession) -> Person:
    """Return the first participant with a peer group, in roster order."""
    in_group = select(GroupMembership.person_id)
    leader = await session.scalar(
        select(Person)
        .where(Person.role == "participant", Person.id.in_(in_group))
        .order_by(Person.id)
        .limit(1)
    )
    if leader is None:
        raise UserError("the demo roster has no participant in a peer group")
    return leader


async def _coach_of(session: AsyncSession, leader: Person) -> Person:
    cohorts = select(CohortMembership.cohort_id).where(CohortMembership.person_id == leader.id)
    coach = await session.scalar(
        select(Person)
        .join(CohortMembership, CohortMembership.person_id == Person.id)
        .where(CohortMembership.role == "coach", CohortMembership.cohort_id.in_(cohorts))
        .order_by(Person.id)
        .limit(1)
    )
    if coach is None:
        raise UserError("the demo leader's cohort has no coach in the roster")
    return coach


async def _queue_prompt(session: AsyncSession, leader: Person, now: datetime) -> None:
    """Owe the leader the first prompt of the first campaign, due in a few seconds."""
    campaign = await session.scalar(
        select(Campaign).where(Campaign.active.is_(True)).order_by(Campaign.id).limit(1)
    )
    if campaign is None:
        return
    prompt_id = await session.scalar(
        select(CampaignPrompt.prompt_id)
        .where(CampaignPrompt.campaign_id == campaign.id)
        .order_by(CampaignPrompt.position)
        .limit(1)
    )
    if prompt_id is None:
        return
    occurrence = Occurrence(prompt_id=prompt_id, send_at=now, extra={"demo": True})
    session.add(occurrence)
    await session.flush()
    due = now + PROMPT_DELAY
    session.add(
        Delivery.owed(
            key=f"demo:{occurrence.id}:person:{leader.id}",
            kind="prompt",
            due_at=due,
            expires_at=due + timedelta(days=1),
            person_id=leader.id,
            occurrence_id=occurrence.id,
            prompt_id=prompt_id,
            payload={"visibility": campaign.default_visibility},
        )
    )


async def _open_pulse(session: AsyncSession, leader: Person, now: datetime) -> None:
    """Open a round of the first pulse survey now and owe the leader its items."""
    survey = await session.scalar(
        select(PulseSurvey).where(PulseSurvey.active.is_(True)).order_by(PulseSurvey.id).limit(1)
    )
    if survey is None:
        return
    last = await session.scalar(
        select(func.max(PulseRound.number)).where(PulseRound.survey_id == survey.id)
    )
    pulse_round = PulseRound(
        survey_id=survey.id,
        number=(last or 0) + 1,
        local_date=now.date(),
        opens_at=now,
        closes_at=now + timedelta(hours=survey.open_hours),
        status="open",
    )
    session.add(pulse_round)
    await session.flush()
    due = now + PULSE_DELAY
    session.add(
        Delivery.owed(
            key=f"pulse:{pulse_round.id}:person:{leader.id}",
            kind="pulse",
            due_at=due,
            expires_at=pulse_round.closes_at,
            person_id=leader.id,
            pulse_round_id=pulse_round.id,
            payload={"survey_id": survey.id, "anonymous": survey.anonymous},
        )
    )


async def start_tour(session: AsyncSession, public_url: str, now: datetime) -> DemoTour:
    """Link the demo leader to the web chat and queue a prompt and a pulse for the next minute."""
    leader = await _demo_leader(session)
    coach = await _coach_of(session, leader)
    leader.preferred_platform = "webchat"
    await link_identity(
        session,
        "webchat",
        f"person-{leader.id}",
        email=leader.email,
        address={"person_id": leader.id},
    )
    await _queue_prompt(session, leader, now)
    await _open_pulse(session, leader, now)
    link = await chat_link(session, leader.email, public_url, now)
    dashboard = await issue_login_link(session, coach, now, public_url)
    return DemoTour(leader.name, link, coach.name, dashboard)
