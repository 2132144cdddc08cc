"""Attack: match response rows to receipts by their order (keys, rowids, physical order)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.pulses import close_round
from storage.models import PulseReceipt, PulseResponse
from tests import factories
from tests.privacy import world as pw

# With 30 rows a random order gives |rho| above 0.6 about once in 4,000 runs.
MAX_CORRELATION = 0.6


def spearman(first: list[int], second: list[int]) -> float:
    """Return the rank correlation of two orderings of the same items."""
    n = len(first)
    rank = {item: i for i, item in enumerate(second)}
    d2 = sum((i - rank[item]) ** 2 for i, item in enumerate(first))
    return 1 - 6 * d2 / (n * (n * n - 1))


async def orders(session: AsyncSession, programme: pw.Programme) -> dict[str, list[int]]:
    """Return people in receipt order, and in each order the response rows can be read in."""
    note = programme.items["note"]
    owner = {str(a["note"]): pid for pid, a in programme.answers.items()}
    receipts = list(
        await session.scalars(
            select(PulseReceipt.person_id)
            .where(PulseReceipt.item_id == note)
            .order_by(PulseReceipt.id)
        )
    )
    rows = await session.scalars(
        select(PulseResponse).where(PulseResponse.item_id == note).order_by(PulseResponse.id)
    )
    # The test holds the key, so it also tells whose an open round's sealed row is.
    whose = {row.id: owner[str(factories.opened(row, pw.SECRET).value_text)] for row in rows}
    by_key = list(whose.values())
    stored = [  # the order the database hands rows back without ORDER BY: physical order
        whose[i]
        for (i,) in await session.execute(
            text(f"SELECT id FROM pulse_responses WHERE item_id = {note}")
        )
    ]
    return {"receipts": receipts, "key": by_key, "physical": stored}


async def test_response_order_says_nothing_about_receipt_order(
    backend: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    programme = await pw.build_programme(sessions)
    await pw.answer(sessions, programme, programme.leaders)  # one commit each, in order
    async with sessions() as session:
        await close_round(session, programme.round_id, secret=pw.SECRET)
        await session.commit()
    async with sessions() as session:
        found = await orders(session, programme)
        ids = [len(i) for i in await session.scalars(select(PulseResponse.id))]
        if backend == "sqlite":
            # No rowid to sort by: the table is WITHOUT ROWID.
            with pytest.raises(OperationalError, match="no such column: rowid"):
                await session.execute(text("SELECT rowid FROM pulse_responses"))
    assert found["receipts"] == [p.id for p in programme.leaders]
    for name in ("key", "physical"):
        rho = spearman(found["receipts"], found[name])
        assert abs(rho) < MAX_CORRELATION, f"{name} order follows the receipts (rho {rho:.2f})"
    assert set(ids) == {32}  # 128 random bits each


async def test_the_attack_sees_an_order_that_follows_the_receipts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The measure is sharp: receipt order against itself correlates fully."""
    programme = await pw.build_programme(sessions)
    await pw.answer(sessions, programme, programme.leaders[:10])
    async with sessions() as session:
        found = await orders(session, programme)
    assert spearman(found["receipts"], found["receipts"]) == 1.0
    assert spearman(found["receipts"], list(reversed(found["receipts"]))) == -1.0
