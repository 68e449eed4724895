"""sandbox down / sandbox reset"""

from __future__ import annotations

import typer

from sandbox.cli import ui


def down(ctx: typer.Context) -> None:
    rt, _ = ctx.obj.runtime(ui.ConsoleProgress())
    stopped = rt.down()
    if stopped:
        what = "service(s)" if rt.name == "compose" else "process(es)"
        kept = "Docker volumes" if rt.name == "compose" else str(rt.settings.state_dir)
        ui.console.print(f"Stopped {len(stopped)} {what}; data kept in {kept} (`sandbox reset` removes it).")
    else:
        ui.console.print(f"Nothing is running for {rt.settings.project_dir}.")


def reset(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation"),
) -> None:
    rt, _ = ctx.obj.runtime(ui.ConsoleProgress())
    target = rt.settings.state_dir
    if not yes and not typer.confirm(f"Stop the sandbox and delete {target} (database, logs, data)?"):
        ui.console.print("Nothing was changed.")
        raise typer.Exit(1)
    rt.reset()
    ui.console.print(f"Reset: {target} removed.")
