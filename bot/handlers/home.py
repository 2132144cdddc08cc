"""The leader's home view: next prompt, recent reflections, and their own settings."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.core.messages import Button, OutMessage, TextRequest
from bot.core.pause_dates import parse_until
from bot.handlers.account import LANGUAGE_BUTTON, LANGUAGES, mine
from bot.handlers.context import Context, Reply
from bot.services import preferences
from bot.services.upcoming import next_prompt_at
from storage.queries.audience import skip_paused_deliveries

PAUSE = "pau"
RESUME = "res"
LANGUAGE = LANGUAGE_BUTTON
TIMEZONE = "tz"


async def home(context: Context) -> list[Reply]:
    """Show when the next prompt comes, the last reflections, and the settings."""
    _, me = context._, context.me
    zone = ZoneInfo(me.timezone)
    lines = []
    if me.paused_until is not None:
        text = _("Paused until {date}.")
        lines.append(text.format(date=me.paused_until.isoformat()))
    upcoming = await next_prompt_at(context.session, me, context.now)
    if upcoming is not None:
        when = upcoming.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        lines.append(_("Next question: {when} ({zone}).").format(when=when, zone=me.timezone))
    else:
        lines.append(_("No question is scheduled for you right now."))
    recent = (await mine(context))[0].message.text
    pause_row = (
        (Button(_("Resume"), RESUME, "1", "primary"),)
        if me.paused_until
        else (Button(_("Pause 1 week"), PAUSE, "1w"), Button(_("Pause 4 weeks"), PAUSE, "4w"))
    )
    language_row = tuple(
        Button(label, LANGUAGE, code, "primary" if code == me.locale else None)
        for code, label in LANGUAGES
    )
    ask = TextRequest(
        label=_("Time zone"),
        action=TIMEZONE,
        value="1",
        submit_label=_("Save"),
        initial_text=me.timezone,
        max_length=64,
    )
    message = OutMessage(
        text="\n".join([*lines, "", recent]),
        locale=context.locale,
        title="Tenkepause",
        rows=(pause_row, language_row),
        ask=ask,
        tag="home",
    )
    return [Reply(message)]


async def press_pause(context: Context) -> list[Reply]:
    """Pause from a home button, then show the refreshed home."""
    today = context.now.astimezone(ZoneInfo(context.me.timezone)).date()
    until = parse_until(context.interaction.value, today)
    preferences.pause(context.me, until)
    await skip_paused_deliveries(context.session, context.me, until)
    return await home(context)


async def press_resume(context: Context) -> list[Reply]:
    """Resume from a home button."""
    preferences.resume(context.me)
    return await home(context)


async def press_language(context: Context) -> list[Reply]:
    """Switch language from a home button."""
    preferences.set_language(context.me, context.interaction.value)
    return await home(context)


async def submit_timezone(context: Context) -> list[Reply]:
    """Save a time zone typed into the home view."""
    if not preferences.set_timezone(context.me, context.interaction.text.strip()):
        text = context._("{zone} is not a time zone I know. Write for example Europe/Oslo.")
        return context.say(text.format(zone=context.interaction.text.strip() or "?"))
    return await home(context)
