"""`tenkepause demo`: set up the embedded demo and run the bot on it."""

from __future__ import annotations

from bot.app import serve
from bot.clock import SystemClock
from bot.commands.common import console, fail, run
from bot.database import open_database
from bot.demo import DemoTour, demo_settings, prepare_demo, start_tour
from bot.log_format import configure_logging
from bot.settings import Settings, drop_blank_environment, get_settings


async def _tour(settings: Settings) -> DemoTour:
    async with open_database(settings) as (_engine, sessions), sessions.begin() as session:
        return await start_tour(session, settings.public_url, SystemClock().now())


def _say(line: str) -> None:
    console.print(line, markup=False, soft_wrap=True, highlight=False)


def demo_command() -> None:
    """Create a demo database from examples/, then run the bot on SQLite with the web chat."""
    drop_blank_environment()
    settings = demo_settings(get_settings())
    configure_logging("WARNING", settings.secret_values())
    for problem in settings.startup_problems():
        fail(problem)
    for line in run(prepare_demo(settings)):
        _say(line)
    tour = run(_tour(settings))
    base = settings.public_url.rstrip("/")
    _say("")
    _say(f"Leader {tour.leader_name}: open {tour.leader_link}")
    _say("  A reflection prompt arrives in the web chat within seconds, a pulse soon after.")
    _say(f"Coach {tour.coach_name}: open {tour.coach_link} (the dashboard; valid 15 minutes,")
    _say("  `tenkepause login-link EMAIL` prints a new one)")
    _say(f"Health: {base}/healthz   Metrics: {base}/metrics   Press Ctrl+C to stop.")
    run(serve(settings))
