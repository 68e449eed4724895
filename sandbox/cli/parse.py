"""sandbox parse [--json]: the project's DAG import errors, as MWAA 2.9.2 would show them."""

from __future__ import annotations

import typer

from sandbox.cli import ui
from sandbox.mwaa import dag_errors
from sandbox.mwaa.dag_errors import ParseReport
from sandbox.parse import parse_project, publish, relative
from sandbox.settings import Settings
from sandbox.startup import find_script, run_for_project


def _payload(settings: Settings, report: ParseReport, group: str | None) -> dict:
    return {
        "dags": report.dag_ids,
        "import_errors": [{"file": relative(settings, f.path), "error": f.error,
                           "exception": dag_errors.exception_line(f.error or ""),
                           "timeout": f.timed_out} for f in report.errors],
        "import_timeout_seconds": report.import_timeout,
        "timeouts": [relative(settings, f.path) for f in report.timeouts],
        "files": [{"file": relative(settings, f.path), "dags": list(f.dags),
                   "seconds": round(f.seconds, 3)} for f in report.files],
        "environment": report.environment,
        "log_group": group,
    }


def _show(settings: Settings, report: ParseReport, group: str | None) -> None:
    ui.console.print(f"Parsed {len(report.files)} file(s): {len(report.dag_ids)} DAG(s) "
                     f"({', '.join(report.dag_ids) or 'none'})")
    for failed in report.errors:
        file = relative(settings, failed.path)
        ui.console.print(f"\n[bold red]{file}[/]: {dag_errors.exception_line(failed.error)}")
        if failed.timed_out:
            ui.console.print(f"[yellow]![/] took longer than core.dagbag_import_timeout "
                             f"({report.import_timeout:g} s): MWAA stops the import the same way")
        ui.console.print(dag_errors.ui_banner(failed.path, failed.error), markup=False, style="dim")
        ui.console.print(f"DAGProcessing stream {dag_errors.stream_name(failed.path)}:", style="dim")
        for _, line in dag_errors.processor_lines(failed):
            ui.console.print(line, markup=False, style="dim")
    if group:
        ui.console.print(f"\nWritten to CloudWatch Logs group {group} (a stream per file).")


def _startup_exports(settings: Settings, progress: ui.ConsoleProgress) -> dict[str, str]:
    """MWAA's DAG processor starts with what the startup script exported: run it first."""
    script = find_script(settings)
    if script is None:
        return {}
    progress.step("parse", f"running {script.name} first, as MWAA does before Airflow starts")
    result = run_for_project(settings, script)
    for problem in result.problems() + result.warnings():
        progress.note(f"{problem} (see `sandbox startup-script test`)")
    return result.exported


def parse(ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="print JSON"),
          skip_startup: bool = typer.Option(False, "--skip-startup-script",
                                            help="do not run startup.sh before parsing")) -> None:
    """Parse the DAGs with the project's requirements; exit 1 on any import error."""
    settings = ctx.obj.settings()
    progress = ui.ConsoleProgress(quiet=json_out)
    extra = {} if skip_startup else _startup_exports(settings, progress)
    report = parse_project(settings, progress=lambda msg: progress.step("parse", msg), extra_env=extra)
    group = publish(settings, report)
    if json_out:
        ui.print_json(_payload(settings, report, group))
    else:
        _show(settings, report, group)
    if report.errors:
        if not json_out:
            ui.error(f"{len(report.errors)} DAG file(s) failed to import: "
                     f"{', '.join(relative(settings, f.path) for f in report.errors)}")
        raise typer.Exit(1)
    if not json_out:
        ui.console.print("[green]OK[/]: no import errors")
