"""Every handler, registered in one place."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.core import compose, compose_peers, compose_pulse
from bot.core.conversation import Policy
from bot.handlers import (
    account,
    coach,
    coach_results,
    conversation,
    dashboard_link,
    group_link,
    home,
    peers,
    pulse,
    reflection,
)
from bot.handlers.router import Route, Router


def build_router(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, secret: str, policy: Policy
) -> Router:
    """Return a router with every platform-neutral handler registered."""
    router = Router(sessions, clock, secret, policy=policy)
    router.command("help", account.show_help, open=True)
    router.command("start", account.show_help, open=True)
    router.command("pause", account.pause)
    router.command("resume", account.resume)
    router.command("language", account.language, pending=True)
    router.command("timezone", account.timezone)
    router.command("mine", account.mine)
    router.command("stop", account.stop, pending=True)
    router.button(account.STOP_BUTTON, account.press_stop, pending=True)
    router.command("edit", reflection.edit_latest)
    router.command("undo", conversation.undo)
    router.command("cancel", conversation.cancel)
    router.command("home", home.home)
    router.button(home.PAUSE, home.press_pause)
    router.button(home.RESUME, home.press_resume)
    router.button(home.LANGUAGE, home.press_language)
    router.submit(home.TIMEZONE, home.submit_timezone)
    router.command("prompt", coach.post_prompt, staff=True)
    router.command("groups", coach.list_groups, staff=True)
    router.command("pulse", coach.pulse_rates, staff=True)
    router.command("results", coach_results.show_results, staff=True)
    router.command("close", coach_results.close_now, staff=True)
    router.command("dashboard", dashboard_link.send_link, staff=True)
    router.command("closing", coach_results.send_closing_message, staff=True)
    router.command("link", group_link.link_chat, open=True, pending=True)  # checks inside
    router.button(compose_pulse.PULSE_VALUE, pulse.press_value)
    router.button(compose_pulse.PULSE_DONE, pulse.press_done)
    router.button(compose_pulse.PULSE_GOTO, pulse.press_goto)
    router.submit(compose_pulse.PULSE_TEXT, pulse.submit_text)
    router.button(compose_peers.MEETING_ANSWER, peers.press_meeting)
    router.button(compose_peers.SKIP_NEXT, peers.press_skip)

    router.submit(compose.ANSWER, reflection.submit_answer)
    router.submit(compose.FOLLOW_UP, reflection.submit_follow_up)
    router.button(compose.EDIT, reflection.press_edit)
    router.button(compose.FOLLOW_UP, reflection.press_follow_up)
    router.button(compose.VISIBILITY, reflection.press_visibility)
    router.button(compose.UNDO, conversation.press_undo)
    router.button(compose.AWAIT, conversation.press_answer)
    router.text = Route(conversation.reply_text)
    router.edit = Route(reflection.edited_text)
    return router
