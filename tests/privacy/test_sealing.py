"""Attack: read anonymous answers out of the database while the round is still open.

The attacker holds the database (tables, SQLite file and `-wal`, PostgreSQL pages and WAL)
but not the app's key. While the round is open they link response rows to people every way
they can: on PostgreSQL by the transaction that wrote a row and its receipt (`xmin`) and by
physical order (`ctid`); on both by insertion order and by day. Even where the link is right,
no value of anyone's answer is readable: the rows hold it only sealed (AES-GCM under a key
derived from the app's secret), and the typed free text is in no byte of the files or, on
PostgreSQL, of the WAL. The controls show the link is real and that the key (and only the
key) opens the seal; after close the values are plain, the results are the answers, and the
sealed bytes are gone from the files.
"""

from __future__ import annotations

import logging
import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.core.pulse_results import ItemResult
from bot.core.pulse_values import PulseValue
from bot.core.sealing import BLOCK, SealBroken, seal, unseal
from bot.services.pulses import (
    close_round,
    overwrite_closed,
    record_response,
    round_results,
    slot_for,
)
from storage.models import PulseResponse
from tests import factories
from tests.privacy import world as pw
from tests.privacy.test_forensics import hits_in_files, hits_in_postgres, sqlite_files

VALUE_COLUMNS = ("value_int", "value_choices", "value_text")
WRONG_KEY = "a-wrong-key-that-is-long-enough-to-be-accepted-0123"
DRAFT = "FIRST-DRAFT-NOTE-8814 my manager never listens"


def as_value(answer: object) -> PulseValue:
    """Return a test answer as the value the app stores for it."""
    if isinstance(answer, int):
        return PulseValue(value_int=answer)
    if isinstance(answer, list):
        return PulseValue(value_choices=tuple(answer))
    assert isinstance(answer, str)
    if answer.startswith("NOTE-"):
        return PulseValue(value_text=answer)
    return PulseValue(value_choices=(answer,))


async def answer_all_with_a_change(
    sessions: async_sessionmaker[AsyncSession], programme: pw.Programme
) -> None:
    """Have the first leader type a draft note first; then everyone answers everything."""
    first = programme.leaders[0]
    async with sessions() as session:
        await record_response(
            session, programme.round_id, programme.items["note"], first.id, DRAFT, pw.DAY,
            secret=pw.SECRET,
        )  # fmt: skip
        await session.commit()
    await pw.answer(sessions, programme, programme.leaders)


def notes(programme: pw.Programme) -> list[bytes]:
    """Return every free text typed in the round, as it would sit in the files."""
    return [DRAFT.encode()] + [str(a["note"]).encode() for a in programme.answers.values()]


async def raw_rows(session: AsyncSession, table: str, backend: str) -> list[dict[str, Any]]:
    """Return a table's rows as the database holds them, with PostgreSQL's `xmin` and `ctid`."""
    extra = ", xmin::text AS xmin, ctid::text AS ctid" if backend != "sqlite" else ""
    result = await session.execute(text(f"SELECT *{extra} FROM {table}"))  # physical order
    return [dict(r._mapping) for r in result]


def ctid_key(ctid: str) -> tuple[int, int]:
    """Return a ctid '(page,tuple)' as a sortable pair."""
    page, item = ctid.strip("()").split(",")
    return int(page), int(item)


