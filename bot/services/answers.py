"""Store reflection answers, only for deliveries that belong to the person answering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.compose import MAX_ANSWER_LENGTH
from bot.core.visibility import narrower, resolve, wider_than
from bot.core.vocabulary import Visibility
from storage.models import Answer, Delivery, GroupMembership, Person

ANSWERABLE_KINDS = ("prompt", "reminder", "follow_up", "group_prompt")


class EmptyAnswer(ValueError):
    """An answer with no text."""


async def root_delivery(session: AsyncSession, delivery: Delivery) -> Delivery:
    """Return the prompt a reminder or follow-up belongs to (or the delivery itself)."""
    while delivery.parent_id is not None and delivery.kind in ("reminder", "follow_up"):
        parent = await session.get(Delivery, delivery.parent_id)
        if parent is None:
            break
        delivery = parent
    return delivery


async def answerable_delivery(
    session: AsyncSession, delivery_id: int, person_id: int
) -> Delivery | None:
    """Return the delivery if this person may answer it: their own, or their group's."""
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None or delivery.kind not in ANSWERABLE_KINDS:
        return None
    if delivery.person_id == person_id:
        return await root_delivery(session, delivery)
    if delivery.person_id is None and delivery.group_id is not None:
        member = await session.scalar(
            select(GroupMembership.id).where(
                GroupMembership.group_id == delivery.group_id,
                GroupMembership.person_id == person_id,
            )
        )
        return delivery if member is not None else None
    return None


async def delivery_by_ref(session: AsyncSession, platform: str, ref: str) -> Delivery | None:
    """Find the delivery whose platform message this is."""
    return await session.scalar(
        select(Delivery).where(Delivery.platform == platform, Delivery.message_ref == ref)
    )


async def latest_open(
    session: AsyncSession, person_id: int, now: datetime
) -> tuple[Delivery, datetime] | None:
    """Return the newest unanswered prompt sent to this person, and when it was last asked.

    A reminder asks again: its send time counts, but the prompt it reminds of is returned.
    """
    candidates = await session.scalars(
        select(Delivery)
        .where(
            Delivery.person_id == person_id,
            Delivery.kind.in_(("prompt", "reminder", "group_prompt")),
            Delivery.status == "sent",
        )
        .order_by(Delivery.sent_at.desc())
        .limit(5)
    )
    for candidate in candidates:
        root = await root_delivery(session, candidate)
        if root.answered_at is None and (root.expires_at is None or root.expires_at > now):
            return root, candidate.sent_at or now
    return None


