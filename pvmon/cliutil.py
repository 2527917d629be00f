"""What every ``pvmon`` command group shares: how an error is printed, and the key file
that says who acts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from pvmon.errors import PvmonError, problem_lines

__all__ = ["KeyFile", "fail", "remember_key_file"]

_err = Console(stderr=True)

KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="File holding the API key to act with (else PVMON_API_KEY or PVMON_API_KEY_FILE).",
    ),
]


def fail(exc: PvmonError) -> typer.Exit:
    """Print ``exc`` on stderr (its message, then each further problem) and return the
    exit to raise: ``raise fail(exc) from exc``."""
    first, *rest = problem_lines(exc)
    _err.print(f"[bold red]error:[/] {escape(first)}")
    for problem in rest:
        _err.print(f"  {escape(problem)}")
    return typer.Exit(code=1)


def remember_key_file(ctx: typer.Context, key_file: KeyFile = None) -> None:
    """Callback of a group whose commands act as a person: keeps ``--key-file``."""
    ctx.obj = {"key_file": key_file}
