"""`tenkepause login-link EMAIL`: print a single-use sign-in link to the coach dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.clock import SystemClock
from bot.commands.common import run
from bot.core.problems import UserError
from bot.database import open_database
from bot.settings import get_settings
from bot.web.dashboard.auth import LOGIN_TTL, issue_login_link, person_by_email


def login_link_command(
    email: Annotated[str, typer.Argument(help="Email of a coach or admin in the roster.")],
) -> None:
    """Print a dashboard link that works once, for 15 minutes."""
    settings = get_settings()

    async def go() -> str:
        async with open_database(settings) as (_, sessions), sessions.begin() as session:
            person = await person_by_email(session, email)
            if person is None:
                raise UserError(f"EMAIL {email!r}: nobody in the roster has this email")
            return await issue_login_link(session, person, SystemClock().now(), settings.public_url)

    link = run(go())
    typer.echo(link)
    minutes = int(LOGIN_TTL.total_seconds() // 60)
    typer.echo(f"The link works once, for {minutes} minutes.", err=True)
