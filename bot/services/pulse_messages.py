"""Render pulse deliveries as answer cards, and find what a leader has answered so far.

One card per round: the "pulse" delivery (and its "pulse_reminder") is one chat message
that shows one item at a time and is updated in place as the leader answers (see
`bot.core.compose_pulse`). A card starts at the first item the leader has not answered.
The item a card shows is remembered in the delivery's payload (`at`), so a plain chat
reply to the card answers that item's free-text question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.anonymity import effective_min_responses
from bot.core.compose_pulse import Chosen, ItemView, PulseView, pulse_message
from bot.core.messages import OutMessage
from bot.core.pulse_values import PulseValue
from bot.core.vocabulary import PulseItemKind
from bot.i18n import gettext_for
from bot.services.render import renders
from scheduler.timing import zone_name
from storage.models import (
    Delivery,
    Person,
    PulseItem,
    PulseReceipt,
    PulseResponse,
    PulseRound,
    PulseSurvey,
)

PULSE_KINDS = ("pulse", "pulse_reminder")


def localised(texts: dict[str, str] | None, locale: str, fallback: str = "") -> str:
    """Pick the text in `locale`, else bokmål, English, or any language there is."""
    if not texts:
        return fallback
    for candidate in (locale, "nb", "en"):
        if texts.get(candidate):
            return texts[candidate]
    return next(iter(texts.values()), fallback)


async def survey_items(session: AsyncSession, survey_id: int) -> list[PulseItem]:
    """Return the items a survey asks, in order."""
    rows = await session.scalars(
        select(PulseItem)
        .where(PulseItem.survey_id == survey_id, PulseItem.active)
        .order_by(PulseItem.position, PulseItem.id)
    )
    return list(rows)


def item_view(item: PulseItem, locale: str) -> ItemView:
    """Return the card's view of one item."""
    options = tuple(
        localised(option.get("text"), locale, str(option["key"])) for option in item.options or []
    )
    return ItemView(item.position, PulseItemKind(item.kind), localised(item.text, locale), options)


def option_keys(item: PulseItem) -> list[str]:
    """Return a choice item's option keys, in order (button values carry their index)."""
    return [str(option["key"]) for option in item.options or []]


async def current_answers(
    session: AsyncSession, pulse_round: PulseRound, items: list[PulseItem], person_id: int
) -> dict[int, Chosen]:
    """Return, by item position, what this person has answered in the round.

    In an anonymous round only *that* an item was answered (its receipt) is known here:
    the values sit in slots only the app's key can find, and the card never shows them.
    A named round's values are found by person while the round is open.
    """
    answered = set(
        await session.scalars(
            select(PulseReceipt.item_id).where(
                PulseReceipt.round_id == pulse_round.id, PulseReceipt.person_id == person_id
            )
        )
    )
    survey = await session.get(PulseSurvey, pulse_round.survey_id)
    named = survey is not None and not survey.anonymous and pulse_round.status == "open"
    chosen: dict[int, Chosen] = {}
    for item in items:
        if item.id not in answered:
            continue
        response = (
            await session.scalar(
                select(PulseResponse).where(
                    PulseResponse.round_id == pulse_round.id,
                    PulseResponse.item_id == item.id,
                    PulseResponse.person_id == person_id,
                )
            )
            if named
            else None
        )
        chosen[item.position] = chosen_of(item, response)
    return chosen


def chosen_of(item: PulseItem, response: PulseResponse | PulseValue | None) -> Chosen:
    """Return a stored answer as the card's `Chosen` (an empty one when unknown)."""
    if response is None:
        return Chosen()
    keys = option_keys(item)
    indexes = tuple(keys.index(c) for c in response.value_choices or () if c in keys)
    return Chosen(
        number=response.value_int, choices=indexes, text_saved=response.value_text is not None
    )


def first_unanswered(items: list[PulseItem], answers: dict[int, Chosen], start: int = 0) -> int:
    """Return the index of the first unanswered item from `start` on (wrapping), else `start`."""
    count = len(items)
    for step in range(count):
        index = (start + step) % count
        if items[index].position not in answers:
            return index
    return min(start, count - 1)


def _closes_on(when: datetime, timezone: str | None) -> str:
    return when.astimezone(ZoneInfo(zone_name(timezone))).strftime("%d.%m.%Y %H:%M")


@dataclass(frozen=True)
class Card:
    """A rendered card and the item it shows."""

    message: OutMessage
    position: int
    kind: str


async def pulse_card(
    session: AsyncSession,
    delivery: Delivery,
    locale: str,
    *,
    position: int | None = None,
    after: int | None = None,
    notice: str | None = None,
) -> Card:
    """Return the card of a pulse delivery.

    It shows the item at `position`; or, with `after`, the next unanswered item after that
    position (staying on it when all are answered); or else the first unanswered item.
    """
    pulse_round = await session.get(PulseRound, delivery.pulse_round_id)
    assert pulse_round is not None and delivery.person_id is not None
    survey = await session.get(PulseSurvey, pulse_round.survey_id)
    assert survey is not None
    person = await session.get(Person, delivery.person_id)
    items = await survey_items(session, survey.id)
    answers = await current_answers(session, pulse_round, items, delivery.person_id)
    positions = [item.position for item in items]
    if position is not None and position in positions:
        current = positions.index(position)
    elif after is not None and after in positions:
        index = positions.index(after)
        rest = [i for i in range(index + 1, len(items)) if items[i].position not in answers]
        current = rest[0] if rest else index
    else:
        current = first_unanswered(items, answers)
    tr = gettext_for(locale)
    view = PulseView(
        delivery_id=delivery.id,
        locale=locale,
        title=localised(survey.title, locale, tr.gettext("A short pulse")),
        items=tuple(item_view(item, locale) for item in items),
        current=current,
        answers=answers,
        anonymous=survey.anonymous,
        is_open=pulse_round.status == "open",
        closes_on=_closes_on(pulse_round.closes_at, person.timezone if person else None),
        reminder=delivery.kind == "pulse_reminder",
        notice=notice,
        min_responses=effective_min_responses(survey.min_responses),
    )
    shown = items[current]
    return Card(pulse_message(tr, view), shown.position, shown.kind)


def shown_position(delivery: Delivery) -> int | None:
    """Return the position of the item the delivery's card showed last, if remembered."""
    at = delivery.payload.get("at")
    return at if isinstance(at, int) else None


def remember_position(delivery: Delivery, position: int) -> None:
    """Remember which item the card now shows (a reply to the card answers it)."""
    delivery.payload = {**delivery.payload, "at": position}


@renders(*PULSE_KINDS)
async def _pulse(session: AsyncSession, delivery: Delivery, locale: str) -> OutMessage:
    return (await pulse_card(session, delivery, locale)).message


@renders("pulse_refresh")
async def _redraw(session: AsyncSession, delivery: Delivery, locale: str) -> OutMessage:
    """Redraw the card of the delivery this one refreshes, as it stands now."""
    card = await session.get(Delivery, delivery.parent_id)
    assert card is not None
    return (await pulse_card(session, card, locale, position=shown_position(card))).message
