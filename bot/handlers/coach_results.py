"""Coach commands for pulses and peer rounds: `results`, `close ROUND`, `closing ROUND TEXT`.

A round is named `survey-key#number` (as `results` lists it), or just `survey-key` for its
latest round. Coaches reach the surveys of their own cohorts and see only those cohorts'
figures; admins reach every survey and see whole rounds.
"""

from __future__ import annotations

from functools import partial

from bot.core.compose_peers import meeting_rate_line
from bot.core.compose_pulse import results_message
from bot.core.messages import OutMessage
from bot.handlers.context import Context, Reply
from bot.services import coaching
from bot.services.peer_rounds import coach_peer_rounds
from bot.services.peers import meeting_rate
from bot.services.pulse_closing import (
    coach_rounds,
    find_round,
    queue_coach_summaries,
    round_summaries,
    send_closing,
)
from bot.services.pulses import close_round, overwrite_closed
from storage.models import PulseRound


async def show_results(context: Context) -> list[Reply]:
    """Show the open and last closed pulse rounds of the coach's cohorts, and meeting rates."""
    _ = context._
    cohorts = await coaching.coached_cohort_ids(context.session, context.me)
    rounds = await coach_rounds(context.session, cohorts)
    summaries = [
        summary
        for r in rounds
        for summary in await round_summaries(context.session, r.id, context.locale, cohorts)
    ]
    message = results_message(context.tr, context.locale, summaries)
    peer_rounds = await coach_peer_rounds(context.session, cohorts)
    if peer_rounds:
        lines = [_("Peer conversations, did they meet?")]
        for label, round_id in peer_rounds:
            rate = await meeting_rate(context.session, round_id)
            lines.append(
                "• "
                + meeting_rate_line(
                    context.tr,
                    label,
                    rate.matches,
                    rate.met,
                    rate.planned,
                    rate.answers.get("unanswered", 0),
                )
            )
        text = "\n".join([message.text, "", *lines]) if summaries else "\n".join(lines)
        message = OutMessage(text, context.locale, title=message.title, tag=message.tag)
    return [Reply(message, ephemeral=True)]


async def _named_round(context: Context) -> PulseRound | list[Reply]:
    args = context.interaction.args
    if not args:
        text = context._("Name the round, e.g. `close {example}`. Write `results` to see them.")
        return context.say(text.format(example="puls#3"), ephemeral=True)
    cohorts = await coaching.coached_cohort_ids(context.session, context.me)
    found = await find_round(context.session, args[0], cohorts)
    if found is None:
        text = context._("There is no pulse round {name} in your cohorts. Write `results`.")
        return context.say(text.format(name=args[0]), tag="refused", ephemeral=True)
    return found


async def close_now(context: Context) -> list[Reply]:
    """Close a pulse round before its time and show its results."""
    found = await _named_round(context)
    if not isinstance(found, PulseRound):
        return found
    if found.status == "closed":
        text = context._("That round is already closed.")
        return context.say(text, tag="refused", ephemeral=True)
    await close_round(context.session, found.id, secret=context.secret)
    context.after_commit.append(partial(overwrite_closed, context.session.bind))
    await queue_coach_summaries(context.session, [found.id], context.now)
    cohorts = await coaching.coached_cohort_ids(context.session, context.me)
    summaries = await round_summaries(context.session, found.id, context.locale, cohorts)
    return [Reply(results_message(context.tr, context.locale, summaries), ephemeral=True)]


async def send_closing_message(context: Context) -> list[Reply]:
    """Send the participants of a closed round "what we heard, what we will do"."""
    _ = context._
    found = await _named_round(context)
    if not isinstance(found, PulseRound):
        return found
    text = " ".join(context.interaction.args[1:]).strip()
    if not text:
        hint = _("Write the message after the round, e.g. `closing {name} We heard ...`.")
        return context.say(hint.format(name=context.interaction.args[0]), ephemeral=True)
    if found.status != "closed":
        hint = _("That round is still open. Close it first with `close {name}`.")
        return context.say(hint.format(name=context.interaction.args[0]), ephemeral=True)
    count = await send_closing(context.session, found.id, text, context.now)
    done = context.tr.ngettext(
        "Your message is on its way to {count} participant.",
        "Your message is on its way to {count} participants.",
        count,
    )
    return context.say(done.format(count=count), tag="closing_sent", ephemeral=True)
