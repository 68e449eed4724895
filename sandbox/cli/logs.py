"""sandbox logs SERVICE [-f]"""

from __future__ import annotations

import time

import typer

from sandbox.cli import ui
from sandbox.proc import tail


def logs(
    ctx: typer.Context,
    service: str = typer.Argument(..., help="postgres, kafka, elasticsearch, aws, airflow-scheduler, ..."),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing new lines"),
    lines: int = typer.Option(100, "--lines", "-n", help="how many lines from the end"),
    json_out: bool = typer.Option(False, "--json", help="print the lines as JSON"),
) -> None:
    rt, _ = ctx.obj.runtime()
    path = rt.log_path(service)
    if json_out:
        text = tail(path, lines) if path.exists() else ""
        ui.print_json({"service": service, "path": str(path), "lines": text.splitlines()})
        return
    if not path.exists():
        ui.console.print(f"No log yet for {service} ({path}).")
        raise typer.Exit(0 if not follow else 1)
    text = tail(path, lines)
    if text:
        print(text)
    if follow:
        _follow(path)


def _follow(path) -> None:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        while True:
            chunk = fh.read()
            if chunk:
                print(chunk.decode("utf-8", "replace"), end="", flush=True)
            else:
                time.sleep(0.5)
