"""The `tenkepause` command. Each group of subcommands lives in `bot/commands/`."""

from __future__ import annotations

import typer

from bot.commands import db

app = typer.Typer(
    name="tenkepause",
    help="Tenkepause: reflection prompts, pulse surveys and peer groups in chat.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")


def main() -> None:
    """Run the command line."""
    app()
