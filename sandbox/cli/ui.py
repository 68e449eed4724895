"""Everything the CLI shows: one console, progress lines, tables, the error line."""

from __future__ import annotations

import json
import sys
import time

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sandbox.runtime.base import ServiceStatus
from sandbox.services.base import Endpoint

console = Console(highlight=False, soft_wrap=True)  # no hard wraps in logs and pipes
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class ConsoleProgress:
    """Progress for long steps: one line per step with its elapsed time."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.started: dict[str, float] = {}

    def step(self, name: str, message: str) -> None:
        self.started.setdefault(name, time.monotonic())
        if not self.quiet:
            err_console.print(f"[cyan]•[/] [bold]{name}[/]: {message}")

    def done(self, name: str, message: str) -> None:
        self.started.pop(name, None)
        if not self.quiet:
            err_console.print(f"[green]✓[/] [bold]{name}[/]: {message}")

    def note(self, message: str) -> None:
        if not self.quiet:
            err_console.print(f"[yellow]![/] {message}")


def print_json(payload) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def endpoint_table(endpoints: list[Endpoint]) -> Table:
    table = Table(title="mwaa-sandbox endpoints", title_justify="left")
    table.add_column("service", style="bold")
    table.add_column("address")
    table.add_column("what")
    for e in endpoints:
        table.add_row(e.service, e.url, e.note)
    return table


def status_table(rows: list[ServiceStatus]) -> Table:
    table = Table(title_justify="left")
    for column in ("service", "state", "url", "pid", "restarts", "detail"):
        table.add_column(column)
    colours = {"running": "green", "stopped": "dim", "unhealthy": "red", "starting": "yellow",
               "crash-looping": "red"}
    for row in rows:
        colour = colours.get(row.state, "white")
        table.add_row(row.service, f"[{colour}]{row.state}[/]", row.url,
                      str(row.pid or ""), str(row.restarts or ""), row.detail)
    return table


def error(message: str, details: str | None = None) -> None:
    err_console.print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True)  # user text is not markup
    if details:
        err_console.print(details, style="dim", markup=False, highlight=False)


def warning(message: str, *, stderr: bool = False) -> None:
    """One yellow "Warning: ..." line (stderr where stdout carries JSON or a table to parse)."""
    (err_console if stderr else console).print(f"[yellow]Warning:[/] {escape(message)}")
