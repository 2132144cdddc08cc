"""Attack: re-identify anonymous pulse answers from a copy of the database (no key).

The attacker holds every table. They know who answered which item (the receipts) and
everyone's cohort, peer group and unit (people and memberships). For each response row
and every subset of its columns they list the respondents of that item consistent with
the row; fewer than `min_responses` candidates singles people out. The columns are read
from the table itself, so a column added later is attacked too (or fails the test until
someone says how an attacker would join it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.pulses import close_round, split_attributes
from storage.models import (
    Base,
    CohortMembership,
    GroupMembership,
    Person,
    PulseReceipt,
)
from tests.privacy import world as pw

TABLE = Base.metadata.tables["pulse_responses"]
# What the attacker cannot join to a person: the answers themselves.
VALUE_COLUMNS = {"value_int", "value_choices", "value_text"}
# The row's key: attacked for order in test_ordering.
KEY_COLUMNS = {"id"}
# Narrow the candidates to the receipts of that round and item.
SCOPE_COLUMNS = {"round_id", "item_id"}
# Must hold one value per round (or none) after close, so they carry nothing; `sealed`
# holds the value while the round is open (see test_sealing) and none after close.
ROUND_CONSTANT_COLUMNS = {"day", "slot", "person_id", "sealed"}
# Joined through memberships; any other column named like a people column joins on it.
MEMBERSHIP_COLUMNS = {"cohort_id", "group_id"}
PEOPLE_COLUMNS = {c.name for c in Base.metadata.tables["people"].columns} - {"id"}


def attribute_columns() -> list[str]:
    """Return the response columns an attacker joins with people and memberships."""
    known = VALUE_COLUMNS | KEY_COLUMNS | SCOPE_COLUMNS | ROUND_CONSTANT_COLUMNS
    joinable = MEMBERSHIP_COLUMNS | PEOPLE_COLUMNS
    columns = [c.name for c in TABLE.columns]
    unknown = [c for c in columns if c not in known and c not in joinable]
    assert not unknown, f"pulse_responses.{unknown} is not classified for this attack"
    return [c for c in columns if c in joinable]


async def attacker_view(session: AsyncSession) -> dict[int, dict[str, set[Any]]]:
    """Return, per person, every value they could be matched on."""
    people = {p.id: p for p in await session.scalars(select(Person))}
    view: dict[int, dict[str, set[Any]]] = {
        pid: {c: {getattr(p, c)} for c in PEOPLE_COLUMNS} for pid, p in people.items()
    }
    for pid in view:
        view[pid]["cohort_id"] = set()
        view[pid]["group_id"] = set()
    for pid, cohort_id in await session.execute(
        select(CohortMembership.person_id, CohortMembership.cohort_id)
    ):
        view[pid]["cohort_id"].add(cohort_id)
    for pid, group_id in await session.execute(
        select(GroupMembership.person_id, GroupMembership.group_id)
    ):
        view[pid]["group_id"].add(group_id)
    return view


def smallest_candidate_set(
    rows: Sequence[Mapping[str, Any]],
    receipts: Mapping[tuple[int, int], set[int]],
    view: Mapping[int, Mapping[str, set[Any]]],
    columns: Sequence[str],
) -> tuple[int, dict[str, Any] | None]:
    """Return the fewest respondents any row maps to over every subset of `columns`."""
    fewest, worst = 10**9, None
    for row in rows:
        respondents = receipts.get((row["round_id"], row["item_id"]), set())
        for size in range(len(columns) + 1):
            for subset in combinations(columns, size):
                # An empty value was blanked or unknown: it matches anyone.
                known = [(c, row[c]) for c in subset if row[c] is not None]
                candidates = [
                    pid for pid in respondents if all(v in view[pid][c] for c, v in known)
                ]
                if len(candidates) < fewest:
                    fewest, worst = len(candidates), {c: row[c] for c in subset}
    return fewest, worst


async def attack(session: AsyncSession) -> tuple[int, dict[str, Any] | None, int]:
    """Run the attack on the stored rows; return the fewest candidates, where, and rows."""
    columns = attribute_columns()
    rows = [dict(r._mapping) for r in await session.execute(select(TABLE))]
    receipts: dict[tuple[int, int], set[int]] = {}
    for r in await session.scalars(select(PulseReceipt)):
        receipts.setdefault((r.round_id, r.item_id), set()).add(r.person_id)
    by_round: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_round.setdefault(row["round_id"], []).append(row)
    for column in ROUND_CONSTANT_COLUMNS:
        for round_rows in by_round.values():
            assert len({row[column] for row in round_rows}) <= 1, f"{column} varies in a round"
    fewest, worst = smallest_candidate_set(rows, receipts, await attacker_view(session), columns)
    return fewest, worst, len(rows)


async def test_no_response_row_maps_to_fewer_than_min_responses_people(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    programme = await pw.build_programme(sessions)
    # Everyone answers but three of cohort B: small units and groups stay small.
    await pw.answer(sessions, programme, [*programme.leaders_a, *programme.leaders_b[:5]])
    async with sessions() as session:
        await close_round(session, programme.round_id, secret=pw.SECRET)
        await session.commit()
    async with sessions() as session:
        fewest, worst, count = await attack(session)
    assert count == 5 * 27  # every item answered by 27 people is kept
    assert fewest >= pw.K, f"a row with {worst} maps to only {fewest} respondents"
    assert "cohort_id" in attribute_columns() and "unit" in attribute_columns()


async def test_the_attack_does_find_people_in_rows_that_are_not_coarsened(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The same attack on the attributes before coarsening singles people out."""
    programme = await pw.build_programme(sessions)
    await pw.answer(sessions, programme, programme.leaders)
    async with sessions() as session:
        people = list(await session.scalars(select(Person).where(Person.role == "participant")))
        where = await split_attributes(session, people, programme.survey)
        receipts: dict[tuple[int, int], set[int]] = {}
        for r in await session.scalars(select(PulseReceipt)):
            receipts.setdefault((r.round_id, r.item_id), set()).add(r.person_id)
        raw_rows: Iterable[dict[str, Any]] = [
            {
                "round_id": programme.round_id,
                "item_id": programme.items["energy"],
                "cohort_id": where[p.id].cohort_id,
                "group_id": where[p.id].group_id,
                "unit": where[p.id].unit,
            }
            for p in people
        ]
        fewest, worst = smallest_candidate_set(
            list(raw_rows),
            receipts,
            await attacker_view(session),
            ["cohort_id", "group_id", "unit"],
        )
    assert fewest == 1, worst  # the one Sámi kindergarten leader, for one


async def test_an_item_answered_by_too_few_keeps_no_rows_after_close(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    programme = await pw.build_programme(sessions)
    await pw.answer(sessions, programme, programme.leaders_b[:3])
    async with sessions() as session:
        await close_round(session, programme.round_id, secret=pw.SECRET)
        await session.commit()
    async with sessions() as session:
        _fewest, _worst, count = await attack(session)
    # Three answers could be matched with three receipts; they can never be shown either.
    assert count == 0
