"""Pulse answers and results, anonymous by construction where the survey says so.

In an anonymous round a response row holds no person id and no time finer than the round's
day. While the round is open, a person's answer to an item sits in a `slot`, an HMAC of the
app's secret key (which the database never holds) over the round, person and item, so a
second answer replaces the first; the row carries no split attributes yet, and its value is
only sealed (`bot.core.sealing`: AES-GCM under a key derived from the app's secret), so a
database holder cannot read it even where they link the row to a person. Closing the round
opens the seals, maps the slots back to the people who answered (with the key), gives each
row its plain value and its cohort, unit and peer group coarsened until every combination
holds `min_responses` respondents, drops the rows of an item fewer than that answered (they
could never be shown), and rewrites the rows under new random keys in random order without
slots or seals. Afterwards nothing links a receipt (who answered) to a response (what was
answered); `storage.scrub` then overwrites the erased bytes. Results go through the
anonymity rules in `bot.core` before anything is shown, and an open round shows none: only
its response rate.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from bot.core.anonymity import Withheld, WithheldReason, coarsen, effective_min_responses
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
from bot.core.pulse_values import PulseValue, RawValue, int_range, validate
from bot.core.sealing import SealBroken, room_for, seal, unseal
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
from storage.models.pulses import random_id
from storage.queries.audience import audience_people
from storage.scrub import overwrite_erased

log = logging.getLogger(__name__)


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
    *,
    secret: str,
) -> Recorded:
    """Validate and store one answer; a second answer by the same person replaces the first.

    `secret` is the app's secret key; it keys the slot and is never stored.
    """
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

    slot = slot_for(secret, round_id, person_id, item_id)
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
    if survey.anonymous:
        # Sealed until close: a database holder who links this row to its receipt (by
        # transaction id or write order) still cannot read the value.
        response.sealed = seal(secret, round_id, item_id, slot, value, room=_largest_room(item))
        _set_value(response, PulseValue())
    else:
        _set_value(response, value)
        where = (await split_attributes(session, [person], survey.id))[person.id]
        response.person_id = person_id
        response.cohort_id, response.unit, response.group_id = (
            where.cohort_id,
            where.unit,
            where.group_id,
        )
    await _upsert_receipt(session, round_id, item_id, person_id, today)
    await session.flush()
    return Recorded(replaced=replaced, truncated=value.truncated)


async def own_response(
    session: AsyncSession, round_id: int, item_id: int, person_id: int, *, secret: str
) -> PulseValue | None:
    """Return a person's own answer to an item while the round is open (None after)."""
    pulse_round = await session.get(PulseRound, round_id)
    if pulse_round is None or pulse_round.status != "open":
        return None
    row = await session.scalar(
        select(PulseResponse).where(
            PulseResponse.round_id == round_id,
            PulseResponse.item_id == item_id,
            PulseResponse.slot == slot_for(secret, round_id, person_id, item_id),
        )
    )
    if row is None:
        return None
    try:
        return value_of(row, secret)
    except SealBroken:
        return None  # sealed under another key: as good as unanswered for the card


def value_of(row: PulseResponse, secret: str | None) -> PulseValue:
    """Return a row's value: opened with the key while sealed, else its plain columns.

    Raises SealBroken when the row is sealed and `secret` cannot open it.
    """
    if row.sealed is None:
        return PulseValue(
            value_int=row.value_int,
            value_choices=tuple(row.value_choices) if row.value_choices else None,
            value_text=row.value_text,
        )
    if secret is None or row.slot is None:
        raise SealBroken("a sealed value needs the key and its slot")
    return unseal(secret, row.round_id, row.item_id, row.slot, row.sealed)


