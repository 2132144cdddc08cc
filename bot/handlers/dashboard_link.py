"""The `dashboard` command: a coach gets a single-use sign-in link to the dashboard in chat."""

from __future__ import annotations

from bot.core.messages import OutMessage
from bot.handlers.context import Context, Reply
from bot.settings import get_settings
from bot.web.dashboard.auth import LOGIN_TTL, issue_login_link


async def send_link(context: Context) -> list[Reply]:
    """Reply, only to the coach, with a link that signs them in once within 15 minutes."""
    _ = context._
    link = await issue_login_link(
        context.session, context.me, context.now, get_settings().public_url
    )
    minutes = int(LOGIN_TTL.total_seconds() // 60)
    text = _("Your link to the coach dashboard: {link}").format(link=link)
    note = _("It works once, within {minutes} minutes. Do not share it.").format(minutes=minutes)
    message = OutMessage(text=text, locale=context.locale, context=(note,), tag="dashboard_link")
    return [Reply(message, ephemeral=True)]
