"""Attack: read erased slots back out of the database files after a round has closed.

The attacker has the files (or a backup of them) but not the app's key. While a round is
open the slots are in the files; once it has closed and the erased bytes are overwritten,
neither the SQLite file nor its `-wal` (nor, on PostgreSQL, any page of the table or its
indexes, dead tuples included) holds a slot or the key.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.services.pulses import close_round, overwrite_closed
from storage.models import PulseResponse
from tests.privacy import world as pw


def needles(slots: list[str]) -> list[bytes]:
    """Return every form a slot or the key could take in the bytes."""
    found = [pw.SECRET.encode()]
    for slot in slots:
        found += [slot.encode(), slot.upper().encode(), bytes.fromhex(slot)]
    return found


def sqlite_files(db_url: str) -> list[Path]:
    """Return the database file and, when there is one, its write-ahead log."""
    path = Path(str(make_url(db_url).database))
    return [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]


def hits_in_files(files: list[Path], wanted: list[bytes]) -> list[str]:
    """Return where any of `wanted` occurs in the files."""
    hits = []
    for path in files:
        data = path.read_bytes()
        hits += [f"{path.name}: {needle[:12]!r}" for needle in wanted if needle in data]
    return hits


async def postgres_pages(session: AsyncSession, relation: str) -> bytes:
    """Return every raw page of a relation, dead tuples and free space included."""
    blocks = await session.scalar(text(f"SELECT pg_relation_size('{relation}') / 8192"))
    pages = [
        await session.scalar(text(f"SELECT get_raw_page('{relation}', {n})"))
        for n in range(int(blocks or 0))
    ]
    return b"".join(bytes(page) for page in pages)


async def hits_in_postgres(session: AsyncSession, wanted: list[bytes]) -> list[str]:
    """Return where any of `wanted` occurs in the pages of pulse_responses and its indexes."""
    indexes = await session.scalars(
        text("SELECT indexname FROM pg_indexes WHERE tablename = 'pulse_responses'")
    )
    relations = ["pulse_responses", *indexes]
    hits = []
    for relation in relations:
        data = await postgres_pages(session, relation)
        hits += [f"{relation}: {needle[:12]!r}" for needle in wanted if needle in data]
    return hits


async def test_no_slot_or_key_survives_in_the_files_after_close(
    backend: str,
    db_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    programme = await pw.build_programme(sessions)
    await pw.answer(sessions, programme, programme.leaders)
    async with sessions() as session:
        slots = [s for s in await session.scalars(select(PulseResponse.slot)) if s]
        if backend != "sqlite":
            await session.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
            await session.commit()
    assert len(slots) == 5 * len(programme.leaders)
    wanted = needles(slots)

    async def scan() -> list[str]:
        if backend == "sqlite":
            return hits_in_files(sqlite_files(db_url), wanted)
        async with sessions() as session:
            return await hits_in_postgres(session, wanted)

    # The scan finds the slots while the round is open: it would see them if they stayed.
    assert any(pw.SECRET.encode() not in needle for needle in wanted)
    assert await scan(), "the scan found no slot even while the round was open"

    async with sessions() as session:
        await close_round(session, programme.round_id, secret=pw.SECRET)
        await session.commit()
    assert await overwrite_closed(engine)

    hits = await scan()
    assert hits == [], hits[:5]
    async with sessions() as session:
        kept = list(await session.scalars(select(PulseResponse)))
    assert len(kept) == 5 * len(programme.leaders) and all(r.slot is None for r in kept)