class AlreadyAnswered(Exception):
    """Typed text would replace a stored answer without an explicit edit."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("already answered")
        self.answer = answer


@dataclass(frozen=True, slots=True)
class Saved:
    """A stored answer and, when it replaced one, the version it replaced."""

    answer: Answer
    before_text: str | None = None
    before_visibility: str | None = None

    @property
    def replaced(self) -> bool:
        """Tell whether an earlier version was replaced."""
        return self.before_text is not None


def campaign_default(delivery: Delivery) -> str:
    """Return the visibility the campaign (or the prompt's poster) chose as the default."""
    return str(delivery.payload.get("visibility", Visibility.COACH.value))


async def bound_visibility(
    session: AsyncSession, delivery: Delivery, person_id: int, stage: str
) -> str:
    """Return the widest visibility a new answer gets without an explicit choice.

    A follow-up is never more visible than its main answer (privacy by default: the
    narrower of the main answer and the campaign default wins).
    """
    default = campaign_default(delivery)
    if stage == "follow_up":
        parent = await own_answer(session, delivery.id, person_id)
        if parent is not None:
            return narrower(parent.visibility, default).value
    return default


async def _visibility_for(
    session: AsyncSession,
    delivery: Delivery,
    person_id: int,
    stage: str,
    chosen: str | None,
    offered: str | None,
    existing: Answer | None,
) -> str:
    if delivery.group_id is not None and delivery.kind == "group_prompt":
        return Visibility.GROUP.value
    if existing is not None:
        bound = existing.visibility
    else:
        bound = await bound_visibility(session, delivery, person_id, stage)
    return resolve(chosen, offered, bound).value


async def save_answer(
    session: AsyncSession,
    delivery: Delivery,
    person: Person,
    text: str,
    *,
    platform: str,
    now: datetime,
    stage: str = "main",
    visibility: str | None = None,
    offered: str | None = None,
    source_ref: str | None = None,
    replace: bool = False,
) -> Saved:
    """Store the person's answer to a delivery and reset their ignored streak.

    An existing answer is replaced only with `replace` (an explicit edit); otherwise
    AlreadyAnswered is raised and nothing changes. Text longer than the limit is cut at
    the limit; an empty text is refused. `visibility` is the leader's choice on a form
    that preselected `offered`; see `bot.core.visibility.resolve`.
    """
    body = text.strip()
    if not body:
        raise EmptyAnswer("an answer needs some text")
    body = body[:MAX_ANSWER_LENGTH]
    answer = await session.scalar(
        select(Answer).where(
            Answer.delivery_id == delivery.id,
            Answer.person_id == person.id,
            Answer.stage == stage,
        )
    )
    if answer is not None and not replace:
        raise AlreadyAnswered(answer)
    chosen = await _visibility_for(session, delivery, person.id, stage, visibility, offered, answer)
    saved: Saved
    if answer is None:
        answer = Answer(
            delivery_id=delivery.id,
            person_id=person.id,
            prompt_id=delivery.prompt_id,
            group_id=delivery.group_id,
            stage=stage,
            text=body,
            visibility=chosen,
            platform=platform,
            source_ref=source_ref,
        )
        session.add(answer)
        saved = Saved(answer)
    else:
        saved = Saved(answer, answer.text, answer.visibility)
        answer.text, answer.visibility, answer.edits = body, chosen, answer.edits + 1
        answer.source_ref = source_ref or answer.source_ref
    if stage == "main" and delivery.person_id == person.id and delivery.answered_at is None:
        delivery.answered_at = now
    person.ignored_in_a_row, person.needs_attention_since = 0, None
    await session.flush()
    if stage == "main":
        await narrow_follow_up(session, answer)
    return saved


async def narrow_follow_up(session: AsyncSession, main: Answer) -> Answer | None:
    """Keep the follow-up no more visible than its main answer; return it if it changed."""
    follow_up = await session.scalar(
        select(Answer).where(
            Answer.delivery_id == main.delivery_id,
            Answer.person_id == main.person_id,
            Answer.stage == "follow_up",
        )
    )
    if follow_up is None or not wider_than(follow_up.visibility, main.visibility):
        return None
    follow_up.visibility = main.visibility
    return follow_up


async def own_answer(session: AsyncSession, delivery_id: int, person_id: int) -> Answer | None:
    """Return the person's main answer to a delivery, if any."""
    return await session.scalar(
        select(Answer).where(
            Answer.delivery_id == delivery_id,
            Answer.person_id == person_id,
            Answer.stage == "main",
        )
    )


async def answer_by_source(session: AsyncSession, person_id: int, source_ref: str) -> Answer | None:
    """Find the answer that a given message of the author carried."""
    return await session.scalar(
        select(Answer).where(Answer.person_id == person_id, Answer.source_ref == source_ref)
    )


async def follow_up_answer(
    session: AsyncSession, delivery_id: int, person_id: int
) -> Answer | None:
    """Return the person's follow-up answer to a delivery, if any."""
    return await session.scalar(
        select(Answer).where(
            Answer.delivery_id == delivery_id,
            Answer.person_id == person_id,
            Answer.stage == "follow_up",
        )
    )


@dataclass(frozen=True, slots=True)
class VisibilityChange:
    """The answer whose visibility was set, and its follow-up if that had to narrow too."""

    answer: Answer
    narrowed_follow_up: Answer | None = None


async def set_visibility(
    session: AsyncSession, answer_id: int, person_id: int, visibility: str
) -> VisibilityChange | None:
    """Change who can read an answer; only its author may, and group answers stay group.

    Narrowing a main answer narrows its follow-up with it; widening never widens the
    follow-up, which needs its own explicit choice.
    """
    answer = await session.get(Answer, answer_id)
    if answer is None or answer.person_id != person_id:
        return None
    delivery = await session.get(Delivery, answer.delivery_id)
    if delivery is not None and delivery.kind == "group_prompt":
        return VisibilityChange(answer)
    answer.visibility = Visibility(visibility).value
    narrowed = await narrow_follow_up(session, answer) if answer.stage == "main" else None
    return VisibilityChange(answer, narrowed)


async def recent_answers(session: AsyncSession, person_id: int, limit: int = 5) -> list[Answer]:
    """Return the person's newest answers."""
    rows = await session.scalars(
        select(Answer)
        .where(Answer.person_id == person_id)
        .order_by(Answer.created_at.desc(), Answer.id.desc())
        .limit(limit)
    )
    return list(rows)
