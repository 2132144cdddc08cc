"""Pulse answers and results, anonymous by construction where the survey says so.

In an anonymous round a response row holds no person id and no time finer than the round's
day. While the round is open, a person's answer to an item sits in a `slot` keyed by an HMAC
of the round's secret, so a second answer replaces the first; closing the round wipes the
secret and the slots and rewrites the rows in random order, so no link survives between a
receipt (who answered) and a response (what was answered). Results go through the
anonymity rules in `bot.core` before anything is shown.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.anonymity import effective_min_responses
from bot.core.problems import UserError
from bot.core.pulse_results import (
    WHOLE,
    ItemReport,
    ItemSpec,
    ResponseRecord,
    SplitBy,
    TrendPoint,
    item_report,
    trend,
)
from bot.core.pulse_values import PulseValue, RawValue, validate
from bot.core.vocabulary import PulseItemKind
from storage.models import (
    Audience,
    Cohort,
    CohortMembership,
    Delivery,
    GroupMembership,
    PeerGroup,
    Person,
    PulseItem,
    PulseReceipt,
    PulseResponse,
    PulseRound,
    PulseSurvey,
)
from storage.queries.audience import audience_people


class PulseRoundClosed(UserError):
    """An answer to a round that is not open."""

    def __init__(self, survey_key: str, number: int, status: str) -> None:
        self.survey_key = survey_key
        self.number = number
        self.status = status
        why = (
            "has not opened yet; answers are not accepted before it opens"
            if status == "scheduled"
            else "is closed; answers are no longer accepted"
        )
        super().__init__(f"pulse {survey_key!r} round {number} {why}")


class NotFound(UserError):
    """A round, item or person that does not exist."""


@dataclass(frozen=True)
class Recorded:
    """What happened to an answer."""

    replaced: bool  # True when it changed the person's earlier answer to the item
    truncated: bool  # True when the text was cut to the maximum length


@dataclass(frozen=True)
class SplitAttributes:
    """The cohort, unit and peer group a respondent's answers are split by."""

    cohort_id: int | None
    unit: str | None
    group_id: int | None


async def record_response(
    session: AsyncSession,
    round_id: int,
    item_id: int,
    person_id: int,
    raw_value: RawValue,
    today: date,
) -> Recorded:
    """Validate and store one answer; a second answer by the same person replaces the first."""
    pulse_round = await session.get(PulseRound, round_id)
    if pulse_round is None:
        raise NotFound(f"pulse round {round_id} does not exist")
    survey = await session.get(PulseSurvey, pulse_round.survey_id)
    item = await session.get(PulseItem, item_id)
    if survey is None or item is None or item.survey_id != survey.id:
        raise NotFound(f"pulse item {item_id} is not part of round {round_id}")
    if pulse_round.status != "open":
        raise PulseRoundClosed(survey.key, pulse_round.number, pulse_round.status)
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} does not exist")
    value = validate(item.kind, raw_value, _option_keys(item), where=f"pulse item {item.key!r}")

    secret = await _slot_secret(session, pulse_round)
    slot = _slot(secret, person_id, item_id)
    where = (await split_attributes(session, [person], survey.id))[person.id]
    response = await session.scalar(
        select(PulseResponse).where(
            PulseResponse.round_id == round_id,
            PulseResponse.item_id == item_id,
            PulseResponse.slot == slot,
        )
    )
    replaced = response is not None
    if response is None:
        response = PulseResponse(round_id=round_id, item_id=item_id, slot=slot)
        session.add(response)
    # Anonymous rows carry the round's day, not the answer's: on a quiet day the answer
    # day alone would match a receipt's day and name the respondent.
    response.day = pulse_round.local_date if survey.anonymous else today
    response.person_id = None if survey.anonymous else person_id
    _set_value(response, value)
    response.cohort_id, response.unit, response.group_id = (
        where.cohort_id,
        where.unit,
        where.group_id,
    )
    await _upsert_receipt(session, round_id, item_id, person_id, today)
    await session.flush()
    return Recorded(replaced=replaced, truncated=value.truncated)


async def own_response(
    session: AsyncSession, round_id: int, item_id: int, person_id: int
) -> PulseResponse | None:
    """Return a person's own answer to an item while the round is open, so they can see it."""
    pulse_round = await session.get(PulseRound, round_id)
    if pulse_round is None or pulse_round.status != "open" or pulse_round.slot_secret is None:
        return None
    slot = _slot(pulse_round.slot_secret, person_id, item_id)
    return await session.scalar(
        select(PulseResponse).where(
            PulseResponse.round_id == round_id,
            PulseResponse.item_id == item_id,
            PulseResponse.slot == slot,
        )
    )


