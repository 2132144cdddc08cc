"""A pulse round end to end through the recording channel: tick, cards, buttons, close, results."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.compose_pulse import PULSE_VALUE
from bot.core.messages import Button
from bot.core.pulse_values import InvalidPulseValue
from bot.services.pulses import record_response
from scheduler.pulse_jobs import run_pulse_jobs
from scheduler.tick import tick
from storage.models import (
    Delivery,
    PulseItem,
    PulseReceipt,
    PulseResponse,
    PulseRound,
    PulseSurvey,
)
from tests import factories
from tests.flows.conftest import OPTIONS, SECRET, Flow, Programme, seed_programme


def label(text: str) -> Callable[[Button], bool]:
    return lambda b: b.label == text


def primary(flow: Flow, ref: str) -> list[str]:
    return [b.label for b in flow.screens[ref].buttons if b.style == "primary"]


async def open_round(flow: Flow, **seed: object) -> tuple[Programme, dict[str, str]]:
    """Seed the programme, tick the round open and send every card; return user -> card ref."""
    async with flow.sessions.begin() as session:
        programme = await seed_programme(session, **seed)  # type: ignore[arg-type]
    await tick(flow.sessions, flow.clock, OPTIONS)
    await flow.dispatch()
    cards = {user: flow.cards(user, "pulse")[-1] for user in programme.people}
    return programme, cards


def _likert(n: int) -> Callable[[Button], bool]:
    return lambda b: b.action == PULSE_VALUE and b.label.startswith(f"{n % 5 + 1} ")


async def close_and_dispatch(flow: Flow, hours: float = 49) -> None:
    flow.clock.advance(hours=hours)
    async with flow.sessions.begin() as session:
        report = await run_pulse_jobs(session, flow.clock.now(), OPTIONS)
    assert report.closed == 1 and report.summaries == 1
    await flow.dispatch()


async def test_pulse_round_opens_is_answered_with_buttons_closes_and_shows_results(
    flow: Flow, sessions: async_sessionmaker[AsyncSession]
) -> None:
    programme, cards = await open_round(flow)
    first = next(iter(cards.values()))
    card = flow.screens[first]
    assert card.title == "Monday pulse" and card.text == "Question about energy"
    assert any(line.startswith("Anonymous: your answer is stored without") for line in card.context)
    assert card.rows[0][0].label == "1 Strongly disagree"

    for n, ref in enumerate(cards.values()):
        await flow.click(ref, _likert(n))
        if n == 0:
            moved = flow.screens[ref]
            assert moved.text == "Question about recommend"  # on to the next item
            assert [len(row) for row in moved.rows[:2]] == [6, 5]  # 0-5 and 6-10
            # The card is kept under the person: it says "registered", never the value.
            assert "Your answers: 1: registered" in moved.context
            assert "Strongly disagree" not in " ".join(moved.context)
        await flow.click(ref, label(str(5 + n)))
        await flow.click(ref, label("Talk"))
        await flow.click(ref, label("Time"))
        await flow.click(ref, label("Trust"))
        assert primary(flow, ref) == ["Done"]  # no chosen option is marked
        await flow.click(ref, label("Done"))
        assert flow.screens[ref].ask is not None
        await flow.submit(ref, f"A thought number {n}")
    done = flow.screens[first]
    assert done.text == "Question about note" and "Saved." in done.context

    await close_and_dispatch(flow)
    async with sessions() as session:
        responses = list(await session.scalars(select(PulseResponse)))
        pulses = list(await session.scalars(select(Delivery).where(Delivery.kind == "pulse")))
    assert len(responses) == 5 * len(cards)
    assert all(r.person_id is None and r.slot is None for r in responses)
    assert all(d.answered_at is None for d in pulses)  # no time on anonymous pulses

    [summary] = [s.message for s in flow.channel.sent if s.message.tag == "pulse_summary"]
    assert "Answered: 6 of 6 (100 %)" in summary.text
    assert "Distribution: 1: 2 · 2: 1 · 3: 1 · 4: 1 · 5: 1" in summary.text
    assert "mean 2.7" in summary.text and "mean 7.5, eNPS +0" in summary.text
    assert "Distribution: Talk: 6 · walk: 0" in summary.text
    assert "“A thought number 0”" in summary.text

    # A second round a week later, so the results show a trend.
    flow.clock.current = factories.T0 + timedelta(days=7)
    await tick(flow.sessions, flow.clock, OPTIONS)
    await flow.dispatch()
    for user in programme.people:
        ref = flow.cards(user, "pulse")[-1]
        await flow.click(ref, lambda b: b.action == PULSE_VALUE and b.label.startswith("5 "))
        await flow.click(ref, label("10"))
    await close_and_dispatch(flow)
    [reply] = await flow.command(programme.coach_user, "results")
    text = reply.message.text
    assert "#2 · " in text and "(closed)" in text and "Answered: 6 of 6 (100 %)" in text
    assert "Trend: #1 2.7 → #2 5.0" in text  # the Likert mean
    assert "Trend: #1 +0 → #2 +100" in text  # the 0-10 item's eNPS
    assert "By cohort" not in text  # one cohort: nothing to compare


async def test_the_chosen_value_is_marked_and_a_second_answer_replaces_the_first(
    flow: Flow, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, cards = await open_round(flow, anonymous=False)
    ref = next(iter(cards.values()))
    await flow.click(ref, label("Next ▶"))
    await flow.click(ref, label("Next ▶"))
    assert flow.screens[ref].text == "Question about format"
    await flow.click(ref, label("Talk"))
    assert flow.screens[ref].text == "Question about topics"
    await flow.click(ref, label("◀ Previous"))
    assert flow.screens[ref].text == "Question about format"
    assert primary(flow, ref) == ["Talk"]
    await flow.click(ref, label("walk"))
    assert "Your earlier answer was changed." in flow.screens[ref].context
    async with sessions() as session:
        item = await session.scalar(select(PulseItem).where(PulseItem.key == "format"))
        assert item is not None
        rows = list(
            await session.scalars(select(PulseResponse).where(PulseResponse.item_id == item.id))
        )
        receipts = await session.scalar(select(func.count(PulseReceipt.id)))
    assert [r.value_choices for r in rows] == [["walk"]]
    assert receipts == 1
    delivery_id = flow.screens[ref].buttons[0].value.split(".")[0]
    await flow.press(ref, "pg", f"{delivery_id}.3")
    assert primary(flow, ref) == ["walk"]


async def test_bad_answers_are_refused_clearly_and_change_nothing(
    flow: Flow, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, cards = await open_round(flow)
    ref, other = list(cards.values())[:2]
    delivery_id = flow.screens[ref].buttons[0].value.split(".")[0]

    # Out of range, in a button we signed ourselves: the handler refuses it.
    [reply] = await flow.press(ref, PULSE_VALUE, f"{delivery_id}.1.9")
    assert reply.message.text.startswith("9 is not an answer to this question")
    [reply] = await flow.press(ref, PULSE_VALUE, f"{delivery_id}.2.11")
    assert "from 0 to 10" in reply.message.text
    async with sessions() as session:
        pulse = await session.get(Delivery, int(delivery_id))
        item = await session.scalar(select(PulseItem).where(PulseItem.key == "recommend"))
        assert pulse is not None and pulse.person_id and pulse.pulse_round_id and item
        with pytest.raises(InvalidPulseValue, match="11 is out of range"):
            await record_response(
                session,
                pulse.pulse_round_id,
                item.id,
                pulse.person_id,
                11,
                factories.T0.date(),
                secret=SECRET,
            )
    [reply] = await flow.press(ref, PULSE_VALUE, f"{delivery_id}.3.7")
    assert reply.message.tag == "pulse_refused"
    # Someone else's card.
    [reply] = await flow.press(other, PULSE_VALUE, f"{delivery_id}.1.3")
    assert reply.message.text == "That pulse was not sent to you, so nothing was saved."
    # A multiple-choice item cannot be left empty.
    await flow.press(ref, "pg", f"{delivery_id}.4")
    await flow.click(ref, label("Time"))
    [reply] = await flow.click(ref, label("Time"))
    assert reply.message.text.startswith("Choose at least one option")
    async with sessions() as session:
        assert await session.scalar(select(func.count(PulseResponse.id))) == 1

    # Over-long free text is cut by rule, stored, and the person is told.
    await flow.press(ref, "pg", f"{delivery_id}.5")
    replies = await flow.submit(ref, "word " * 200)
    assert [r.message.tag for r in replies] == ["pulse", "pulse_truncated"]
    async with sessions() as session:
        text = next(
            t
            for r in await session.scalars(select(PulseResponse))
            if (t := factories.opened(r, SECRET).value_text) is not None
        )
    assert text is not None and len(text) <= 500 and text.endswith("…")

    # After closing: the answer is refused and nothing changes.
    await close_and_dispatch(flow)
    async with sessions() as session:
        before = [
            (r.item_id, r.value_int, r.value_choices)
            for r in await session.scalars(select(PulseResponse).order_by(PulseResponse.item_id))
        ]
    replies = await flow.press(ref, PULSE_VALUE, f"{delivery_id}.1.4")
    assert replies[-1].message.text == "This pulse round is closed, so your answer was not saved."
    assert replies[0].message.tag == "pulse_closed" and not replies[0].message.buttons
    async with sessions() as session:
        after = [
            (r.item_id, r.value_int, r.value_choices)
            for r in await session.scalars(select(PulseResponse).order_by(PulseResponse.item_id))
        ]
        status = await session.scalar(select(PulseRound.status))
    assert before == after and status == "closed"


async def test_named_round_records_answer_time_and_reminds_who_has_not_answered(
    flow: Flow, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, cards = await open_round(flow, anonymous=False)
    (user, ref), *others = list(cards.items())
    await flow.click(ref, _likert(2))
    async with sessions() as session:
        response = await session.scalar(select(PulseResponse))
        pulse = await session.scalar(select(Delivery).where(Delivery.message_ref == ref))
    assert response is not None and response.person_id is not None
    assert pulse is not None and pulse.answered_at == flow.clock.now()
    assert not any(line.startswith("Anonymous") for line in flow.screens[ref].context)

    flow.clock.advance(hours=25)
    async with sessions.begin() as session:
        report = await run_pulse_jobs(session, flow.clock.now(), OPTIONS)
    assert report.reminders == len(others) and report.closed == 0
    sent = await flow.dispatch()
    assert sorted(s.message.tag for s in sent) == ["pulse_reminder"] * len(others)
    assert user not in {str(s.address["user"]) for s in sent}
    reminder = sent[0].message
    assert reminder.title == "Reminder: Monday pulse"
    async with sessions.begin() as session:
        again = await run_pulse_jobs(session, flow.clock.now(), OPTIONS)
    assert again.reminders == 0


async def test_coach_closes_a_round_and_closes_the_loop(
    flow: Flow, sessions: async_sessionmaker[AsyncSession]
) -> None:
    programme, cards = await open_round(flow)
    async with sessions() as session:
        survey = await session.get(PulseSurvey, programme.survey_id)
        assert survey is not None
        name = f"{survey.key}#1"
    [reply] = await flow.command(programme.coach_user, "closing", name, "Thanks")
    assert "still open" in reply.message.text
    for n, ref in enumerate(cards.values()):
        await flow.click(ref, _likert(n))
    [reply] = await flow.command(programme.coach_user, "close", name)
    assert "(closed)" in reply.message.text and "Answered: 6 of 6" in reply.message.text
    [reply] = await flow.command(programme.coach_user, "close", name)
    assert reply.message.text == "That round is already closed."
    [leader] = list(programme.people)[:1]
    [reply] = await flow.command(leader, "results")
    assert reply.message.tag == "refused"

    words = ["We", "heard", "that", "energy", "is", "low.", "We", "will", "cancel", "some."]
    [reply] = await flow.command(programme.coach_user, "closing", name, *words)
    assert reply.message.text == "Your message is on its way to 6 participants."
    sent = await flow.dispatch()
    closing = [s for s in sent if s.message.tag == "pulse_closing"]
    assert len(closing) == 6
    assert closing[0].message.title == "What we heard, what we will do"
    assert closing[0].message.text == " ".join(words)
    assert any(s.message.tag == "pulse_summary" for s in sent)  # the coach's own summary