def links(
    responses: list[dict[str, Any]], receipts: list[dict[str, Any]], backend: str
) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Return, per way of joining, the (person, response row) pairs the attacker forms."""
    found: dict[str, list[tuple[int, dict[str, Any]]]] = {"insertion order": [], "day": []}
    items = {r["item_id"] for r in responses}
    for item in items:
        rows = [r for r in responses if r["item_id"] == item]
        people = sorted((r for r in receipts if r["item_id"] == item), key=lambda r: r["id"])
        found["insertion order"] += [
            (p["person_id"], row) for p, row in zip(people, rows, strict=False)
        ]
        found["day"] += [(p["person_id"], r) for r in rows for p in people if p["day"] == r["day"]]
    if backend != "sqlite":
        by_tx: dict[str, list[int]] = {}
        for receipt in receipts:
            by_tx.setdefault(receipt["xmin"], []).append(receipt["person_id"])
        found["xmin"] = [(p, r) for r in responses for p in set(by_tx.get(r["xmin"], []))]
        found["ctid order"] = []
        for item in items:
            rows = sorted(
                (r for r in responses if r["item_id"] == item), key=lambda r: ctid_key(r["ctid"])
            )
            people = sorted(
                (r for r in receipts if r["item_id"] == item), key=lambda r: ctid_key(r["ctid"])
            )
            found["ctid order"] += [
                (p["person_id"], row) for p, row in zip(people, rows, strict=False)
            ]
    return found


async def wal_since(session: AsyncSession, start: int) -> bytes:
    """Return the PostgreSQL WAL written since byte position `start`, read from pg_wal."""
    end = int(await session.scalar(text("SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn")))
    size = int(
        await session.scalar(
            text("SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'")
        )
    )
    chunks = []
    position = start
    while position < end:
        name = await session.scalar(
            text("SELECT pg_walfile_name('0/0'::pg_lsn + CAST(:p AS numeric))"), {"p": position}
        )
        offset = position % size
        length = min(size - offset, end - position)
        chunks.append(
            await session.scalar(
                text("SELECT pg_read_binary_file(:f, :o, :l)"),
                {"f": f"pg_wal/{name}", "o": offset, "l": length},
            )
        )
        position += length
    return b"".join(bytes(c) for c in chunks)


async def wal_position(session: AsyncSession) -> int:
    """Return the current PostgreSQL WAL position in bytes."""
    return int(await session.scalar(text("SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn")))


def found_in(data: bytes, wanted: Iterable[bytes]) -> list[bytes]:
    """Return which of `wanted` occur in `data`."""
    return [needle for needle in wanted if needle in data]


async def test_a_database_holder_linking_open_rows_to_people_reads_no_value(
    backend: str, db_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    programme = await pw.build_programme(sessions)
    start = 0
    if backend != "sqlite":
        async with sessions() as session:
            await session.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
            await session.commit()
            start = await wal_position(session)
    await answer_all_with_a_change(sessions, programme)

    async with sessions() as session:
        responses = await raw_rows(session, "pulse_responses", backend)
        receipts = await raw_rows(session, "pulse_receipts", backend)
        joined = links(responses, receipts, backend)
        # Control: the same scans find what the round did write in plain, the slots.
        slots = [str(r["slot"]).encode() for r in responses]
        if backend == "sqlite":
            file_hits = hits_in_files(sqlite_files(db_url), notes(programme))
            control = hits_in_files(sqlite_files(db_url), slots)
        else:
            file_hits = await hits_in_postgres(session, notes(programme))
            wal = await wal_since(session, start)
            file_hits += [f"WAL: {n[:20]!r}" for n in found_in(wal, notes(programme))]
            control = found_in(wal, slots) and await hits_in_postgres(session, slots)

    assert len(responses) == 5 * len(programme.leaders)
    # The attacker does link rows to people: by xmin every row to the one who wrote it.
    if backend != "sqlite":
        true_links = [
            (p, r)
            for p, r in joined["xmin"]
            if r["slot"] == slot_for(pw.SECRET, programme.round_id, p, r["item_id"])
        ]
        # Every row, the changed one too (its transaction wrote that leader's other receipts).
        assert len(true_links) == 5 * len(programme.leaders)
    for way, pairs in joined.items():
        assert pairs, f"joining by {way} linked nothing"
        for person, row in pairs:
            # A JSON column keeps an empty value as the JSON text null.
            readable = {c: None if row[c] == "null" else row[c] for c in VALUE_COLUMNS}
            assert readable == dict.fromkeys(VALUE_COLUMNS), (way, person, readable)
            note = str(programme.answers[person]["note"])
            assert not [c for c, v in row.items() if note in str(v)], (way, note)
    # The seal hides even which answers are equal, and how long a choice or number is.
    sealed = [bytes(r["sealed"]) for r in responses]
    assert len(set(sealed)) == len(sealed)
    for item in programme.items.values():
        lengths = {len(bytes(r["sealed"])) for r in responses if r["item_id"] == item}
        assert len(lengths) == 1, (item, lengths)
    # No typed text, not even the draft that was changed, is in any byte the holder has.
    assert control, "the scan read nothing it could have found"
    assert file_hits == [], file_hits[:5]


async def test_the_key_and_only_the_key_opens_what_the_attacker_linked(
    backend: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Control: a linked row plus the key is the answer, so the seal is what stops the attack."""
    programme = await pw.build_programme(sessions)
    await pw.answer(sessions, programme, programme.leaders)
    async with sessions() as session:
        rows = list(await session.scalars(select(PulseResponse)))
    slots = {
        slot_for(pw.SECRET, programme.round_id, p.id, item): (p.id, key)
        for p in programme.leaders
        for key, item in programme.items.items()
    }
    assert len(rows) == 5 * len(programme.leaders)
    for row in rows:
        assert row.sealed is not None
        assert (row.value_int, row.value_choices, row.value_text) == (None, None, None)
        person, key = slots[str(row.slot)]
        opened = unseal(pw.SECRET, row.round_id, row.item_id, str(row.slot), row.sealed)
        assert opened == as_value(programme.answers[person][key])
        with pytest.raises(SealBroken):
            unseal(WRONG_KEY, row.round_id, row.item_id, str(row.slot), row.sealed)
    # A seal moved to another row (another person's slot or item) does not open either.
    first, second = rows[0], rows[1]
    assert first.sealed is not None
    with pytest.raises(SealBroken):
        unseal(pw.SECRET, first.round_id, first.item_id, str(second.slot), first.sealed)
    with pytest.raises(SealBroken):
        unseal(pw.SECRET, first.round_id, first.item_id + 1, str(first.slot), first.sealed)
    # Padding: a 10 and a 9, one option and all options seal to the same length.
    lengths = {
        len(seal(pw.SECRET, 1, 1, "s", value, room=64))
        for value in (
            PulseValue(value_int=10),
            PulseValue(value_int=9),
            PulseValue(value_choices=("a",)),
            PulseValue(value_choices=("a", "b", "c")),
        )
    }
    assert lengths == {1 + 12 + BLOCK + 16}


