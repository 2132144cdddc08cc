"""`tenkepause demo`: set up the embedded demo and run the bot on it."""

from __future__ import annotations

from bot.app import serve
from bot.commands.common import console, run
from bot.demo import demo_settings, prepare_demo
from bot.log_format import configure_logging
from bot.settings import get_settings


def demo_command() -> None:
    """Create a demo database from examples/, then run the bot on SQLite."""
    settings = demo_settings(get_settings())
    configure_logging(settings.log_level)
    for line in run(prepare_demo(settings)):
        console.print(line, markup=False, soft_wrap=True)
    base = f"http://{settings.http_host}:{settings.http_port}"
    channels = [
        name
        for name, on in (("Slack", settings.slack_enabled), ("Telegram", settings.telegram_enabled))
        if on
    ]
    console.print(f"Running the bot on {base} (health: {base}/healthz, metrics: {base}/metrics).")
    console.print(
        "Chat channels: "
        + (
            ", ".join(channels)
            if channels
            else "none configured (set SLACK_* or TELEGRAM_* in .env to connect one)"
        )
        + ". Press Ctrl+C to stop.",
        markup=False,
        soft_wrap=True,
    )
    run(serve(settings))
