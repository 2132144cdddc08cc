"""A leader's own commands: help, pause, resume, language, time zone, mine, stop."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.core import compose
from bot.core.conversation import Purpose, ShowMenu, route
from bot.core.messages import Button, OutMessage
from bot.core.pause_dates import BadDate, parse_until
from bot.handlers.context import Context, Reply
from bot.services import answers, conversation, preferences
from bot.services.prompt_views import pick_text, prompt_view
from storage.models import Delivery, Prompt
from storage.queries.audience import skip_paused_deliveries

STOP_BUTTON = "stp"
LANGUAGE_BUTTON = "lng"  # the home view's language buttons
LANGUAGES = (("nb", "Bokmål"), ("nn", "Nynorsk"), ("en", "English"))


def _arg(context: Context) -> str:
    return " ".join(context.interaction.args).strip()


async def _waiting_for(context: Context) -> str:
    """Say what the person's next free text answers, in one line."""
    _ = context._
    if context.person is None:
        return ""
    session, now = context.session, context.now
    state = await conversation.awaiting(session, context.person.id)
    newest = await conversation.open_prompt(session, context.person.id, now)
    decision = route(state, newest, now, context.policy)
    if isinstance(decision, ShowMenu):
        return _("Nothing is waiting for your answer right now.")
    delivery = await session.get(Delivery, decision.delivery_id)
    if delivery is None:
        return _("Nothing is waiting for your answer right now.")
    if decision.purpose is Purpose.PULSE_TEXT:
        return _("Your answer goes to: the open question of your pulse.")
    view = await prompt_view(session, delivery, context.locale)
    question = view.follow_up if decision.purpose is Purpose.FOLLOW_UP else view.question
    return compose.goes_to(context.tr, question or view.question)


async def show_help(context: Context) -> list[Reply]:
    """List what a leader (and a coach) can do, and say what free text answers now."""
    _ = context._
    lines = [
        _("Tenkepause sends you short reflection questions and pulse surveys."),
        _("Answer a question by replying to it, or with its Answer button."),
        *([waiting] if (waiting := await _waiting_for(context)) else []),
        "",
        _("Write one of these words:"),
        _("pause [date or 2w] - pause questions (a week if no date)"),
        _("resume - start again"),
        _("language nb|nn|en - change language"),
        _("timezone Europe/Oslo - change time zone"),
        _("my answers - your last reflections"),
        _("edit - change your newest reflection; undo - take back a change"),
        _("cancel - stop waiting for an answer"),
        _("stop - unlink this chat account"),
    ]
    if context.person is not None and context.person.role in ("coach", "admin"):
        lines += [
            "",
            _("For coaches:"),
            _("dashboard - a sign-in link to the coach dashboard"),
            _("prompt GROUP [at HH:MM] TEXT - post a prompt to one of your peer groups"),
            _("groups - your peer groups and their response rates"),
            _("pulse - open pulse rounds and response rates"),
            _("results - response rates of your cohorts"),
        ]
    return context.say("\n".join(lines), tag="help")


async def pause(context: Context) -> list[Reply]:
    """Pause prompts until a date."""
    today = context.now.astimezone(ZoneInfo(context.me.timezone)).date()
    try:
        until = parse_until(_arg(context), today)
    except BadDate:
        return context.say(
            context._(
                "I could not read that date. Write for example /pause 2027-05-01, "
                "/pause 1.5.2027 or /pause 2w."
            )
        )
    preferences.pause(context.me, until)
    await skip_paused_deliveries(context.session, context.me, until)
    text = context._("Paused. You will get no questions until after {date}.")
    return context.say(text.format(date=until.isoformat()), tag="paused")


async def resume(context: Context) -> list[Reply]:
    """Resume prompts."""
    preferences.resume(context.me)
    return context.say(context._("Welcome back! Questions will come again."), tag="resumed")


async def language(context: Context) -> list[Reply]:
    """Change the person's language; with no or an unknown code, offer the choices."""
    code = _arg(context).lower()
    if not preferences.set_language(context.me, code):
        text = context._("Choose one of: nb (bokmål), nn (nynorsk), en (English).")
        row = tuple(Button(label, LANGUAGE_BUTTON, value) for value, label in LANGUAGES)
        return [Reply(OutMessage(text=text, locale=context.locale, rows=(row,), tag="language"))]
    return context.say(context._("I will speak your language from now on."), tag="language")


async def timezone(context: Context) -> list[Reply]:
    """Change the person's time zone."""
    name = _arg(context)
    if not preferences.set_timezone(context.me, name):
        text = context._("{zone} is not a time zone I know. Write for example Europe/Oslo.")
        return context.say(text.format(zone=name or "?"))
    text = context._("Your time zone is now {zone}.")
    return context.say(text.format(zone=name), tag="timezone")


async def mine(context: Context) -> list[Reply]:
    """Show the person's last reflections (their own text, in their own chat)."""
    entries = []
    for answer in await answers.recent_answers(context.session, context.me.id, 5):
        prompt = await context.session.get(Prompt, answer.prompt_id) if answer.prompt_id else None
        question = pick_text(prompt.text if prompt else None, context.locale) or ""
        excerpt = answer.text if len(answer.text) <= 200 else answer.text[:199] + "…"
        entries.append(
            (answer.created_at.date().isoformat(), f"{question}\n  → {excerpt}", answer.visibility)
        )
    return [Reply(compose.reflections_list(context.tr, context.locale, entries))]


async def stop(context: Context) -> list[Reply]:
    """Ask before unlinking this chat account: "stop" is easily meant as "pause"."""
    _ = context._
    text = _(
        "Do you want to unlink this chat account from Tenkepause? Your saved reflections "
        "are kept. To take a break instead, write “pause”."
    )
    row = (
        Button(_("Yes, unlink"), STOP_BUTTON, "yes", "danger"),
        Button(_("No, keep it"), STOP_BUTTON, "no"),
    )
    return [Reply(OutMessage(text=text, locale=context.locale, rows=(row,), tag="stop_confirm"))]


async def press_stop(context: Context) -> list[Reply]:
    """Unlink this chat account when the person confirmed it."""
    if context.interaction.value != "yes":
        return context.say(context._("OK, nothing changed."), tag="stop_kept")
    assert context.identity is not None
    await preferences.unlink(context.session, context.identity)
    return context.say(
        context._(
            "This chat account is no longer linked. Your saved reflections are kept. "
            "Ask your coordinator for a new invite to come back."
        ),
        tag="stopped",
    )
