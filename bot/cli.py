"""The `tenkepause` command. Each group of subcommands lives in `bot/commands/`."""

from __future__ import annotations

import faulthandler

import typer

from bot.commands import (
    chat_link,
    db,
    demo,
    export,
    group_link,
    invite,
    login_link,
    programme,
    roster,
    secret,
    serve,
    teams,
)

app = typer.Typer(
    name="tenkepause",
    help="Tenkepause: reflection prompts, pulse surveys and peer groups in chat.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.command("run")(serve.run_command)
app.command("demo")(demo.demo_command)
app.command("chat-link")(chat_link.chat_link_command)
app.command("group-link-code")(group_link.group_link_code_command)
app.add_typer(roster.app, name="roster")
app.add_typer(programme.app, name="programme")
app.add_typer(invite.app, name="invite")
app.command("export")(export.export_command)
app.command("login-link")(login_link.login_link_command)
app.add_typer(teams.app, name="teams")
app.add_typer(secret.app, name="secret")


def main() -> None:
    """Run the command line, with a stack dump on stderr should the process ever crash."""
    # A segfault in a C extension otherwise leaves no trace of where it happened.
    faulthandler.enable()
    app()
