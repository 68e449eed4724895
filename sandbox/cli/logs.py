"""sandbox logs SERVICE [-f]"""

from __future__ import annotations

import typer

from sandbox.cli import ui


def logs(
    ctx: typer.Context,
    service: str = typer.Argument(..., help="postgres, kafka, elasticsearch, aws, airflow-scheduler, ..."),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing new lines"),
    lines: int = typer.Option(100, "--lines", "-n", help="how many lines from the end"),
    json_out: bool = typer.Option(False, "--json", help="print the lines as JSON"),
) -> None:
    rt, _ = ctx.obj.runtime()
    text = rt.log_lines(service, lines)
    if json_out:
        ui.print_json({"service": service, "runtime": rt.name, "lines": text})
        return
    if not text and not follow:
        ui.console.print(f"No log yet for {service}.")
        return
    if text:
        print("\n".join(text))
    if follow:
        for line in rt.follow_logs(service):
            print(line, flush=True)
