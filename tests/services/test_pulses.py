"""Pulse answers on both backends: anonymity by construction, replacement, bad input, results."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import DateTime, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.anonymity import Withheld, WithheldReason
from bot.core.problems import InvalidInput
from bot.core.pulse_results import ItemResult, SplitBy
from bot.services.pulses import (
    PulseRoundClosed,
    close_round,
    record_response,
    round_results,
    survey_trend,
)
from storage.models import (
    Audience,
    Base,
    Person,
    PulseItem,
    PulseReceipt,
    PulseResponse,
    PulseRound,
    PulseSurvey,
)
from storage.types import UTCDateTime
from tests import factories

DAY = date(2027, 3, 1)
record = partial(record_response, secret=factories.SECRET)
close = partial(close_round, secret=factories.SECRET)
opened = partial(factories.opened, secret=factories.SECRET)
OPENS = datetime(2027, 3, 1, 7, 30, tzinfo=UTC)


async def survey_with_people(
    session: AsyncSession, units: list[str], *, anonymous: bool = True, rounds: int = 1
) -> tuple[PulseSurvey, list[PulseRound], dict[str, PulseItem], list[Person]]:
    """Create a survey with every item kind, open rounds, and a cohort of people in `units`."""
    cohort, group = await factories.cohort_with_group(
        session, f"kull-{id(units)}", f"g-{id(units)}"
    )
    survey = PulseSurvey(key=f"puls-{id(units)}", anonymous=anonymous, start_date=DAY)
    session.add(survey)
    await session.flush()
    session.add(Audience(owner_kind="pulse_survey", owner_id=survey.id, cohort_id=cohort.id))
    kinds = {
        "energy": ("likert", []),
        "recommend": ("scale", []),
        "format": ("single", [{"key": "talk", "text": {}}, {"key": "walk", "text": {}}]),
        "topics": ("multi", [{"key": "a", "text": {}}, {"key": "b", "text": {}}]),
        "note": ("text", []),
    }
    items = {}
    for position, (key, (kind, options)) in enumerate(kinds.items()):
        items[key] = PulseItem(
            survey_id=survey.id,
            key=key,
            position=position,
            kind=kind,
            text={"en": key},
            options=options,
        )
        session.add(items[key])
    pulse_rounds = []
    for n in range(1, rounds + 1):
        pulse_rounds.append(
            PulseRound(
                survey_id=survey.id,
                number=n,
                local_date=DAY + timedelta(days=14 * (n - 1)),
                opens_at=OPENS,
                closes_at=OPENS + timedelta(days=3),
                status="open",
            )
        )
    session.add_all(pulse_rounds)
    people = []
    for unit in units:
        who = await factories.person(session, unit=unit)
        await factories.join(session, who, cohort, group)
        people.append(who)
    await session.flush()
    return survey, pulse_rounds, items, people


async def snapshot(session: AsyncSession) -> dict[str, set[tuple[Any, ...]]]:
    """Return every row of every table."""
    tables = {}
    for table in Base.metadata.sorted_tables:
        rows = (await session.execute(select(table))).all()
        tables[table.name] = {tuple(map(_hashable, r)) for r in rows}
    return tables


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


async def test_anonymous_round_leaves_no_person_or_time_on_any_response(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        _, (pulse_round,), items, people = await survey_with_people(session, ["A"] * 6)
        await session.commit()
        before = await snapshot(session)
        for n, who in enumerate(people):
            answered_on = DAY + timedelta(days=n % 3)
            await record(
                session, pulse_round.id, items["energy"].id, who.id, n % 5 + 1, answered_on
            )
            await record(
                session, pulse_round.id, items["note"].id, who.id, f"note {n}", answered_on
            )
        await record(session, pulse_round.id, items["energy"].id, people[0].id, "5", DAY)
        await session.commit()
        await close(session, pulse_round.id)
        await session.commit()
        after = await snapshot(session)

    person_ids = {p.id for p in people}
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {"pulse_rounds", "pulse_responses", "pulse_receipts"}
    for name in ("pulse_responses", "pulse_receipts"):
        table = Base.metadata.tables[name]
        assert not any(isinstance(c.type, UTCDateTime | DateTime) for c in table.columns), name
        values = [v for row in after[name] for v in row]
        assert not any(isinstance(v, datetime) for v in values), f"{name} holds a timestamp"
    # The round row changed only in its status and its wiped secret.
    rounds = Base.metadata.tables["pulse_rounds"]
    (old,), (new,) = before["pulse_rounds"], after["pulse_rounds"]
    moved = {c.name for c, a, b in zip(rounds.columns, old, new, strict=True) if a != b}
    assert moved == {"status"}  # no key is ever stored on the round
    responses = await _rows(sessions, PulseResponse)
    assert len(responses) == 12
    for r in responses:
        assert r.person_id is None and r.slot is None
        assert r.day == DAY  # the round's day, not the day each person answered
        assert isinstance(r.day, date) and not isinstance(r.day, datetime)
    round_row = (await _rows(sessions, PulseRound))[0]
    assert round_row.status == "closed"
    receipts = await _rows(sessions, PulseReceipt)
    assert {r.person_id for r in receipts} == person_ids and len(receipts) == 12


async def _rows(sessions: async_sessionmaker[AsyncSession], model: type[Any]) -> list[Any]:
    async with sessions() as session:
        return list(await session.scalars(select(model)))


async def test_second_answer_changes_the_first_instead_of_adding_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        _, (pulse_round,), items, (who,) = await survey_with_people(session, ["A"])
        first = await record(session, pulse_round.id, items["format"].id, who.id, "talk", DAY)
        second = await record(
            session, pulse_round.id, items["format"].id, who.id, "walk", DAY + timedelta(days=1)
        )
        await session.commit()
        assert not first.replaced and second.replaced
        responses = list(await session.scalars(select(PulseResponse)))
        assert [opened(r).value_choices for r in responses] == [("walk",)]
        assert await session.scalar(select(func.count(PulseReceipt.id))) == 1


async def test_answer_to_a_closed_round_is_rejected_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        _, (pulse_round,), items, (who,) = await survey_with_people(session, ["A"])
        await close(session, pulse_round.id)
        await session.commit()
        with pytest.raises(PulseRoundClosed, match=r"round 1 is closed; answers are no longer"):
            await record(session, pulse_round.id, items["energy"].id, who.id, 3, DAY)
        await session.rollback()
        assert await session.scalar(select(func.count(PulseResponse.id))) == 0
        assert await session.scalar(select(func.count(PulseReceipt.id))) == 0


async def test_out_of_range_value_is_rejected_with_a_clear_message_and_nothing_stored(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        _, (pulse_round,), items, (who,) = await survey_with_people(session, ["A"])
        await session.commit()
        with pytest.raises(InvalidInput) as caught:
            await record(session, pulse_round.id, items["recommend"].id, who.id, 11, DAY)
        assert str(caught.value) == (
            "pulse item 'recommend': 11 is out of range: expected a whole number from 0 to 10"
        )
        await session.rollback()
        assert await session.scalar(select(func.count(PulseResponse.id))) == 0
        assert await session.scalar(select(func.count(PulseReceipt.id))) == 0


async def test_over_long_text_is_truncated_by_rule_then_stored(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        _, (pulse_round,), items, (who,) = await survey_with_people(session, ["A"])
        recorded = await record(
            session, pulse_round.id, items["note"].id, who.id, "ord " * 400, DAY
        )
        await session.commit()
        row = await session.scalar(select(PulseResponse))
        assert row is not None
        stored = opened(row).value_text
        assert recorded.truncated
        assert stored is not None and len(stored) <= 500 and stored.endswith("ord…")


async def test_named_round_keeps_the_person_and_answer_day(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        _, (pulse_round,), items, (who,) = await survey_with_people(session, ["A"], anonymous=False)
        later = DAY + timedelta(days=2)
        await record(session, pulse_round.id, items["topics"].id, who.id, ["b", "a"], later)
        await session.commit()
        row = await session.scalar(select(PulseResponse))
        assert row is not None
        assert (row.person_id, row.day, row.value_choices) == (who.id, later, ["a", "b"])


async def test_results_split_by_unit_withhold_small_units_and_their_complement(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        units = ["Skole"] * 6 + ["Helse"] * 5 + ["Kultur"] * 2 + ["Skole"] * 3
        _, (pulse_round,), items, people = await survey_with_people(session, units)
        for who in people[:13]:  # 3 Skole people do not answer
            value = 4 if who.unit == "Skole" else 2
            await record(session, pulse_round.id, items["energy"].id, who.id, value, DAY)
        await close(session, pulse_round.id)
        await session.commit()
        (energy, *others) = await round_results(session, pulse_round.id, SplitBy.UNIT)
        assert isinstance(energy.whole, ItemResult)
        assert energy.whole.respondents == 13 and energy.whole.invited == 16
        parts = dict(energy.parts)
        assert parts["Kultur"] == Withheld(WithheldReason.TOO_FEW, 5)
        # Closing blanked Helse's unit with Kultur's (2 alone would be told apart), so the
        # rows no longer say Helse at all.
        assert parts["Helse"] == Withheld(WithheldReason.TOO_FEW, 5)
        skole = parts["Skole"]
        assert isinstance(skole, ItemResult)
        assert skole.mean == 4.0 and skole.response_rate == pytest.approx(6 / 9)
        # Items nobody answered are withheld, not shown as zeros.
        assert all(isinstance(r.whole, Withheld) for r in others)


async def test_trend_over_closed_rounds(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        survey, rounds, items, people = await survey_with_people(session, ["A"] * 6, rounds=3)
        for r, scores in zip(rounds, ([10] * 6, [0, 5, 9, 9, 10, 10], [7, 8]), strict=True):
            for who, score in zip(people, scores, strict=False):
                await record(session, r.id, items["recommend"].id, who.id, score, DAY)
            await close(session, r.id)
        await session.commit()
        points = (await survey_trend(session, survey.id))["recommend"]
        assert [p.round_number for p in points] == [1, 2, 3]
        assert points[0].enps == 100.0 and points[0].mean == 10.0
        assert points[1].enps == pytest.approx(100 * (4 - 2) / 6)
        assert isinstance(points[2].mean, Withheld)


async def test_close_rewrites_rows_so_their_order_does_not_follow_the_receipts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        _, (pulse_round,), items, people = await survey_with_people(session, ["A"] * 12)
        answered = [f"note {n:02d}" for n in range(12)]
        for who, note in zip(people, answered, strict=True):
            await record(session, pulse_round.id, items["note"].id, who.id, note, DAY)
        await session.commit()
        by_id = [
            opened(r).value_text
            for r in await session.scalars(select(PulseResponse).order_by(PulseResponse.id))
        ]
        # Random keys: even while open, key order is not answer order (1 chance in 12!).
        assert sorted(by_id) == answered and by_id != answered
        await close(session, pulse_round.id)
        await session.commit()
        by_id = list(await session.scalars(select(PulseResponse.value_text).order_by("id")))
        # Shuffled with the system's randomness: one chance in 12! of keeping the order.
        assert sorted(by_id) == answered and by_id != answered