async def test_after_close_the_values_are_the_answers_and_the_seals_are_gone(
    backend: str,
    db_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    programme = await pw.build_programme(sessions)
    await answer_all_with_a_change(sessions, programme)
    async with sessions() as session:
        seals = [bytes(s) for s in await session.scalars(select(PulseResponse.sealed))]
        if backend != "sqlite":
            await session.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
            await session.commit()
    assert len(seals) == 5 * len(programme.leaders)
    async with sessions() as session:
        await close_round(session, programme.round_id, secret=pw.SECRET)
        await session.commit()
    assert await overwrite_closed(engine)

    async with sessions() as session:
        rows = list(await session.scalars(select(PulseResponse)))
        reports = {r.item.key: r for r in await round_results(session, programme.round_id)}
        if backend == "sqlite":
            seal_hits = hits_in_files(sqlite_files(db_url), seals)
            note_hits = hits_in_files(sqlite_files(db_url), notes(programme))
        else:
            seal_hits = await hits_in_postgres(session, seals)
            note_hits = await hits_in_postgres(session, notes(programme))
    assert all(r.sealed is None and r.slot is None for r in rows)
    for key, item in programme.items.items():
        stored = Counter(repr(factories.opened(r, pw.SECRET)) for r in rows if r.item_id == item)
        answered = Counter(repr(as_value(a[key])) for a in programme.answers.values())
        assert stored == answered, key
    energy = reports["energy"].whole
    assert isinstance(energy, ItemResult)
    assert energy.respondents == len(programme.leaders)
    expected = statistics.mean(int(str(a["energy"])) for a in programme.answers.values())
    assert energy.mean == pytest.approx(expected, abs=0.05)
    note = reports["note"].whole
    assert isinstance(note, ItemResult)
    assert sorted(note.texts) == sorted(str(a["note"]) for a in programme.answers.values())
    # The seals are erased from the files; the plain notes are there now (the scan works),
    # but not the draft that was changed while the round was open.
    assert seal_hits == [], seal_hits[:3]
    assert len(note_hits) == len(programme.leaders), note_hits[:3]
    assert not [h for h in note_hits if "FIRST-DRAFT" in h]


async def test_a_key_changed_while_open_drops_the_sealed_values_and_logs_no_value(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    programme = await pw.build_programme(sessions)
    await pw.answer(sessions, programme, programme.leaders)
    with caplog.at_level(logging.DEBUG):
        async with sessions() as session:
            await close_round(session, programme.round_id, secret=WRONG_KEY)
            await session.commit()
    async with sessions() as session:
        kept = list(await session.scalars(select(PulseResponse)))
        reports = await round_results(session, programme.round_id)
    assert kept == []
    assert all(not isinstance(r.whole, ItemResult) for r in reports)
    logged = caplog.text
    assert f"{5 * len(programme.leaders)} sealed answers do not open" in logged
    for answers in programme.answers.values():
        assert str(answers["note"]) not in logged
