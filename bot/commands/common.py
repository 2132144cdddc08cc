"""What every subcommand shares: running a coroutine, reporting user errors."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from bot.core.problems import InvalidInput, UserError
from storage.migrate import SchemaOutOfDate

T = TypeVar("T")

console = Console()
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit non-zero."""
    errors.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning user errors into one-line messages and exit codes."""
    try:
        return asyncio.run(coroutine)
    except InvalidInput as invalid:
        for problem in invalid.problems:
            errors.print(f"error: {problem}", markup=False)
        count = len(invalid.problems)
        errors.print(f"{count} problem{'s' if count != 1 else ''} found; nothing was changed.")
        raise typer.Exit(1) from None
    except (UserError, SchemaOutOfDate) as error:
        fail(str(error))