async def close_round(session: AsyncSession, round_id: int, *, secret: str | None) -> None:
    """Close a round: erase its slots, coarsen its rows' attributes, rewrite them shuffled.

    Anonymous values are unsealed with the `secret` and stored in plain. Without it (or
    under another key than the round was open under) sealed values cannot be read and are
    dropped. Run `storage.scrub.overwrite_erased` after the commit.
    """
    pulse_round = await session.get(PulseRound, round_id)
    if pulse_round is None:
        raise NotFound(f"pulse round {round_id} does not exist")
    survey = await session.get(PulseSurvey, pulse_round.survey_id)
    assert survey is not None  # the foreign key guarantees it
    pulse_round.status = "closed"
    rows = list(
        await session.scalars(select(PulseResponse).where(PulseResponse.round_id == round_id))
    )
    if survey.anonymous:
        copies = await _anonymised(session, survey, round_id, rows, secret)
    else:
        copies = [
            _copy(row, value_of(row, None), row.cohort_id, row.unit, row.group_id) for row in rows
        ]
    # New rows in shuffled order get new random keys and new places, so neither their
    # keys nor their order tell anything about the order of the receipts.
    random.SystemRandom().shuffle(copies)
    for row in rows:
        await session.delete(row)
    await session.flush()
    session.add_all(copies)
    await session.flush()


async def _anonymised(
    session: AsyncSession,
    survey: PulseSurvey,
    round_id: int,
    rows: list[PulseResponse],
    secret: str | None,
) -> list[PulseResponse]:
    """Return the round's rows as they may stay: plain values, coarsened attributes, no slot."""
    k = effective_min_responses(survey.min_responses)
    rows, values = _opened(round_id, rows, secret)
    receipts = (
        await session.execute(
            select(PulseReceipt.person_id, PulseReceipt.item_id).where(
                PulseReceipt.round_id == round_id
            )
        )
    ).all()
    person_of: dict[str, int] = {}
    if secret is not None:
        person_of = {
            slot_for(secret, round_id, person_id, item_id): person_id
            for person_id, item_id in receipts
        }
    elif rows:
        log.warning("closing an anonymous round without the key: no split attributes kept")
    people = list(
        await session.scalars(select(Person).where(Person.id.in_(set(person_of.values()))))
    )
    where = await split_attributes(session, people, survey.id)
    unmatched = sum(1 for row in rows if (row.slot or "") not in person_of)
    if unmatched and secret is not None:
        log.warning(
            "closing round %s: %s answers matched no receipt under the current key, so they "
            "keep no split attributes (was TENKEPAUSE_SECRET_KEY changed while it was open?)",
            round_id,
            unmatched,
        )
    by_item: dict[int, list[PulseResponse]] = {}
    for row in rows:
        by_item.setdefault(row.item_id, []).append(row)
    copies: list[PulseResponse] = []
    for item_rows in by_item.values():
        if len(item_rows) < k:
            # Never shown below the threshold, and a few values beside a few receipts
            # could be matched by elimination: they are not kept.
            continue
        attributes: list[tuple[int | str | None, ...]] = []
        for row in item_rows:
            person_id = person_of.get(row.slot or "")
            found = where.get(person_id) if person_id is not None else None
            attributes.append(
                (found.cohort_id, found.unit, found.group_id) if found else (None, None, None)
            )
        for row, kept in zip(item_rows, coarsen(attributes, k), strict=True):
            cohort_id, unit, group_id = kept
            copies.append(
                _copy(
                    row,
                    values[id(row)],
                    cohort_id if isinstance(cohort_id, int) else None,
                    unit if isinstance(unit, str) else None,
                    group_id if isinstance(group_id, int) else None,
                )
            )
    return copies


async def overwrite_closed(engine: AsyncEngine | AsyncConnection | Any) -> bool:
    """Overwrite the erased bytes of closed rounds' slots; run after the closing commit."""
    if not isinstance(engine, AsyncEngine):
        raise TypeError("overwriting erased rows needs the engine the session is bound to")
    return await overwrite_erased(engine, PulseResponse.__tablename__)


