"""sandbox up"""

from __future__ import annotations

import typer

from sandbox.cli import ui
from sandbox.delivery.deploy import ignored_project_files


def up(
    ctx: typer.Context,
    runtime: str = typer.Option(None, "--runtime", "-r", help="native, compose or auto (default auto)"),
    offline_images: bool = typer.Option(None, "--offline-images",
                                        help="compose: build every image from local sources (no registry)"),
    json_out: bool = typer.Option(False, "--json", help="print the endpoints as JSON"),
) -> None:
    progress = ui.ConsoleProgress()
    rt, choice = ctx.obj.runtime(progress, runtime=runtime, offline_images=offline_images)
    progress.note(f"runtime: {choice.name} ({choice.reason})")
    ignored = ignored_project_files(rt.settings)
    for warning in ignored:  # before the long start, so it is read before a DAG fails for it
        ui.warning(warning.message, stderr=True)
    report = rt.up()
    if json_out:
        ui.print_json({"runtime": report.runtime, "already_running": report.already_running,
                       "seconds": round(report.seconds, 1),
                       "endpoints": {e.service: e.url for e in report.endpoints},
                       "warnings": [w.as_dict() for w in ignored]})
        return
    if report.already_running:
        ui.console.print(f"The sandbox for {rt.settings.project_dir} is already running.")
    else:
        ui.console.print(f"[green]Sandbox up[/] in {report.seconds:.0f} s ({report.runtime} runtime).")
    ui.console.print(ui.endpoint_table(report.endpoints))
    ui.console.print("Airflow login: admin (password: `sandbox status --show-password`). "
                     "Stop with `sandbox down`.")