async def close_round(session: AsyncSession, round_id: int) -> None:
    """Close a round: wipe its slot secret and slots, and rewrite its rows in random order."""
    pulse_round = await session.get(PulseRound, round_id)
    if pulse_round is None:
        raise NotFound(f"pulse round {round_id} does not exist")
    pulse_round.status = "closed"
    pulse_round.slot_secret = None
    rows = list(
        await session.scalars(select(PulseResponse).where(PulseResponse.round_id == round_id))
    )
    copies = [_anonymous_copy(r) for r in rows]
    # New rows in shuffled order get new ids and places, so their order tells nothing
    # about the order of the receipts.
    random.SystemRandom().shuffle(copies)
    for row in rows:
        await session.delete(row)
    await session.flush()
    session.add_all(copies)
    await session.flush()


async def round_results(
    session: AsyncSession, round_id: int, split_by: SplitBy | None = None
) -> tuple[ItemReport, ...]:
    """Return each item's gated results for a round, optionally split by cohort/unit/group."""
    pulse_round = await session.get(PulseRound, round_id)
    if pulse_round is None:
        raise NotFound(f"pulse round {round_id} does not exist")
    survey = await session.get(PulseSurvey, pulse_round.survey_id)
    assert survey is not None  # the foreign key guarantees it
    items = await _item_specs(session, survey.id)
    responses = await _response_records(session, [round_id])
    invited = await _invited_counts(session, pulse_round, survey.id, split_by)
    k = effective_min_responses(survey.min_responses)
    return tuple(item_report(spec, responses, invited, k, split_by) for spec in items)


async def survey_trend(session: AsyncSession, survey_id: int) -> dict[str, tuple[TrendPoint, ...]]:
    """Return, for each item of a survey, its gated mean/eNPS/rate over the closed rounds."""
    survey = await session.get(PulseSurvey, survey_id)
    if survey is None:
        raise NotFound(f"pulse survey {survey_id} does not exist")
    rounds = list(
        await session.scalars(
            select(PulseRound)
            .where(PulseRound.survey_id == survey_id, PulseRound.status == "closed")
            .order_by(PulseRound.number)
        )
    )
    per_item: dict[str, list[tuple[int, ItemReport]]] = {}
    for pulse_round in rounds:
        for report in await round_results(session, pulse_round.id):
            per_item.setdefault(report.item.key, []).append((pulse_round.number, report))
    return {
        key: trend([(number, report.whole) for number, report in reports])
        for key, reports in per_item.items()
    }


async def split_attributes(
    session: AsyncSession, people: Sequence[Person], survey_id: int
) -> dict[int, SplitAttributes]:
    """Return each person's cohort and group (preferring the survey's audience) and unit."""
    audience = (
        await session.execute(
            select(Audience.cohort_id, Audience.group_id).where(
                Audience.owner_kind == "pulse_survey", Audience.owner_id == survey_id
            )
        )
    ).all()
    audience_cohorts = {c for c, _ in audience if c is not None}
    audience_groups = {g for _, g in audience if g is not None}
    ids = [p.id for p in people]
    cohorts: dict[int, list[int]] = {}
    for person_id, cohort_id in await session.execute(
        select(CohortMembership.person_id, CohortMembership.cohort_id).where(
            CohortMembership.person_id.in_(ids), CohortMembership.role == "participant"
        )
    ):
        cohorts.setdefault(person_id, []).append(cohort_id)
    groups: dict[int, list[int]] = {}
    for person_id, group_id in await session.execute(
        select(GroupMembership.person_id, GroupMembership.group_id).where(
            GroupMembership.person_id.in_(ids)
        )
    ):
        groups.setdefault(person_id, []).append(group_id)
    return {
        p.id: SplitAttributes(
            cohort_id=_prefer(cohorts.get(p.id, ()), audience_cohorts),
            unit=p.unit or None,
            group_id=_prefer(groups.get(p.id, ()), audience_groups),
        )
        for p in people
    }


def _prefer(ids: Iterable[int], preferred: set[int]) -> int | None:
    ordered = sorted(ids)
    return next((i for i in ordered if i in preferred), ordered[0] if ordered else None)


def _option_keys(item: PulseItem) -> list[str]:
    return [str(option["key"]) for option in item.options or []]


