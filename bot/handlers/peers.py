"""Answer peer-round messages: "did you meet?", and sitting out the next round."""

from __future__ import annotations

from bot.core.compose_peers import MEETING_STATES, intro_message
from bot.core.messages import OutMessage
from bot.handlers.context import Context, Reply
from bot.services import answers
from bot.services.peer_rounds import (
    intro_view,
    is_member,
    meeting_check_message,
    set_skip_next,
)
from bot.services.peers import record_meeting


def _match_and_word(value: str) -> tuple[int, str] | None:
    match_id, _, word = value.partition(".")
    return (int(match_id), word) if match_id.isdigit() else None


def _not_yours(context: Context) -> list[Reply]:
    text = context._("That message was not about your peer conversation, so nothing changed.")
    return context.say(text, tag="peer_refused", ephemeral=True)


async def press_meeting(context: Context) -> list[Reply]:
    """Record whether the match met (yes, planned or no); a new answer replaces the old."""
    parsed = _match_and_word(context.interaction.value)
    if parsed is None or parsed[1] not in MEETING_STATES:
        return context.say(context._("This button is no longer valid."), ephemeral=True)
    match_id, state = parsed
    if not await is_member(context.session, match_id, context.me.id):
        return _not_yours(context)
    await record_meeting(context.session, match_id, context.me.id, state)
    message = await meeting_check_message(context.session, match_id, context.me.id, context.locale)
    return [Reply(message, replace=context.interaction.reply_to)]


async def press_skip(context: Context) -> list[Reply]:
    """Sit out the series' next round, or join it again."""
    _ = context._
    parsed = _match_and_word(context.interaction.value)
    if parsed is None or parsed[1] not in ("skip", "join"):
        return context.say(_("This button is no longer valid."), ephemeral=True)
    match_id, word = parsed
    if not await is_member(context.session, match_id, context.me.id):
        return _not_yours(context)
    if not await set_skip_next(context.session, match_id, context.me.id, word == "skip"):
        text = _("The next round is already matched or not planned, so nothing changed.")
        return context.say(text, tag="peer_refused", ephemeral=True)
    text = (
        _("You sit out the next peer round. You are welcome back in the one after.")
        if word == "skip"
        else _("You are back in for the next peer round.")
    )
    replies = context.say(text, tag="peer_skip", ephemeral=True)
    updated = await _updated_message(context, match_id)
    if updated is not None and context.interaction.reply_to:
        replies.insert(0, Reply(updated, replace=context.interaction.reply_to))
    return replies


async def _updated_message(context: Context, match_id: int) -> OutMessage | None:
    """Return the intro or check the person pressed, redrawn with the new choice."""
    ref = context.interaction.reply_to
    if not ref:
        return None
    shown = await answers.delivery_by_ref(context.session, context.interaction.platform, ref)
    me, locale = context.me.id, context.locale
    if shown is not None and shown.kind == "meeting_check":
        return await meeting_check_message(context.session, match_id, me, locale)
    view = await intro_view(context.session, match_id, me, locale)
    return intro_message(context.tr, view)
