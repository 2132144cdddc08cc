"""`tenkepause db …`: the schema, built by migrations only."""

from __future__ import annotations

import asyncio

import typer

from bot.commands.common import console, run
from bot.settings import get_settings
from storage.engine import make_engine
from storage.migrate import current_revision, head_revision, upgrade

app = typer.Typer(help="Create and upgrade the database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command() -> None:
    """Apply every pending migration to TENKEPAUSE_DATABASE_URL."""
    url = get_settings().database_url

    async def go() -> tuple[str | None, str | None]:
        engine = make_engine(url)
        try:
            before = await current_revision(engine)
        finally:
            await engine.dispose()
        await asyncio.to_thread(upgrade, url)
        return before, head_revision()

    before, head = run(go())
    if before == head:
        console.print(f"Database already at {head}; nothing to do.")
    else:
        console.print(f"Database upgraded from {before or 'empty'} to {head}.")


@app.command("status")
def status_command() -> None:
    """Show the schema revision of the database and of this version."""
    url = get_settings().database_url

    async def go() -> str | None:
        engine = make_engine(url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    console.print(f"database: {run(go()) or 'empty'}; this version: {head_revision()}")
