"""Answer a pulse card: choose a value, toggle options, write a short text, move between items.

Every act names its delivery, and the delivery must be the person's own pulse; the answer
then goes through `bot.services.pulses.record_response`, which refuses closed rounds and
values outside the item's range, and replaces an earlier answer to the same item. The
reply puts the updated card in place of the one the person acted on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import wraps

from bot.core.compose_pulse import ButtonRef, parse_ref
from bot.core.conversation import Purpose, expect
from bot.core.messages import InteractionKind
from bot.core.pulse_values import DEFAULT_MAX_TEXT_LENGTH, InvalidPulseValue, RawValue, int_range
from bot.core.vocabulary import PulseItemKind
from bot.handlers.context import Context, Handler, Reply
from bot.services import conversation
from bot.services.pulse_messages import (
    PULSE_KINDS,
    chosen_of,
    current_answers,
    first_unanswered,
    option_keys,
    pulse_card,
    remember_position,
    shown_position,
    survey_items,
)
from bot.services.pulses import PulseRoundClosed, own_response, record_response
from storage.models import Delivery, PulseItem, PulseRound, PulseSurvey


@dataclass
class Target:
    """The pulse delivery, round, survey and item an act is about."""

    delivery: Delivery
    pulse_round: PulseRound
    survey: PulseSurvey
    item: PulseItem


class Refused(Exception):
    """An act that cannot be carried out; `replies` say why."""

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__("refused")
        self.replies = replies


def _invalid_button(context: Context) -> Refused:
    return Refused(context.say(context._("This button is no longer valid."), ephemeral=True))


async def _own_pulse(context: Context, delivery_id: int) -> Delivery:
    delivery = await context.session.get(Delivery, delivery_id)
    if (
        delivery is None
        or delivery.kind not in PULSE_KINDS
        or delivery.person_id != context.me.id
        or delivery.pulse_round_id is None
    ):
        text = context._("That pulse was not sent to you, so nothing was saved.")
        raise Refused(context.say(text, ephemeral=True))
    return delivery


async def _target(context: Context, ref: ButtonRef) -> Target:
    delivery = await _own_pulse(context, ref.delivery_id)
    pulse_round = await context.session.get(PulseRound, delivery.pulse_round_id)
    assert pulse_round is not None  # the foreign key guarantees it
    survey = await context.session.get(PulseSurvey, pulse_round.survey_id)
    assert survey is not None
    items = [
        i for i in await survey_items(context.session, survey.id) if i.position == ref.position
    ]
    if not items:
        raise _invalid_button(context)
    return Target(delivery, pulse_round, survey, items[0])


async def _pressed(context: Context, *, with_value: bool) -> tuple[Target, str]:
    """Return the pulse item a button or form names, and its value; raise Refused if none."""
    ref = parse_ref(context.interaction.value, with_value=with_value)
    if ref is None:
        raise _invalid_button(context)
    return await _target(context, ref), ref.value


def refusing(handler: Handler) -> Handler:
    """Answer a Refused act with its replies instead of failing the interaction."""

    @wraps(handler)
    async def run(context: Context) -> list[Reply]:
        try:
            return await handler(context)
        except Refused as refused:
            return refused.replies

    return run


def _reply_ref(context: Context, delivery: Delivery) -> str | None:
    """Return the message to update: the one acted on, else the delivery's own message."""
    if context.interaction.reply_to:
        return context.interaction.reply_to
    if delivery.message_ref and delivery.platform == context.interaction.platform:
        return delivery.message_ref
    return None


async def _card_reply(
    context: Context,
    delivery: Delivery,
    *,
    position: int | None = None,
    after: int | None = None,
    notice: str | None = None,
) -> Reply:
    card = await pulse_card(
        context.session, delivery, context.locale, position=position, after=after, notice=notice
    )
    remember_position(delivery, card.position)
    await _await_text(context, delivery, card.position, card.kind == "text" and card.message.ask)
    return Reply(card.message, replace=_reply_ref(context, delivery))


async def _await_text(context: Context, delivery: Delivery, position: int, asks: object) -> None:
    """Let plain chat text answer the card's text item, only while that item is unanswered."""
    session, me = context.session, context.me
    if asks:
        pulse_round = await session.get(PulseRound, delivery.pulse_round_id)
        assert pulse_round is not None
        items = await survey_items(session, pulse_round.survey_id)
        answered = await current_answers(session, pulse_round, items, me.id)
        if position not in answered:
            state = expect(Purpose.PULSE_TEXT, delivery.id, context.now, context.policy)
            await conversation.expect(session, me.id, state)
            return
    await conversation.clear(session, me.id, delivery.id)


async def _record(
    context: Context, target: Target, raw: RawValue, *, stay: bool = False
) -> list[Reply]:
    """Store an answer and show the card: the same item when `stay`, else the next one."""
    # Typed text answering an anonymous item must not be kept as the person's message.
    typed = context.interaction.kind is InteractionKind.TEXT
    conceal = target.survey.anonymous and typed
    replies = await _record_and_show(context, target, raw, stay=stay)
    return [replace(reply, conceal_input=conceal) for reply in replies]


