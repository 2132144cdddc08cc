"""Coach commands: post a group prompt, see groups, pulses and response rates."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.core.coach_commands import BadPromptCommand, parse_prompt_command
from bot.handlers.context import Context, Reply
from bot.services import coaching, group_prompts, participation


def _rate_lines(context: Context, rates: list[participation.Rate]) -> list[str]:
    template = context._("{label}: {answered} of {asked} answered ({percent} %)")
    return [
        "• " + template.format(label=r.label, answered=r.answered, asked=r.asked, percent=r.percent)
        for r in rates
    ]


async def post_prompt(context: Context) -> list[Reply]:
    """Post a prompt to one of the coach's peer groups, now or at a local time."""
    _ = context._
    zone = ZoneInfo(context.me.timezone)
    try:
        command = parse_prompt_command(context.interaction.args, context.now.astimezone(zone))
    except BadPromptCommand as error:
        text = _("I could not read that: {problem}. Example: prompt kull-1-gruppe-1 at 09:00 TEXT")
        return context.say(text.format(problem=error), ephemeral=True)
    group = await coaching.coached_group(context.session, context.me, command.group)
    if group is None:
        text = _("You do not coach a group called {group}. Write `groups` to see yours.")
        return context.say(text.format(group=command.group), ephemeral=True)
    send_at = command.at_local.astimezone(context.now.tzinfo) if command.at_local else context.now
    posted = await group_prompts.post_group_prompt(
        context.session, context.me, group, command.text, send_at=send_at
    )
    where = _("in the group's chat") if posted.to_chat else _("to each member")
    when = command.at_local.strftime("%Y-%m-%d %H:%M") if command.at_local else _("now")
    text = _("Prompt for {group} queued {where}, sending {when}.")
    return context.say(text.format(group=group.name, where=where, when=when), tag="posted")


async def list_groups(context: Context) -> list[Reply]:
    """List the coach's groups with their response rates over the last four weeks."""
    groups = await coaching.coached_groups(context.session, context.me)
    if not groups:
        return context.say(context._("You coach no peer groups yet."), ephemeral=True)
    rates = await participation.group_rates(context.session, groups, context.now)
    lines = [context._("Your peer groups, last four weeks:"), *_rate_lines(context, rates)]
    return context.say("\n".join(lines), tag="groups", ephemeral=True)


async def pulse_rates(context: Context) -> list[Reply]:
    """Show the response rates of open pulse rounds in the coach's cohorts."""
    cohorts = await coaching.coached_cohort_ids(context.session, context.me)
    rates = await participation.open_pulse_rates(context.session, cohorts)
    if not rates:
        return context.say(context._("No pulse round is open right now."), ephemeral=True)
    lines = [context._("Open pulse rounds:"), *_rate_lines(context, rates)]
    return context.say("\n".join(lines), tag="pulse", ephemeral=True)
