"""Keep each person's conversation state: what their next text answers, and the last edit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.conversation import Awaiting, OpenPrompt, Purpose
from bot.services import answers
from storage.models import Answer, ConversationState


async def _row(session: AsyncSession, person_id: int) -> ConversationState:
    row = await session.get(ConversationState, person_id)
    if row is None:
        row = ConversationState(person_id=person_id)
        session.add(row)
    return row


async def awaiting(session: AsyncSession, person_id: int) -> Awaiting | None:
    """Return what the person's next free text answers, as stored (possibly expired)."""
    row = await session.get(ConversationState, person_id)
    if row is None or row.purpose is None or row.delivery_id is None:
        return None
    assert row.since is not None and row.until is not None
    return Awaiting(Purpose(row.purpose), row.delivery_id, row.since, row.until)


async def expect(session: AsyncSession, person_id: int, state: Awaiting) -> None:
    """Make `state` the one thing the person's next free text answers."""
    row = await _row(session, person_id)
    row.purpose, row.delivery_id = state.purpose.value, state.delivery_id
    row.since, row.until = state.since, state.until


async def clear(session: AsyncSession, person_id: int, delivery_id: int | None = None) -> None:
    """Stop waiting for text (only if it waits for `delivery_id`, when one is given)."""
    row = await session.get(ConversationState, person_id)
    if row is None or (delivery_id is not None and row.delivery_id != delivery_id):
        return
    row.purpose = row.delivery_id = row.since = row.until = None


async def open_prompt(session: AsyncSession, person_id: int, now: datetime) -> OpenPrompt | None:
    """Return the newest prompt sent to the person that they have not answered yet."""
    found = await answers.latest_open(session, person_id, now)
    return OpenPrompt(found[0].id, found[1]) if found is not None else None


@dataclass(frozen=True, slots=True)
class Undo:
    """The version an edit replaced."""

    answer_id: int
    text: str
    visibility: str


async def remember_undo(
    session: AsyncSession, person_id: int, before: Undo, until: datetime
) -> None:
    """Keep the replaced version of an answer until `until`, for "undo"."""
    row = await _row(session, person_id)
    row.undo_answer_id, row.undo_text = before.answer_id, before.text
    row.undo_visibility, row.undo_until = before.visibility, until


async def take_undo(session: AsyncSession, person_id: int, now: datetime) -> Undo | None:
    """Return the version to restore and forget it; None when there is none or time ran out."""
    row = await session.get(ConversationState, person_id)
    if row is None or row.undo_answer_id is None:
        return None
    found = None
    if row.undo_until is not None and now < row.undo_until:
        found = Undo(row.undo_answer_id, row.undo_text or "", row.undo_visibility or "private")
    row.undo_answer_id = row.undo_text = row.undo_visibility = row.undo_until = None
    return found


async def forget_old_versions(session: AsyncSession, now: datetime) -> int:
    """Erase replaced versions whose undo time has run out; return how many."""
    result = await session.execute(
        update(ConversationState)
        .where(ConversationState.undo_until <= now)
        .values(undo_answer_id=None, undo_text=None, undo_visibility=None, undo_until=None)
    )
    await session.execute(
        delete(ConversationState).where(
            ConversationState.purpose.is_(None), ConversationState.undo_answer_id.is_(None)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def answer_of(session: AsyncSession, undo: Undo, person_id: int) -> Answer | None:
    """Return the answer an undo restores, if it is still the person's."""
    answer = await session.get(Answer, undo.answer_id)
    return answer if answer is not None and answer.person_id == person_id else None