async def _record_and_show(
    context: Context, target: Target, raw: RawValue, *, stay: bool
) -> list[Reply]:
    _ = context._
    item = target.item
    try:
        recorded = await record_response(
            context.session,
            target.pulse_round.id,
            item.id,
            context.me.id,
            raw,
            context.now.date(),
            secret=context.secret,
        )
    except PulseRoundClosed:
        text = _("This pulse round is closed, so your answer was not saved.")
        card = await _card_reply(context, target.delivery, position=item.position)
        return [card, *context.say(text, tag="pulse_refused", ephemeral=True)]
    except InvalidPulseValue:
        return context.say(_out_of_range(context, item, raw), tag="pulse_refused", ephemeral=True)
    if not target.survey.anonymous:
        # Only named rounds get a time: in an anonymous round it would date the answer.
        target.delivery.answered_at = context.now
    notice = _("Your earlier answer was changed.") if recorded.replaced else _("Saved.")
    if target.survey.anonymous and item.kind == PulseItemKind.MULTI.value:
        notice = _(
            "Saved. Your choices are not shown here, so that they are not kept under your "
            "name: tap an option again to take it back."
        )
    position, after = (item.position, None) if stay else (None, item.position)
    replies = [
        await _card_reply(context, target.delivery, position=position, after=after, notice=notice)
    ]
    if recorded.truncated:
        text = _(
            "Your answer was longer than {limit} characters, so it was shortened to fit "
            "and then saved."
        ).format(limit=DEFAULT_MAX_TEXT_LENGTH)
        replies += context.say(text, tag="pulse_truncated", ephemeral=True)
    return replies


def _out_of_range(context: Context, item: PulseItem, raw: RawValue) -> str:
    _ = context._
    bounds = int_range(PulseItemKind(item.kind))
    if bounds is not None:
        return _(
            "{value} is not an answer to this question: choose a whole number from {low} "
            "to {high}. Nothing was saved."
        ).format(value=raw, low=bounds[0], high=bounds[1])
    if item.kind == "text":
        return _("Your answer was empty, so nothing was saved.")
    return _("That is not one of the options for this question. Nothing was saved.")


def _choice(item: PulseItem, index: str) -> str | None:
    keys = option_keys(item)
    if index.isdigit() and int(index) < len(keys):
        return keys[int(index)]
    return None


@refusing
async def press_value(context: Context) -> list[Reply]:
    """Record the value on a tapped button (a toggle for multiple-choice items)."""
    target, value = await _pressed(context, with_value=True)
    kind = PulseItemKind(target.item.kind)
    if kind in (PulseItemKind.LIKERT, PulseItemKind.SCALE):
        return await _record(context, target, value)
    choice = _choice(target.item, value)
    if choice is None or kind is PulseItemKind.TEXT:
        text = context._("That is not one of the options for this question. Nothing was saved.")
        return context.say(text, tag="pulse_refused", ephemeral=True)
    if kind is PulseItemKind.SINGLE:
        return await _record(context, target, choice)
    return await _toggle(context, target, choice)


async def _toggle(context: Context, target: Target, choice: str) -> list[Reply]:
    # Read through the slot: an anonymous card does not show (or know) the choices.
    mine = await own_response(
        context.session,
        target.pulse_round.id,
        target.item.id,
        context.me.id,
        secret=context.secret,
    )
    chosen = chosen_of(target.item, mine)
    keys = option_keys(target.item)
    picked = {keys[i] for i in chosen.choices}
    picked ^= {choice}
    if not picked:
        text = context._("Choose at least one option; pick another before removing this one.")
        return context.say(text, tag="pulse_refused", ephemeral=True)
    return await _record(context, target, [k for k in keys if k in picked], stay=True)


@refusing
async def press_done(context: Context) -> list[Reply]:
    """Move on from a multiple-choice item once at least one option is chosen."""
    target, _ = await _pressed(context, with_value=False)
    answered = await current_answers(
        context.session, target.pulse_round, [target.item], context.me.id
    )
    if target.item.position not in answered and target.pulse_round.status == "open":
        text = context._("Choose at least one option first.")
        return context.say(text, tag="pulse_refused", ephemeral=True)
    return [await _card_reply(context, target.delivery, after=target.item.position)]


@refusing
async def press_goto(context: Context) -> list[Reply]:
    """Show another item of the card."""
    target, _ = await _pressed(context, with_value=False)
    return [await _card_reply(context, target.delivery, position=target.item.position)]


@refusing
async def submit_text(context: Context) -> list[Reply]:
    """Record the text typed into a pulse card's form."""
    target, _ = await _pressed(context, with_value=False)
    return await _text_answer(context, target)


async def _text_answer(context: Context, target: Target) -> list[Reply]:
    if target.item.kind != "text":
        text = context._("Please answer this question with the buttons.")
        return context.say(text, tag="pulse_refused", ephemeral=True)
    return await _record(context, target, context.interaction.text)


async def answer_text(context: Context, delivery_id: int) -> list[Reply]:
    """Answer the text item a pulse card shows with a chat message, unless already answered.

    An answered text item is changed only through the card, never by later chat text.
    """
    try:
        return await _answer_text(context, delivery_id)
    except Refused as refused:
        return refused.replies


async def _answer_text(context: Context, delivery_id: int) -> list[Reply]:
    delivery = await _own_pulse(context, delivery_id)
    pulse_round = await context.session.get(PulseRound, delivery.pulse_round_id)
    assert pulse_round is not None
    items = await survey_items(context.session, pulse_round.survey_id)
    answered = await current_answers(context.session, pulse_round, items, context.me.id)
    position = shown_position(delivery)
    if position is None:
        position = items[first_unanswered(items, answered)].position
    target = await _target(context, ButtonRef(delivery.id, position))
    if target.item.kind == "text" and position in answered:
        await conversation.clear(context.session, context.me.id, delivery.id)
        text = context._(
            "This answer is already registered, so I did not change it. Use the card to change it."
        )
        return context.say(text, tag="pulse_refused")
    return await _text_answer(context, target)
