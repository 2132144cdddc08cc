"""Free text, on every channel: route it to the one thing it answers, or show the menu.

Commands never get here: the router recognises them first. A reply to one of our
messages answers that message; any other text answers what `bot.core.conversation.route`
picks: the newest prompt, or the stored state (a follow-up, an edit, a pulse text).
"""

from __future__ import annotations

from bot.core import compose
from bot.core.conversation import Purpose, ShowMenu, expect, route
from bot.handlers import pulse, reflection
from bot.handlers.context import Context, Reply
from bot.services import answers, conversation
from bot.services.prompt_views import prompt_view
from bot.services.pulse_messages import PULSE_KINDS
from storage.models import Delivery


async def reply_text(context: Context) -> list[Reply]:
    """Store a chat message as the answer it is meant for, or say that nothing waits."""
    interaction = context.interaction
    if interaction.reply_to:
        replied = await answers.delivery_by_ref(
            context.session, interaction.platform, interaction.reply_to
        )
        if replied is not None:
            return await _explicit_reply(context, replied)
    if interaction.is_group_chat:
        # In a group, only a reply to one of our prompts is an answer; anything else is
        # the group's own conversation (e.g. a thread the bot was mentioned in).
        return []
    session, me = context.session, context.me
    state = await conversation.awaiting(session, me.id)
    newest = await conversation.open_prompt(session, me.id, context.now)
    decision = route(state, newest, context.now, context.policy)
    if isinstance(decision, ShowMenu):
        if state is not None:
            await conversation.clear(session, me.id)
        return await menu(context, decision)
    if decision.implicit and state is not None:
        # A newer prompt superseded what waited: a later message must not fall back to it.
        await conversation.clear(session, me.id)
    if decision.purpose is Purpose.PULSE_TEXT:
        return await pulse.answer_text(context, decision.delivery_id)
    return await reflection.answer_text(
        context, decision.delivery_id, decision.purpose, implicit=decision.implicit
    )


async def _explicit_reply(context: Context, replied: Delivery) -> list[Reply]:
    """Answer the message the person replied to (their own pulse or prompt only)."""
    if replied.kind in PULSE_KINDS:
        if replied.person_id != context.me.id:
            return []
        return await pulse.answer_text(context, replied.id)
    owned = await answers.answerable_delivery(context.session, replied.id, context.me.id)
    if owned is None:
        return []
    state = await conversation.awaiting(context.session, context.me.id)
    if state is not None and state.live(context.now) and state.delivery_id == owned.id:
        purpose = state.purpose
    else:
        purpose = Purpose.FOLLOW_UP if replied.kind == "follow_up" else Purpose.ANSWER
    return await reflection.answer_text(context, owned.id, purpose)


async def menu(context: Context, decision: ShowMenu) -> list[Reply]:
    """Say nothing was saved and what the bot can do; offer an older open prompt, if any."""
    open_question = None
    if decision.open_delivery_id is not None:
        delivery = await context.session.get(Delivery, decision.open_delivery_id)
        if delivery is not None:
            view = await prompt_view(context.session, delivery, context.locale)
            open_question = (delivery.id, view.question)
    message = compose.menu_message(
        context.tr,
        context.locale,
        coach=context.me.role in ("coach", "admin"),
        expired=decision.expired,
        open_question=open_question,
    )
    return [Reply(message)]


async def press_answer(context: Context) -> list[Reply]:
    """Make an open prompt the thing the next free text answers (the menu's button)."""
    value = context.interaction.value
    delivery_id = int(value) if value.isdigit() else None
    session, me = context.session, context.me
    delivery = (
        await answers.answerable_delivery(session, delivery_id, me.id) if delivery_id else None
    )
    if delivery is None:
        return context.say(
            context._("That prompt was not sent to you, so nothing was saved."), ephemeral=True
        )
    if await answers.own_answer(session, delivery.id, me.id) is not None:
        return reflection.already_answered(context)
    await conversation.expect(
        session, me.id, expect(Purpose.ANSWER, delivery.id, context.now, context.policy)
    )
    view = await prompt_view(session, delivery, context.locale)
    return context.say(compose.goes_to(context.tr, view.question), tag="awaiting")


async def cancel(context: Context) -> list[Reply]:
    """Stop waiting for text (the cancel command); nothing stored changes."""
    await conversation.clear(context.session, context.me.id)
    text = context._("OK. I am not waiting for an answer from you now.")
    return context.say(text, tag="cancelled")


async def _undo(context: Context, answer_id: int | None) -> list[Reply]:
    session, me = context.session, context.me
    minutes = int(context.policy.undo_window.total_seconds() // 60)
    nothing = context._(
        "There is nothing to undo: an edit can be undone for {minutes} minutes."
    ).format(minutes=minutes)
    undo = await conversation.take_undo(session, me.id, context.now)
    if undo is None or (answer_id is not None and undo.answer_id != answer_id):
        return context.say(nothing, tag="undo_refused")
    answer = await conversation.answer_of(session, undo, me.id)
    if answer is None:
        return context.say(nothing, tag="undo_refused")
    answer.text, answer.visibility, answer.edits = undo.text, undo.visibility, answer.edits + 1
    if answer.stage == "main":
        await answers.narrow_follow_up(session, answer)
    await session.flush()
    delivery = await session.get(Delivery, answer.delivery_id)
    card = await reflection.updated_prompt(context, delivery) if delivery is not None else []
    text = context._("Undone. Your reflection is back to: {text}").format(
        text=compose.quoted(undo.text, 400)
    )
    return [*card, *context.say(text, tag="undone")]


async def undo(context: Context) -> list[Reply]:
    """Take back the last edit within the undo window (the undo command)."""
    return await _undo(context, None)


async def press_undo(context: Context) -> list[Reply]:
    """Take back the edit whose Undo button was pressed, within the undo window."""
    value = context.interaction.value
    return await _undo(context, int(value) if value.isdigit() else -1)
