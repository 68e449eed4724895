"""sandbox status"""

from __future__ import annotations

import time

import typer

from sandbox.cli import ui
from sandbox.delivery.deploy import ignored_project_files
from sandbox.environment import envstate
from sandbox.environment.state import StateDir


def environment_line(name: str, env: envstate.EnvironmentState) -> str:
    """e.g. "Environment dsai-dev-mwaa: UPDATE_FAILED since 12:01:02 (requirements.txt: Because ...)"."""
    since = time.strftime("%H:%M:%S", time.localtime(env.since)) if env.since else "?"
    return f"Environment {name}: {env.state} since {since}" + (f" ({env.reason})" if env.reason else "")


def status(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="print JSON"),
    show_password: bool = typer.Option(False, "--show-password", help="print the Airflow admin password"),
) -> None:
    rt, choice = ctx.obj.runtime()
    rows = rt.status()
    password = None
    state = StateDir(rt.settings.state_dir)
    env = envstate.read(envstate.state_file(rt.settings))
    ignored = ignored_project_files(rt.settings)
    if show_password and state.password_file.exists():
        password = state.password_file.read_text().strip()
    if json_out:
        payload = {"runtime": choice.name, "project": str(rt.settings.project_dir),
                   "environment": env.summary() if env else None,
                   "services": [row.__dict__ for row in rows],
                   "warnings": [w.as_dict() for w in ignored]}
        if show_password:
            payload["admin_password"] = password
        ui.print_json(payload)
        return
    ui.console.print(f"Project {rt.settings.project_dir} · runtime {choice.name}")
    if env is not None:
        ui.console.print(environment_line(rt.settings.spec.name, env), markup=False)
    ui.console.print(ui.status_table(rows))
    for warning in ignored:
        ui.warning(warning.message)
    if show_password:
        ui.console.print(f"Airflow admin password: {password}" if password else
                         "No admin password yet: it is created by the first `sandbox up`.")
