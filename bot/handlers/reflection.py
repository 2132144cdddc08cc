"""Answer a reflection prompt: submit a form, reply in chat, edit, go one step further."""

from __future__ import annotations

from bot.core import compose
from bot.core.messages import OutMessage
from bot.handlers.context import Context, Reply
from bot.services import answers
from bot.services.prompt_views import prompt_view
from storage.models import Answer, Delivery


def _delivery_id(value: str) -> int | None:
    return int(value) if value.isdigit() else None


async def _updated_prompt(context: Context, delivery: Delivery, answer: Answer) -> list[Reply]:
    """Put the answered version of the prompt in place of the original message."""
    if delivery.message_ref is None or delivery.platform != context.interaction.platform:
        return []
    view = await prompt_view(context.session, delivery, context.locale)
    follow_up_done = answer.stage == "follow_up"
    message = compose.answered_message(context.tr, view, answer.visibility, follow_up_done)
    return [Reply(message, replace=delivery.message_ref)]


async def _store(
    context: Context, delivery: Delivery, text: str, stage: str, visibility: str | None
) -> list[Reply]:
    interaction = context.interaction
    try:
        answer = await answers.save_answer(
            context.session,
            delivery,
            context.me,
            text,
            platform=interaction.platform,
            now=context.now,
            stage=stage,
            visibility=visibility,
            source_ref=interaction.fields.get("message_ref"),
        )
    except answers.EmptyAnswer:
        return context.say(context._("Your answer was empty, so nothing was saved."))
    if context.identity is not None and context.identity.awaiting_delivery_id == delivery.id:
        context.identity.awaiting_delivery_id = context.identity.awaiting_stage = None
    replies = await _updated_prompt(context, delivery, answer)
    saved = compose.saved_message(context.tr, answer.id, answer.visibility, context.locale)
    return [*replies, Reply(saved, ephemeral=True)]


async def _own_delivery(context: Context) -> Delivery | None:
    delivery_id = _delivery_id(context.interaction.value)
    if delivery_id is None:
        return None
    return await answers.answerable_delivery(context.session, delivery_id, context.me.id)


def _not_yours(context: Context) -> list[Reply]:
    return context.say(
        context._("That prompt was not sent to you, so nothing was saved."), ephemeral=True
    )


async def submit_answer(context: Context) -> list[Reply]:
    """Store the answer typed into a form, with the visibility chosen there."""
    delivery = await _own_delivery(context)
    if delivery is None:
        return _not_yours(context)
    visibility = context.interaction.fields.get("visibility")
    return await _store(context, delivery, context.interaction.text, "main", visibility)


async def submit_follow_up(context: Context) -> list[Reply]:
    """Store the answer to a follow-up question."""
    delivery = await _own_delivery(context)
    if delivery is None:
        return _not_yours(context)
    visibility = context.interaction.fields.get("visibility")
    return await _store(context, delivery, context.interaction.text, "follow_up", visibility)


async def _delivery_for_text(context: Context) -> tuple[Delivery | None, str]:
    """Work out which prompt a chat message answers, and at which stage."""
    session, interaction, me = context.session, context.interaction, context.me
    if interaction.reply_to:
        replied = await answers.delivery_by_ref(session, interaction.platform, interaction.reply_to)
        if replied is not None:
            owned = await answers.answerable_delivery(session, replied.id, me.id)
            return owned, "follow_up" if replied.kind == "follow_up" else "main"
    if interaction.is_group_chat:
        # In a group, only a reply to one of our prompts is an answer; anything else is
        # the group's own conversation (e.g. a thread the bot was mentioned in).
        return None, "main"
    identity = context.identity
    if identity is not None and identity.awaiting_delivery_id is not None:
        owned = await answers.answerable_delivery(session, identity.awaiting_delivery_id, me.id)
        if owned is not None:
            return owned, identity.awaiting_stage or "main"
    return await answers.latest_open_delivery(session, me.id, context.now), "main"


async def reply_text(context: Context) -> list[Reply]:
    """Treat a chat message as the answer to the prompt it replies to, or the open one."""
    delivery, stage = await _delivery_for_text(context)
    if delivery is None and context.interaction.is_group_chat:
        return []
    if delivery is None:
        return context.say(
            context._(
                "I have no open question for you right now. Write /help to see what I can do."
            )
        )
    return await _store(context, delivery, context.interaction.text, stage, None)


async def edited_text(context: Context) -> list[Reply]:
    """Update an answer when its author edits the chat message that carried it."""
    ref = context.interaction.fields.get("message_ref")
    if not ref:
        return []
    answer = await answers.answer_by_source(context.session, context.me.id, str(ref))
    if answer is None:
        return []
    delivery = await context.session.get(Delivery, answer.delivery_id)
    assert delivery is not None
    return await _store(context, delivery, context.interaction.text, answer.stage, None)


async def _offer_edit(context: Context, delivery: Delivery) -> list[Reply]:
    """Ask for a new version of the person's answer to `delivery`, prefilled."""
    current = await answers.own_answer(context.session, delivery.id, context.me.id)
    view = await prompt_view(context.session, delivery, context.locale)
    if context.identity is not None:
        context.identity.awaiting_delivery_id, context.identity.awaiting_stage = delivery.id, "main"
    request = compose.edit_request(
        context.tr,
        view,
        current.text if current else "",
        current.visibility if current else view.default_visibility,
    )
    text = context._("Write the new version of your reflection as a reply.")
    return [Reply(OutMessage(text=text, locale=context.locale, ask=request, tag="edit"))]


async def press_edit(context: Context) -> list[Reply]:
    """Offer the current answer for editing."""
    delivery = await _own_delivery(context)
    if delivery is None:
        return _not_yours(context)
    return await _offer_edit(context, delivery)


async def edit_latest(context: Context) -> list[Reply]:
    """Offer the person's newest answer for editing (the /edit command)."""
    latest = await answers.recent_answers(context.session, context.me.id, 1)
    delivery = await context.session.get(Delivery, latest[0].delivery_id) if latest else None
    if delivery is None:
        return context.say(context._("You have no saved reflections yet."))
    return await _offer_edit(context, delivery)


async def press_follow_up(context: Context) -> list[Reply]:
    """Ask the follow-up question of an answered prompt."""
    delivery = await _own_delivery(context)
    if delivery is None:
        return _not_yours(context)
    view = await prompt_view(context.session, delivery, context.locale)
    if view.follow_up is None:
        return context.say(context._("This question has no follow-up."))
    if context.identity is not None:
        context.identity.awaiting_delivery_id = delivery.id
        context.identity.awaiting_stage = "follow_up"
    return [Reply(compose.follow_up_message(context.tr, view))]


async def press_visibility(context: Context) -> list[Reply]:
    """Change who can read an answer."""
    answer_id, _, visibility = context.interaction.value.partition(".")
    if not answer_id.isdigit() or visibility not in ("private", "coach", "group"):
        return context.say(context._("This button is no longer valid."), ephemeral=True)
    answer = await answers.set_visibility(
        context.session, int(answer_id), context.me.id, visibility
    )
    if answer is None:
        return _not_yours(context)
    message = compose.saved_message(context.tr, answer.id, answer.visibility, context.locale)
    ref = context.interaction.reply_to
    return [Reply(message, replace=ref)] if ref else [Reply(message)]
