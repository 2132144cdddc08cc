"""`tenkepause secret generate`: print a key strong enough for TENKEPAUSE_SECRET_KEY."""

from __future__ import annotations

import secrets

import typer

app = typer.Typer(help="Make secrets for the configuration.", no_args_is_help=True)


@app.command("generate")
def generate_command() -> None:
    """Print a new random key (64 URL-safe characters) for TENKEPAUSE_SECRET_KEY."""
    typer.echo(secrets.token_urlsafe(48))
