"""sandbox requirements: would MWAA install requirements.txt (check), the offline wheelhouse
(download), and plugins.zip for a private web server (package). None changes a running sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
import yaml
from rich.markup import escape

from sandbox.cli import ui
from sandbox.deps import package as packaging
from sandbox.deps.check import CheckOptions, CheckResult, run_check
from sandbox.deps.checker_env import ensure_checker
from sandbox.mwaa.data import locate
from sandbox.settings import Settings

REQUIREMENTS_HELP = "requirements file (default: the project's requirements.txt)"
# install 0, fail 1, unknown 3 (the check could not decide); 2 stays invalid input.
EXIT_CODES = {"install": 0, "fail": 1, "unknown": 3}
PLUGINS_HELP = "plugins.zip (default: the project's plugins.zip, if any)"


def _settings(ctx: typer.Context, offline: bool) -> Settings:
    return ctx.obj.settings(offline=True) if offline else ctx.obj.settings()


def _project_file(settings: Settings, given: Optional[Path], key: Optional[str], default: str) -> Path:
    if given is not None:
        return given.expanduser().resolve()
    return settings.project_dir / (key or default)


def private_by_spec(settings: Settings) -> bool:
    """True when mwaa.yaml itself says WebserverAccessMode: PRIVATE_ONLY."""
    path = settings.project_dir / "mwaa.yaml"
    try:
        raw = yaml.safe_load(path.read_text()) if path.is_file() else None
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(raw, dict) and raw.get("WebserverAccessMode") == "PRIVATE_ONLY"


def _print_result(result: CheckResult, progress: ui.ConsoleProgress) -> None:
    if result.constraints_line:
        ui.console.print(f"[yellow]{escape(result.constraints_line)}[/]", highlight=False)
    for note in result.notes:
        progress.note(note)
    for line in result.log:
        ui.console.print(line, markup=False, highlight=False)
    for problem in result.problems:
        ui.err_console.print(f"[yellow]problem:[/] {problem}", highlight=False)
    colour = {"install": "green", "fail": "red"}.get(result.verdict, "yellow")
    ui.console.print(f"[bold {colour}]{escape(result.verdict_line())}[/]", highlight=False)


def _exit(result: CheckResult) -> None:
    if EXIT_CODES[result.verdict]:
        raise typer.Exit(EXIT_CODES[result.verdict])


def check(ctx: typer.Context,
          requirements: Optional[Path] = typer.Option(None, "--requirements", "-r", help=REQUIREMENTS_HELP),
          plugins: Optional[Path] = typer.Option(None, "--plugins", help=PLUGINS_HELP),
          private: Optional[bool] = typer.Option(
              None, "--private/--public",
              help="private web server: only the wheels in plugins.zip, no index "
                   "(default: mwaa.yaml's WebserverAccessMode)"),
          offline: bool = typer.Option(False, "--offline", help="resolve from the wheelhouse only"),
          json_out: bool = typer.Option(False, "--json")) -> None:
    """Would MWAA install these requirements? MWAA's log, then the verdict; exit 1 if it would
    fail, 3 if the check cannot tell (an index or constraints URL out of reach, a build this
    machine cannot do)."""
    settings = _settings(ctx, offline)
    progress = ui.ConsoleProgress(quiet=json_out)
    options = CheckOptions(
        requirements=_project_file(settings, requirements, settings.spec.requirements_s3_path,
                                   "requirements.txt"),
        plugins=_project_file(settings, plugins, settings.spec.plugins_s3_path, "plugins.zip"),
        private=private_by_spec(settings) if private is None else private)
    result = run_check(settings, options, lambda m: progress.step("requirements", m))
    if json_out:
        ui.print_json(result.to_json())
    else:
        _print_result(result, progress)
    _exit(result)


def download(ctx: typer.Context,
             requirements: Optional[Path] = typer.Option(None, "--requirements", "-r", help=REQUIREMENTS_HELP),
             json_out: bool = typer.Option(False, "--json")) -> None:
    """Fill the wheelhouse with what these requirements need, so later checks work offline."""
    settings = ctx.obj.settings()
    progress = ui.ConsoleProgress(quiet=json_out)
    options = CheckOptions(
        requirements=_project_file(settings, requirements, settings.spec.requirements_s3_path,
                                   "requirements.txt"),
        plugins=_project_file(settings, None, settings.spec.plugins_s3_path, "plugins.zip"),
        source="online", publish=False)
    result = run_check(settings, options, lambda m: progress.step("requirements", m))
    house = result.wheelhouse or {}
    if json_out:
        return ui.print_json({"wheelhouse": house, "verdict": result.verdict,
                              "conflict": result.conflict})
    if house.get("error"):
        progress.note(f"some files could not be downloaded: {house['error']}")
    progress.done("wheelhouse", f"{house.get('added', 0)} file(s) added to {house.get('path')}")
    ui.console.print(result.verdict_line(), highlight=False)


def package(ctx: typer.Context,
            requirements: Optional[Path] = typer.Option(None, "--requirements", "-r", help=REQUIREMENTS_HELP),
            output: Optional[Path] = typer.Option(None, "--output", "-o",
                                                  help="folder for plugins.zip and requirements.txt "
                                                       "(default: .sandbox/package)"),
            json_out: bool = typer.Option(False, "--json")) -> None:
    """Build plugins.zip (Linux x86_64 / CPython 3.11 wheels) and its requirements.txt for a
    private web server, then check them in private mode."""
    settings = ctx.obj.settings()
    progress = ui.ConsoleProgress(quiet=json_out)
    step = lambda m: progress.step("package", m)  # noqa: E731
    req = _project_file(settings, requirements, settings.spec.requirements_s3_path, "requirements.txt")
    out = output.expanduser().resolve() if output else settings.state_dir / "package"
    data = locate(settings.mwaa_data_dir, settings.cache_dir, settings.offline)
    step("downloading wheels for Linux x86_64 / CPython 3.11")
    built = packaging.build(ensure_checker(settings, data, step), data, req, out)
    result = run_check(settings, CheckOptions(built.requirements, built.plugins_zip, private=True,
                                              publish=False), step)
    if json_out:
        ui.print_json({"plugins_zip": str(built.plugins_zip), "requirements": str(built.requirements),
                       "wheels": built.files, "skipped_in_image": built.skipped,
                       "check": result.to_json()})
    else:
        progress.done("package", f"{built.plugins_zip} ({len(built.files)} wheels; "
                                 f"{len(built.skipped)} left out, already in MWAA's image) "
                                 f"and {built.requirements}")
        _print_result(result, progress)
    _exit(result)


def register(app: typer.Typer) -> None:
    req_app = typer.Typer(help="Check requirements.txt the way MWAA installs it, offline too.",
                          no_args_is_help=True)
    req_app.command("check")(check)
    req_app.command("download")(download)
    req_app.command("package")(package)
    app.add_typer(req_app, name="requirements")