async def round_results(
    session: AsyncSession, round_id: int, split_by: SplitBy | None = None
) -> tuple[ItemReport, ...]:
    """Return each item's gated results for a round, optionally split by cohort/unit/group.

    An open round's results are all withheld: between two looks at an open round the
    figures would change by exactly the answers given in between.
    """
    pulse_round = await session.get(PulseRound, round_id)
    if pulse_round is None:
        raise NotFound(f"pulse round {round_id} does not exist")
    survey = await session.get(PulseSurvey, pulse_round.survey_id)
    assert survey is not None  # the foreign key guarantees it
    items = await _item_specs(session, survey.id)
    k = effective_min_responses(survey.min_responses)
    if pulse_round.status != "closed":
        parts = await _part_names(session, split_by)
        return tuple(_open_report(spec, k, parts) for spec in items)
    responses = await _response_records(session, [round_id])
    invited = await _invited_counts(session, pulse_round, survey.id, split_by)
    return tuple(item_report(spec, responses, invited, k, split_by) for spec in items)


def _open_report(spec: ItemSpec, k: int, parts: Sequence[str]) -> ItemReport:
    hidden = Withheld(WithheldReason.ROUND_OPEN, k)
    return ItemReport(spec, hidden, tuple((name, hidden) for name in parts))


async def _part_names(session: AsyncSession, split_by: SplitBy | None) -> list[str]:
    """Return every part name a split could have (an open round shows each as withheld)."""
    if split_by is None:
        return []
    if split_by is SplitBy.UNIT:
        units = await session.scalars(select(Person.unit).where(Person.unit.is_not(None)))
        return sorted({u for u in units if u})
    return sorted((await _names(session, split_by)).values())


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


def slot_for(secret: str, round_id: int, person_id: int, item_id: int) -> str:
    """Return the slot of a person's answer to an item: an HMAC only the key holder can make."""
    message = f"pulse-slot:{round_id}:{person_id}:{item_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _opened(
    round_id: int, rows: list[PulseResponse], secret: str | None
) -> tuple[list[PulseResponse], dict[int, PulseValue]]:
    """Return the rows whose value opens with the key, and each one's value (by row id()).

    A value sealed under another key (or with none at hand) cannot be read: it is dropped,
    and the warning says how many, never what.
    """
    kept: list[PulseResponse] = []
    values: dict[int, PulseValue] = {}
    lost = 0
    for row in rows:
        try:
            values[id(row)] = value_of(row, secret)
        except SealBroken:
            lost += 1
            continue
        kept.append(row)
    if lost:
        log.warning(
            "closing round %s: %s sealed answers do not open without the key it was open "
            "under, so they are dropped (was TENKEPAUSE_SECRET_KEY changed or missing?)",
            round_id,
            lost,
        )
    return kept, values


def _largest_room(item: PulseItem) -> int:
    """Return the bytes the largest answer to `item` takes, so every seal is that long."""
    kind = PulseItemKind(item.kind)
    bounds = int_range(kind)
    if bounds is not None:
        return room_for(PulseValue(value_int=bounds[1]))
    if kind is PulseItemKind.SINGLE:
        keys = _option_keys(item)
        longest = max(keys, key=lambda k: len(k.encode()), default="")
        return room_for(PulseValue(value_choices=(longest,)))
    if kind is PulseItemKind.MULTI:
        return room_for(PulseValue(value_choices=tuple(_option_keys(item))))
    return 0  # free text: its length shows only to within a padding block


def _set_value(response: PulseResponse, value: PulseValue) -> None:
    response.value_int = value.value_int
    response.value_choices = list(value.value_choices) if value.value_choices else None
    response.value_text = value.value_text


def _copy(
    row: PulseResponse,
    value: PulseValue,
    cohort_id: int | None,
    unit: str | None,
    group_id: int | None,
) -> PulseResponse:
    return PulseResponse(
        id=random_id(),
        round_id=row.round_id,
        item_id=row.item_id,
        person_id=row.person_id,
        slot=None,
        day=row.day,
        value_int=value.value_int,
        value_choices=list(value.value_choices) if value.value_choices else None,
        value_text=value.value_text,
        sealed=None,
        cohort_id=cohort_id,
        group_id=group_id,
        unit=unit,
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
