"""Applying a programme file: one transaction, idempotent, updates in place, loses no answers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.problems import InvalidInput
from bot.prompts.bank import load_bank
from bot.services.programme_apply import KINDS, ApplyReport, apply_programme_file
from storage.models import (
    Answer,
    Audience,
    AuditEntry,
    Campaign,
    CampaignPrompt,
    Cohort,
    Delivery,
    PeerGroup,
    PeerSeries,
    Person,
    Prompt,
    PulseItem,
    PulseSurvey,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "programme.yaml"
T0 = datetime(2027, 1, 4, 7, 30, tzinfo=UTC)


def example() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


async def apply(sessions: async_sessionmaker[AsyncSession], text: str) -> ApplyReport:
    return await apply_programme_file(sessions, text, "programme.yaml", load_bank())


async def count(sessions: async_sessionmaker[AsyncSession], model: type[object]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_applying_the_same_file_twice_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await apply(sessions, example())
    assert first.as_dict()["campaigns"] == {
        "created": 6,
        "updated": 0,
        "unchanged": 0,
        "deactivated": 0,
    }
    assert first.tallies["prompts"].created == 45
    tables = (Cohort, PeerGroup, Prompt, Campaign, CampaignPrompt, Audience, PulseSurvey)
    before = {model.__name__: await count(sessions, model) for model in tables}
    async with sessions() as session:
        stamps = sorted((await session.scalars(select(Campaign.updated_at))).all())

    second = await apply(sessions, example())

    assert not second.changed
    for kind in KINDS:
        tally = second.tallies[kind]
        assert (tally.created, tally.updated, tally.deactivated) == (0, 0, 0), kind
    assert second.tallies["prompts"].unchanged == 45
    assert {model.__name__: await count(sessions, model) for model in tables} == before
    async with sessions() as session:
        assert sorted((await session.scalars(select(Campaign.updated_at))).all()) == stamps
        audits = (await session.scalars(select(AuditEntry))).all()
    assert [a.action for a in audits] == ["programme.apply"]
    assert audits[0].detail["counts"]["campaigns"]["created"] == 6


async def test_the_example_maps_onto_the_models(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await apply(sessions, example())
    async with sessions() as session:
        campaign = await session.scalar(
            select(Campaign).where(Campaign.key == "fase-3-360-evaluering")
        )
        assert campaign is not None
        assert (campaign.weekdays, campaign.local_time.strftime("%H:%M")) == ("mon", "08:30")
        assert (campaign.reminder_after_minutes, campaign.max_lateness_minutes) == (1440, 240)
        assert campaign.default_visibility == "private" and campaign.skip_holidays
        keys = (
            await session.scalars(
                select(Prompt.key)
                .join(CampaignPrompt, CampaignPrompt.prompt_id == Prompt.id)
                .where(CampaignPrompt.campaign_id == campaign.id)
                .order_by(CampaignPrompt.position)
            )
        ).all()
        assert keys[0] == "tre-sixti-forste-mote"
        inline = await session.scalar(select(Prompt).where(Prompt.key == keys[0]))
        assert inline is not None and set(inline.text) == {"nb", "nn", "en"}
        assert inline.follow_up is not None and "en" in inline.follow_up
        banked = await session.scalar(select(Prompt).where(Prompt.key == "listening-01"))
        assert banked is not None
        assert banked.text == dict(load_bank().reflections["listening-01"].text)
        assert banked.theme == "listening"
        cohorts = (
            await session.scalars(
                select(Cohort.name)
                .join(Audience, Audience.cohort_id == Cohort.id)
                .where(Audience.owner_kind == "campaign", Audience.owner_id == campaign.id)
            )
        ).all()
        assert sorted(cohorts) == ["kull-1", "kull-2"]
        survey = await session.scalar(select(PulseSurvey))
        assert survey is not None
        assert (survey.anonymous, survey.min_responses, survey.open_hours) == (True, 5, 72)
        assert survey.every_weeks == 2 and survey.title["nb"] == "Pulsen i programmet"
        items = (
            await session.scalars(
                select(PulseItem)
                .where(PulseItem.survey_id == survey.id)
                .order_by(PulseItem.position)
            )
        ).all()
        assert [(i.key, i.kind) for i in items] == [
            ("energy", "likert"),
            ("workload", "likert"),
            ("psych-safety", "likert"),
            ("recommend", "scale"),
            ("one-word", "text"),
        ]
        series = await session.scalar(select(PeerSeries))
        assert series is not None
        assert (series.group_size, series.every_weeks, series.follow_up_days) == (3, 2, 7)
        assert series.mix_units and series.avoid_manager and not series.same_language
        group = await session.scalar(select(PeerGroup).where(PeerGroup.name == "kull-2-gruppe-1"))
        kull_2 = await session.scalar(select(Cohort).where(Cohort.name == "kull-2"))
        assert group is not None and kull_2 is not None and group.cohort_id == kull_2.id


async def test_a_changed_file_updates_in_place_and_keeps_answers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await apply(sessions, example())
    async with sessions() as session, session.begin():
        ids = {key: id_ for key, id_ in await session.execute(select(Campaign.key, Campaign.id))}
        prompt = await session.scalar(select(Prompt).where(Prompt.key == "listening-01"))
        assert prompt is not None
        leader = Person(email="leder@kommune.example", name="Leder")
        session.add(leader)
        await session.flush()
        delivery = Delivery(
            key="occ:1:person:1",
            kind="prompt",
            person_id=leader.id,
            prompt_id=prompt.id,
            due_at=T0,
            next_attempt_at=T0,
            status="sent",
        )
        session.add(delivery)
        await session.flush()
        session.add(
            Answer(
                delivery_id=delivery.id,
                person_id=leader.id,
                prompt_id=prompt.id,
                text="Jeg lyttet til Kari.",
                visibility="coach",
                platform="slack",
            )
        )

    changed = (
        example()
        .replace("title: Lytte og forstå", "title: Lytte og forstå (ny tekst)")
        .replace(
            "      - listening-01\n      - listening-02\n",
            "      - listening-02\n      - listening-01\n",
        )
        .replace("      - workload\n", "")
        .replace("group_size: 3", "group_size: 4")
    )
    # Drop the last campaign (the second 360) from the file.
    cut = changed.index("  # Fase 6")
    changed = changed[:cut] + changed[changed.index("# Pulsmåling") :]

    report = await apply(sessions, changed)

    assert report.as_dict()["campaigns"] == {
        "created": 0,
        "updated": 1,
        "unchanged": 4,
        "deactivated": 1,
    }
    assert report.tallies["pulses"].updated == 1
    assert report.tallies["peer_rounds"].updated == 1
    async with sessions() as session:
        after = {key: id_ for key, id_ in await session.execute(select(Campaign.key, Campaign.id))}
        assert after == ids
        first = await session.get(Campaign, ids["fase-1-lytte-og-forsta"])
        dropped = await session.get(Campaign, ids["fase-6-ny-360"])
        assert first is not None and first.title == "Lytte og forstå (ny tekst)" and first.active
        assert dropped is not None and not dropped.active
        order = (
            await session.scalars(
                select(Prompt.key)
                .join(CampaignPrompt, CampaignPrompt.prompt_id == Prompt.id)
                .where(CampaignPrompt.campaign_id == first.id)
                .order_by(CampaignPrompt.position)
            )
        ).all()
        assert order[:3] == ["listening-02", "listening-01", "listening-03"]
        positions = (
            await session.scalars(
                select(CampaignPrompt.position)
                .where(CampaignPrompt.campaign_id == first.id)
                .order_by(CampaignPrompt.position)
            )
        ).all()
        assert positions == list(range(10))
        answers = (await session.scalars(select(Answer))).all()
        assert [(a.text, a.prompt_id) for a in answers] == [("Jeg lyttet til Kari.", prompt.id)]
        workload = await session.scalar(select(PulseItem).where(PulseItem.key == "workload"))
        assert workload is not None and not workload.active
        series = await session.scalar(select(PeerSeries))
        assert series is not None and series.group_size == 4

    again = await apply(sessions, changed)
    assert not again.changed
    assert again.tallies["campaigns"].unchanged == 5


async def test_a_removed_campaign_comes_back_active_when_the_file_names_it_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await apply(sessions, example())
    without = example()[: example().index("  # Fase 6")] + example()[example().index("# Puls") :]
    assert (await apply(sessions, without)).tallies["campaigns"].deactivated == 1
    back = await apply(sessions, example())
    assert back.tallies["campaigns"].updated == 1
    async with sessions() as session:
        assert all((await session.scalars(select(Campaign.active))).all())


async def test_cohorts_from_the_roster_are_linked_by_name_and_unknown_ones_change_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        session.add(Cohort(name="kull-3", title="Fra personlista"))
    text = """\
campaigns:
  - key: kull-3-refleksjon
    audience: {cohorts: [kull-3]}
    schedule: {weekdays: [mon], time: "08:30", start: 2027-01-04}
    prompts: [listening-01]
"""
    report = await apply(sessions, text)
    assert report.tallies["campaigns"].created == 1
    assert report.tallies["cohorts"].unchanged == 0  # the file does not define it

    bad = text.replace("kull-3-refleksjon", "annen").replace("[kull-3]", "[kull-4]")
    with pytest.raises(InvalidInput) as caught:
        await apply(sessions, bad + "cohorts:\n  - name: kull-5\n")
    assert [p.where for p in caught.value.problems] == ["programme.yaml:3:26"]
    assert await count(sessions, Campaign) == 1
    assert await count(sessions, Cohort) == 1
    async with sessions() as session:
        title = await session.scalar(select(Cohort.title).where(Cohort.name == "kull-3"))
    assert title == "Fra personlista"
