"""Every handler, registered in one place."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.core import compose
from bot.handlers import account, coach, home, reflection
from bot.handlers.router import Route, Router


def build_router(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> Router:
    """Return a router with every platform-neutral handler registered."""
    router = Router(sessions, clock)
    router.command("help", account.show_help, open=True)
    router.command("start", account.show_help, open=True)
    router.command("pause", account.pause)
    router.command("resume", account.resume)
    router.command("language", account.language, pending=True)
    router.command("timezone", account.timezone)
    router.command("mine", account.mine)
    router.command("stop", account.stop, pending=True)
    router.command("home", home.home)
    router.button(home.PAUSE, home.press_pause)
    router.button(home.RESUME, home.press_resume)
    router.button(home.LANGUAGE, home.press_language)
    router.submit(home.TIMEZONE, home.submit_timezone)
    router.command("prompt", coach.post_prompt, staff=True)
    router.command("groups", coach.list_groups, staff=True)
    router.command("pulse", coach.pulse_rates, staff=True)
    router.command("results", coach.pulse_rates, staff=True)

    router.submit(compose.ANSWER, reflection.submit_answer)
    router.submit(compose.FOLLOW_UP, reflection.submit_follow_up)
    router.button(compose.EDIT, reflection.press_edit)
    router.button(compose.FOLLOW_UP, reflection.press_follow_up)
    router.button(compose.VISIBILITY, reflection.press_visibility)
    router.text = Route(reflection.reply_text)
    router.edit = Route(reflection.edited_text)
    return router
