"""Answer a reflection prompt: submit a form, reply in chat, edit and undo, go one step further.

Only an explicit act replaces a stored answer: a submitted form, an edit the person asked
for ("Edit", "endre"), or editing the chat message that carried the answer. Each
replacement shows the text before and after and can be undone for a while.
"""

from __future__ import annotations

from bot.core import compose
from bot.core.conversation import Purpose, expect, parse_command
from bot.core.messages import OutMessage
from bot.handlers.context import Context, Reply
from bot.services import answers, conversation
from bot.services.prompt_views import prompt_view
from storage.models import Delivery


async def updated_prompt(context: Context, delivery: Delivery) -> list[Reply]:
    """Put the answered version of the prompt, with what is stored, in place of the original."""
    if delivery.message_ref is None or delivery.platform != context.interaction.platform:
        return []
    main = await answers.own_answer(context.session, delivery.id, context.me.id)
    if main is None:
        return []
    follow_up = await answers.follow_up_answer(context.session, delivery.id, context.me.id)
    view = await prompt_view(context.session, delivery, context.locale)
    differs = follow_up is not None and follow_up.visibility != main.visibility
    message = compose.answered_message(
        context.tr,
        view,
        main.visibility,
        follow_up is not None,
        follow_up.visibility if differs and follow_up is not None else None,
    )
    return [Reply(message, replace=delivery.message_ref)]


