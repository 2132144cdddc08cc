"""A coach's private comment on a shared answer, delivered to its author through the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.compose import MAX_ANSWER_LENGTH
from bot.core.messages import OutMessage
from bot.i18n import gettext_for
from bot.services.prompt_views import pick_text
from bot.services.render import renders
from bot.services.review import visible_answer
from storage.models import Answer, AnswerComment, AuditEntry, Delivery, Person, Prompt

COMMENT_LIFETIME = timedelta(days=14)


class EmptyComment(ValueError):
    """A comment with no text."""


async def add_comment(
    session: AsyncSession, coach: Person, answer_id: int, text: str, now: datetime
) -> AnswerComment | None:
    """Store a comment and queue it for the answer's author; None if the coach may not see it."""
    body = text.strip()[:MAX_ANSWER_LENGTH]
    if not body:
        raise EmptyComment("a comment needs some text")
    answer = await visible_answer(session, coach, answer_id)
    if answer is None:
        return None
    comment = AnswerComment(answer_id=answer.id, author_id=coach.id, text=body, created_at=now)
    session.add(comment)
    await session.flush()
    session.add(
        Delivery.owed(
            key=f"comment:{comment.id}",
            kind="comment",
            due_at=now,
            expires_at=now + COMMENT_LIFETIME,
            person_id=answer.person_id,
            prompt_id=answer.prompt_id,
            # Ids only: the renderer reads the comment itself, so no text sits in the outbox.
            payload={"comment_id": comment.id, "answer_id": answer.id},
        )
    )
    session.add(
        AuditEntry(
            at=now,
            actor_id=coach.id,
            action="answer.comment",
            subject=f"person:{answer.person_id}",
            detail={"answer_id": answer.id, "comment_id": comment.id},
        )
    )
    await session.flush()
    return comment


@renders("comment")
async def render_comment(session: AsyncSession, delivery: Delivery, locale: str) -> OutMessage:
    """Render a coach's comment for the answer's author, quoting the question it is about."""
    _ = gettext_for(locale).gettext
    comment = await session.get(AnswerComment, int(delivery.payload.get("comment_id", 0)))
    if comment is None:
        return OutMessage(text=_("A comment from your coach was withdrawn."), locale=locale)
    coach = await session.get(Person, comment.author_id)
    answer = await session.get(Answer, comment.answer_id)
    prompt = await session.get(Prompt, answer.prompt_id) if answer and answer.prompt_id else None
    question = pick_text(prompt.text if prompt else None, locale)
    title = _("{coach} commented on your reflection").format(
        coach=coach.name if coach is not None else _("Your coach")
    )
    context = (_("About: {question}").format(question=question),) if question else ()
    return OutMessage(text=comment.text, locale=locale, title=title, context=context, tag="comment")
