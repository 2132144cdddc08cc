"""`tenkepause invite …`: one-time invite links for Telegram, and group-chat link codes."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram.error import TelegramError

from bot.channels.telegram.onboarding import INVITE_DAYS, create_invites, invite_link
from bot.clock import SystemClock
from bot.commands.common import console, fail, run
from bot.commands.group_link import make_group_link_code
from bot.core.problems import UserError
from bot.database import open_database
from bot.services.group_links import GROUP_LINK_DAYS
from bot.settings import Settings, get_settings
from storage.models import Cohort, CohortMembership, Identity, Person

app = typer.Typer(help="Invite people to join Tenkepause on a chat platform.", no_args_is_help=True)


@dataclass(frozen=True)
class InviteRow:
    """One line of the invite export."""

    email: str
    name: str
    link: str
    expires_at: datetime


async def bot_username(settings: Settings) -> str:
    """Ask the Bot API (getMe) for the bot's username."""
    if settings.telegram_bot_token is None:
        raise UserError("TELEGRAM_BOT_TOKEN is not set; invite links need the bot's name")
    bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=settings.telegram_api_url)
    try:
        async with bot:
            username = bot.username
    except TelegramError as error:
        raise UserError(
            f"TELEGRAM_API_URL {settings.telegram_api_url}: getMe failed: {error.message}"
        ) from None
    return username


async def _people(session: AsyncSession, cohort: str | None) -> list[Person]:
    linked = select(Identity.person_id).where(
        Identity.platform == "telegram", Identity.status == "active"
    )
    query = select(Person).where(Person.id.not_in(linked)).order_by(Person.email)
    if cohort is not None:
        row = await session.scalar(select(Cohort).where(Cohort.name == cohort))
        if row is None:
            raise UserError(f"--cohort: there is no cohort named {cohort!r}")
        members = select(CohortMembership.person_id).where(CohortMembership.cohort_id == row.id)
        query = query.where(Person.id.in_(members))
    return list(await session.scalars(query))


async def make_invites(settings: Settings, cohort: str | None, days: int) -> list[InviteRow]:
    """Create the codes in one transaction and return the links."""
    username = await bot_username(settings)
    now = SystemClock().now()
    async with open_database(settings) as (_, sessions), sessions() as session, session.begin():
        people = await _people(session, cohort)
        invites = await create_invites(session, people, now, days)
        return [
            InviteRow(i.person.email, i.person.name, invite_link(username, i.code), i.expires_at)
            for i in invites
        ]


def _csv(rows: list[InviteRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "name", "link", "expires_at"])
    for row in rows:
        writer.writerow([row.email, row.name, row.link, row.expires_at.isoformat()])
    return buffer.getvalue()


@app.command("telegram")
def telegram_command(
    cohort: Annotated[
        str | None, typer.Option("--cohort", help="Only people in this cohort (by name).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write a CSV file instead of printing.")
    ] = None,
    days: Annotated[int, typer.Option("--days", min=1, help="Days until the links expire.")] = (
        INVITE_DAYS
    ),
) -> None:
    """Create one single-use Telegram invite link per person not yet linked on Telegram."""
    rows = run(make_invites(get_settings(), cohort, days))
    if output is None:
        for row in rows:
            console.print(f"{row.email}\t{row.name}\t{row.link}", markup=False, highlight=False)
    else:
        try:
            output.write_text(_csv(rows), encoding="utf-8")
        except OSError as error:
            fail(f"--output {output}: {error.strerror or error}")
    where = f" to {output}" if output else ""
    console.print(f"{len(rows)} invite link(s) written{where}; they expire in {days} days.")


@app.command("telegram-group")
def telegram_group_command(
    group: Annotated[str, typer.Option("--group", help="The peer group, by name.")],
) -> None:
    """Create a one-time code a coach uses with /link in a Telegram group (see group-link-code)."""
    code = run(make_group_link_code(get_settings(), group, GROUP_LINK_DAYS, "--group"))
    console.print(f"In the Telegram group, a coach writes: /link {code}", markup=False)
