"""Prepare the demo: an embedded SQLite database with the example roster and programme."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.database import open_database
from bot.prompts.bank import load_bank
from bot.services.programme_apply import apply_programme_file
from bot.services.roster_import import run_roster_import
from bot.settings import Settings
from storage.migrate import upgrade

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEMO_DATABASE = "sqlite+aiosqlite:///./data/demo.db"


def demo_settings(base: Settings) -> Settings:
    """Return settings for the demo: its own SQLite file unless a database was chosen."""
    url = base.database_url
    if url == Settings.model_fields["database_url"].default:
        url = DEMO_DATABASE
    return base.model_copy(update={"database_url": url, "demo_mode": True})


async def prepare_demo(settings: Settings, examples: Path = EXAMPLES) -> list[str]:
    """Migrate, import the example roster, apply the example programme; describe each step."""
    await asyncio.to_thread(upgrade, settings.database_url)
    said = [f"Database ready at {settings.database_url} (migrations applied)."]
    roster, programme = examples / "roster.csv", examples / "programme.yaml"
    async with open_database(settings) as (_engine, sessions):
        counts = await run_roster_import(sessions, roster.read_bytes(), str(roster))
        said.append(f"Roster {roster.name}: {counts}.")
        report = await apply_programme_file(
            sessions, programme.read_text(encoding="utf-8"), str(programme), load_bank()
        )
        said.append(
            f"Programme {programme.name}: "
            + ("applied." if report.changed else "already applied, nothing changed.")
        )
    return said
