"""sandbox status"""

from __future__ import annotations

import typer

from sandbox.cli import ui
from sandbox.runtime.state import StateDir


def status(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="print JSON"),
    show_password: bool = typer.Option(False, "--show-password", help="print the Airflow admin password"),
) -> None:
    rt, choice = ctx.obj.runtime()
    rows = rt.status()
    password = None
    state = StateDir(rt.settings.state_dir)
    if show_password and state.password_file.exists():
        password = state.password_file.read_text().strip()
    if json_out:
        payload = {"runtime": choice.name, "project": str(rt.settings.project_dir),
                   "services": [row.__dict__ for row in rows]}
        if show_password:
            payload["admin_password"] = password
        ui.print_json(payload)
        return
    ui.console.print(f"Project {rt.settings.project_dir} · runtime {choice.name}")
    ui.console.print(ui.status_table(rows))
    if show_password:
        ui.console.print(f"Airflow admin password: {password}" if password else
                         "No admin password yet: it is created by the first `sandbox up`.")
