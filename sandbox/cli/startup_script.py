"""sandbox startup-script test [FILE]: run a startup script as MWAA does and judge it."""

from __future__ import annotations

from pathlib import Path

import typer

from sandbox.cli import ui
from sandbox.errors import ConfigError
from sandbox.environment.state import StateDir
from sandbox.settings import Settings
from sandbox.startup import (StartupResult, StartupScriptError, publish, script_to_test,
                             run_for_project)


def _script(settings: Settings, file: Path | None) -> Path:
    if file is not None:
        if not file.is_file():
            raise ConfigError(f"startup script {file} not found")
        return file.resolve()
    found = script_to_test(settings)
    if found is None:
        raise ConfigError(f"no startup script in {settings.project_dir}",
                          hint="add startup.sh, set StartupScriptS3Path in mwaa.yaml, or name a FILE")
    return found


def _payload(result: StartupResult, log: Path, groups: list[str]) -> dict:
    return {"script": str(result.script), "ok": result.ok, "exit_code": result.exit_code,
            "timed_out": result.timed_out, "seconds": round(result.seconds, 2),
            "limit_seconds": result.limit, "exported": result.exported,
            "rejected": result.rejected, "problems": result.problems(), "warnings": result.warnings(),
            "log_stream": result.stream, "log_file": str(log), "log_groups": groups,
            "log": [line.format() for line in result.log_lines]}


def _show(result: StartupResult, log: Path, groups: list[str]) -> None:
    for line in result.log_lines:
        ui.console.print(line.format(), markup=False)
    names = ", ".join(sorted(result.exported)) or "none"
    ui.console.print(f"Exported to Airflow: {names}")
    where = f"{log}" + (f" and CloudWatch ({', '.join(groups)})" if groups else "")
    ui.console.print(f"Log stream {result.stream}: {where}")
    for warning in result.warnings():
        ui.warning(warning)
    if result.ok:
        ui.console.print(f"[green]OK[/]: the startup script ran in {result.seconds:.2f} s "
                         f"(limit {result.limit:g} s)")


def test(
    ctx: typer.Context,
    file: Path = typer.Argument(None, help="the script (default: StartupScriptS3Path or startup.sh)"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Run the script as MWAA does: bash, before the requirements install, 5-minute limit."""
    settings = ctx.obj.settings()
    script = _script(settings, file)
    if not json_out:
        ui.err_console.print(f"[cyan]•[/] running {script} as MWAA does "
                             f"(bash, limit {settings.startup_timeout:g} s)")
    result = run_for_project(settings, script)
    groups = publish(settings, result)
    log = StateDir(settings.state_dir).logs / result.stream
    problems = result.problems()
    if json_out:
        ui.print_json(_payload(result, log, groups))
        if problems:
            raise typer.Exit(1)
        return
    _show(result, log, groups)
    for extra in problems[1:]:
        ui.error(extra)
    if problems:
        raise StartupScriptError(problems[0], hint=f"log: {log}")


def register(app: typer.Typer) -> None:
    startup_app = typer.Typer(help="Check a startup script the way MWAA runs it.", no_args_is_help=True)
    startup_app.command("test")(test)
    app.add_typer(startup_app, name="startup-script")
