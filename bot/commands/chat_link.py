"""`tenkepause chat-link EMAIL`: a personal link to the web chat."""

from __future__ import annotations

import typer

from bot.clock import SystemClock
from bot.commands.common import console, run
from bot.database import open_database
from bot.services.chat_links import chat_link
from bot.settings import get_settings


def chat_link_command(
    email: str = typer.Argument(..., help="The leader's email, as in the roster."),
) -> None:
    """Print a single-use link (valid 7 days) that opens the web chat for one leader."""
    settings = get_settings()

    async def go() -> str:
        async with open_database(settings) as (_engine, sessions), sessions.begin() as session:
            return await chat_link(session, email, settings.public_url, SystemClock().now())

    console.print(run(go()), markup=False, soft_wrap=True)