async def _slot_secret(session: AsyncSession, pulse_round: PulseRound) -> str:
    """Return the round's slot secret, creating it once even when two answers race."""
    if pulse_round.slot_secret is None:
        await session.execute(
            update(PulseRound)
            .where(PulseRound.id == pulse_round.id, PulseRound.slot_secret.is_(None))
            .values(slot_secret=secrets.token_hex(32))
        )
        await session.refresh(pulse_round, ["slot_secret"])
    assert pulse_round.slot_secret is not None
    return pulse_round.slot_secret


def _slot(secret: str, person_id: int, item_id: int) -> str:
    message = f"{person_id}:{item_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _set_value(response: PulseResponse, value: PulseValue) -> None:
    response.value_int = value.value_int
    response.value_choices = list(value.value_choices) if value.value_choices else None
    response.value_text = value.value_text


def _anonymous_copy(row: PulseResponse) -> PulseResponse:
    return PulseResponse(
        round_id=row.round_id,
        item_id=row.item_id,
        person_id=row.person_id,
        slot=None,
        day=row.day,
        value_int=row.value_int,
        value_choices=row.value_choices,
        value_text=row.value_text,
        cohort_id=row.cohort_id,
        group_id=row.group_id,
        unit=row.unit,
    )


async def _upsert_receipt(
    session: AsyncSession, round_id: int, item_id: int, person_id: int, today: date
) -> None:
    existing = await session.scalar(
        select(PulseReceipt.id).where(
            PulseReceipt.round_id == round_id,
            PulseReceipt.item_id == item_id,
            PulseReceipt.person_id == person_id,
        )
    )
    if existing is None:
        session.add(
            PulseReceipt(round_id=round_id, item_id=item_id, person_id=person_id, day=today)
        )


async def _item_specs(session: AsyncSession, survey_id: int) -> list[ItemSpec]:
    items = await session.scalars(
        select(PulseItem).where(PulseItem.survey_id == survey_id).order_by(PulseItem.position)
    )
    return [ItemSpec(i.key, PulseItemKind(i.kind), tuple(_option_keys(i))) for i in items]


async def _response_records(
    session: AsyncSession, round_ids: Sequence[int]
) -> list[ResponseRecord]:
    rows = (
        await session.execute(
            select(PulseResponse, PulseItem.key, Cohort.name, PeerGroup.name)
            .join(PulseItem, PulseItem.id == PulseResponse.item_id)
            .outerjoin(Cohort, Cohort.id == PulseResponse.cohort_id)
            .outerjoin(PeerGroup, PeerGroup.id == PulseResponse.group_id)
            .where(PulseResponse.round_id.in_(round_ids))
        )
    ).all()
    return [
        ResponseRecord(
            item_key=key,
            value_int=r.value_int,
            value_choices=tuple(r.value_choices) if r.value_choices else None,
            value_text=r.value_text,
            cohort=cohort,
            unit=r.unit,
            group=group,
        )
        for r, key, cohort, group in rows
    ]


async def _invited_counts(
    session: AsyncSession, pulse_round: PulseRound, survey_id: int, split_by: SplitBy | None
) -> dict[str, int]:
    """Count who was asked: the round's pulse deliveries, else the survey's audience."""
    asked = set(
        await session.scalars(
            select(Delivery.person_id).where(
                Delivery.pulse_round_id == pulse_round.id,
                Delivery.kind == "pulse",
                Delivery.person_id.is_not(None),
            )
        )
    )
    if asked:
        people = list(await session.scalars(select(Person).where(Person.id.in_(asked))))
    else:
        people = await audience_people(session, "pulse_survey", survey_id)
    counts = {WHOLE: len(people)}
    if split_by is None:
        return counts
    names = await _names(session, split_by)
    for where in (await split_attributes(session, people, survey_id)).values():
        key = _part_key(where, split_by, names)
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
    return counts


async def _names(session: AsyncSession, split_by: SplitBy) -> dict[int, str]:
    if split_by is SplitBy.COHORT:
        return {i: n for i, n in (await session.execute(select(Cohort.id, Cohort.name))).all()}
    if split_by is SplitBy.GROUP:
        return {
            i: n for i, n in (await session.execute(select(PeerGroup.id, PeerGroup.name))).all()
        }
    return {}


def _part_key(where: SplitAttributes, split_by: SplitBy, names: dict[int, str]) -> str | None:
    if split_by is SplitBy.UNIT:
        return where.unit
    ident = where.cohort_id if split_by is SplitBy.COHORT else where.group_id
    return names.get(ident) if ident is not None else None
