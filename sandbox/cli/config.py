"""sandbox config show"""

from __future__ import annotations

from dataclasses import asdict

import typer
from rich.table import Table

from sandbox.cli import ui
from sandbox.mwaa.airflow_config import derive


def show(ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    settings = ctx.obj.settings()
    values = {name: getattr(settings, name) for name in settings.sources}
    derived = derive(settings.spec)
    if json_out:
        spec = asdict(settings.spec)
        ui.print_json({"project": str(settings.project_dir), "state_dir": str(settings.state_dir),
                       "settings": {n: {"value": v, "source": settings.sources[n]} for n, v in values.items()},
                       "spec": spec, "airflow_config": derived.options,
                       "ignored_airflow_options": derived.ignored})
        return
    table = Table(title=f"settings for {settings.project_dir}", title_justify="left")
    for column in ("setting", "value", "source"):
        table.add_column(column)
    for name, value in values.items():
        table.add_row(name, str(value), settings.sources[name])
    ui.console.print(table)
    spec = settings.spec
    ui.console.print(f"Environment {spec.name}: Airflow {spec.airflow_version}, {spec.environment_class}, "
                     f"{spec.schedulers} schedulers, workers {spec.min_workers}-{spec.max_workers}, "
                     f"web servers {spec.min_webservers}-{spec.max_webservers}, {spec.webserver_access_mode} "
                     f"(from {spec.source})")
    for key in derived.ignored:
        ui.console.print(f"[yellow]![/] AirflowConfigurationOptions.{key} is set by MWAA and cannot be overridden")