def _minutes(context: Context) -> int:
    return int(context.policy.undo_window.total_seconds() // 60)


async def store(
    context: Context,
    delivery: Delivery,
    text: str,
    stage: str,
    *,
    visibility: str | None = None,
    offered: str | None = None,
    replace: bool = False,
    went_to: bool = False,
) -> list[Reply]:
    """Store an answer; replace one only when `replace` (an explicit edit), with undo."""
    session, me = context.session, context.me
    try:
        saved = await answers.save_answer(
            session,
            delivery,
            me,
            text,
            platform=context.interaction.platform,
            now=context.now,
            stage=stage,
            visibility=visibility,
            offered=offered,
            source_ref=context.interaction.fields.get("message_ref"),
            replace=replace,
        )
    except answers.EmptyAnswer:
        return context.say(context._("Your answer was empty, so nothing was saved."))
    except answers.AlreadyAnswered:
        await conversation.clear(session, me.id, delivery.id)
        return already_answered(context)
    await conversation.clear(session, me.id, delivery.id)
    replies = await updated_prompt(context, delivery)
    answer = saved.answer
    if saved.replaced:
        assert saved.before_text is not None and saved.before_visibility is not None
        before = conversation.Undo(answer.id, saved.before_text, saved.before_visibility)
        await conversation.remember_undo(
            session, me.id, before, context.now + context.policy.undo_window
        )
        message = compose.edited_message(
            context.tr,
            answer.id,
            saved.before_text,
            answer.text,
            answer.visibility,
            context.locale,
            _minutes(context),
        )
        return [*replies, Reply(message, ephemeral=True)]
    message = compose.saved_message(context.tr, answer.id, answer.visibility, context.locale)
    if went_to:
        view = await prompt_view(session, delivery, context.locale)
        question = view.follow_up if stage == "follow_up" and view.follow_up else view.question
        went = context._("Your answer went to: {target}").format(target=compose.quoted(question))
        message = OutMessage(
            text=message.text,
            locale=message.locale,
            rows=message.rows,
            context=(went,),
            tag=message.tag,
        )
    return [*replies, Reply(message, ephemeral=True)]


def already_answered(context: Context) -> list[Reply]:
    """Say that a stored answer was left as it is, and how to change it."""
    text = context._(
        "You have already answered this question, so your answer was not changed. "
        "To change it, press Edit or write “edit”."
    )
    return context.say(text, tag="already_answered")


async def _own_delivery(context: Context) -> tuple[Delivery | None, str | None]:
    delivery_id, offered = compose.read_form_value(context.interaction.value)
    if delivery_id is None:
        return None, None
    delivery = await answers.answerable_delivery(context.session, delivery_id, context.me.id)
    return delivery, offered


def _not_yours(context: Context) -> list[Reply]:
    return context.say(
        context._("That prompt was not sent to you, so nothing was saved."), ephemeral=True
    )


async def _submit(context: Context, stage: str) -> list[Reply]:
    delivery, offered = await _own_delivery(context)
    if delivery is None:
        return _not_yours(context)
    return await store(
        context,
        delivery,
        context.interaction.text,
        stage,
        visibility=context.interaction.fields.get("visibility"),
        offered=offered,
        replace=True,  # a submitted form names its prompt: an explicit answer or edit
    )


async def submit_answer(context: Context) -> list[Reply]:
    """Store the answer typed into a form, with the visibility chosen there."""
    return await _submit(context, "main")


async def submit_follow_up(context: Context) -> list[Reply]:
    """Store the answer to a follow-up question typed into its form."""
    return await _submit(context, "follow_up")


async def answer_text(
    context: Context, delivery_id: int, purpose: Purpose, *, implicit: bool = False
) -> list[Reply]:
    """Store a chat message as `purpose` for the delivery; only an edit replaces an answer."""
    delivery = await answers.answerable_delivery(context.session, delivery_id, context.me.id)
    if delivery is None:
        await conversation.clear(context.session, context.me.id, delivery_id)
        return _not_yours(context)
    stage = "follow_up" if purpose is Purpose.FOLLOW_UP else "main"
    return await store(
        context,
        delivery,
        context.interaction.text,
        stage,
        replace=purpose is Purpose.EDIT,
        went_to=implicit,
    )


async def edited_text(context: Context) -> list[Reply]:
    """Update an answer when its author edits the chat message that carried it."""
    ref = context.interaction.fields.get("message_ref")
    if not ref or parse_command(context.interaction.text) is not None:
        return []
    answer = await answers.answer_by_source(context.session, context.me.id, str(ref))
    if answer is None:
        return []
    delivery = await context.session.get(Delivery, answer.delivery_id)
    assert delivery is not None
    return await store(context, delivery, context.interaction.text, answer.stage, replace=True)


async def _offer_edit(context: Context, delivery: Delivery) -> list[Reply]:
    """Show the person's answer to `delivery` and wait for its new version."""
    _ = context._
    current = await answers.own_answer(context.session, delivery.id, context.me.id)
    if current is None:
        return context.say(_("You have no saved reflections yet."))
    view = await prompt_view(context.session, delivery, context.locale)
    state = expect(Purpose.EDIT, delivery.id, context.now, context.policy)
    await conversation.expect(context.session, context.me.id, state)
    request = compose.edit_request(context.tr, view, current.text, current.visibility)
    lines = [
        _("Your reflection now: {text}").format(text=compose.quoted(current.text, 400)),
        _("Write the new version of your reflection as a reply."),
    ]
    notes = (compose.goes_to(context.tr, view.question), _("Write “cancel” to keep it as it is."))
    message = OutMessage(
        text="\n".join(lines), locale=context.locale, ask=request, context=notes, tag="edit"
    )
    return [Reply(message)]


async def press_edit(context: Context) -> list[Reply]:
    """Offer the current answer for editing."""
    delivery, _ = await _own_delivery(context)
    if delivery is None:
        return _not_yours(context)
    return await _offer_edit(context, delivery)


async def edit_latest(context: Context) -> list[Reply]:
    """Offer the person's newest main answer for editing (the edit command)."""
    latest = [
        a
        for a in await answers.recent_answers(context.session, context.me.id, 5)
        if a.stage == "main"
    ]
    delivery = await context.session.get(Delivery, latest[0].delivery_id) if latest else None
    if delivery is None:
        return context.say(context._("You have no saved reflections yet."))
    return await _offer_edit(context, delivery)


async def press_follow_up(context: Context) -> list[Reply]:
    """Ask the follow-up question of an answered prompt, preselecting the answer's visibility."""
    delivery, _ = await _own_delivery(context)
    if delivery is None:
        return _not_yours(context)
    view = await prompt_view(context.session, delivery, context.locale)
    if view.follow_up is None:
        return context.say(context._("This question has no follow-up."))
    session, me = context.session, context.me
    if await answers.follow_up_answer(session, delivery.id, me.id) is not None:
        return already_answered(context)
    visibility = await answers.bound_visibility(session, delivery, me.id, "follow_up")
    state = expect(Purpose.FOLLOW_UP, delivery.id, context.now, context.policy)
    await conversation.expect(session, me.id, state)
    message = compose.follow_up_message(context.tr, view, visibility)
    note = compose.goes_to(context.tr, view.follow_up)
    message = OutMessage(
        text=message.text,
        locale=message.locale,
        title=message.title,
        ask=message.ask,
        context=(*message.context, note),
        tag=message.tag,
    )
    return [Reply(message)]


async def press_visibility(context: Context) -> list[Reply]:
    """Change who can read an answer, and show the stored result on the prompt too."""
    answer_id, _, visibility = context.interaction.value.partition(".")
    if not answer_id.isdigit() or visibility not in ("private", "coach", "group"):
        return context.say(context._("This button is no longer valid."), ephemeral=True)
    change = await answers.set_visibility(
        context.session, int(answer_id), context.me.id, visibility
    )
    if change is None:
        return _not_yours(context)
    answer = change.answer
    message = compose.saved_message(context.tr, answer.id, answer.visibility, context.locale)
    if change.narrowed_follow_up is not None:
        who = compose.visibility_label(context.tr, answer.visibility)
        note = context._("Your follow-up answer is now also visible to: {who}.").format(who=who)
        message = OutMessage(
            text=message.text,
            locale=message.locale,
            rows=message.rows,
            context=(note,),
            tag=message.tag,
        )
    ref = context.interaction.reply_to
    reply = Reply(message, replace=ref) if ref else Reply(message)
    delivery = await context.session.get(Delivery, answer.delivery_id)
    card = await updated_prompt(context, delivery) if delivery is not None else []
    return [*[c for c in card if c.replace != ref], reply]
