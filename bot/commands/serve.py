"""`tenkepause run`: serve chat platforms, the scheduler and the dispatcher."""

from __future__ import annotations

from bot.app import serve
from bot.commands.common import fail
from bot.commands.common import run as run_coroutine
from bot.log_format import configure_logging
from bot.settings import drop_blank_environment, get_settings


def run_command() -> None:
    """Run the bot: the HTTP server, every configured channel, the scheduler and dispatcher."""
    drop_blank_environment()
    settings = get_settings()
    configure_logging(settings.log_level, settings.secret_values())
    for problem in settings.startup_problems():
        fail(problem)
    run_coroutine(serve(settings))
