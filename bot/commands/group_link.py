"""`tenkepause group-link-code GROUP`: a one-time code that links a group chat to a peer group."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from bot.clock import SystemClock
from bot.commands.common import console, run
from bot.core.problems import UserError
from bot.database import open_database
from bot.services.group_links import GROUP_LINK_DAYS, issue_group_link_code
from bot.settings import Settings, get_settings
from storage.models import PeerGroup

DAYS_OPTION = typer.Option("--days", min=1, help="Days until the code expires.")


async def make_group_link_code(settings: Settings, group: str, days: int, where: str) -> str:
    """Create a code for the peer group named `group`; `where` names the argument in errors."""
    now = SystemClock().now()
    async with open_database(settings) as (_, sessions), sessions() as session, session.begin():
        row = await session.scalar(select(PeerGroup).where(PeerGroup.name == group))
        if row is None:
            raise UserError(f"{where}: there is no peer group named {group!r}")
        return await issue_group_link_code(session, row, now, days)


def group_link_code_command(
    group: Annotated[str, typer.Argument(help="The peer group, by name.")],
    days: Annotated[int, DAYS_OPTION] = GROUP_LINK_DAYS,
) -> None:
    """Create a one-time code a coach uses to link a group chat to a peer group."""
    code = run(make_group_link_code(get_settings(), group, days, "GROUP"))
    # soft_wrap: a wrapped line would split the code and break copy and paste.
    for line in (
        f"In a Telegram group, a coach writes: /link {code}",
        f"In a Teams channel or group chat, a coach writes: @Tenkepause link {code}",
        f"The code works once, in one chat, within {days} days.",
    ):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
