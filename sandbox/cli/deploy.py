"""sandbox deploy [--watch] [--json] [--dry-run] [--dags-dir DIR] [--strict]"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import typer

from sandbox.cli import ui
from sandbox.delivery.deploy import DeployOptions, DeployReport, deploy_project
from sandbox.delivery.watch import watch as watch_loop
from sandbox.errors import SandboxError


def _show(report: DeployReport) -> None:
    p = report.plan
    verb = "Would deploy" if report.dry_run else "Deployed"
    ui.console.print(f"{verb} to s3://{report.bucket}/: {len(p.uploads)} uploaded, {len(p.deletes)} deleted, "
                     f"{len(p.unchanged)} unchanged ({report.seconds:.1f} s)")
    if report.dry_run:
        for f in p.uploads:
            ui.console.print(f"  upload  {f.key}", markup=False)
        for key in p.deletes:
            ui.console.print(f"  delete  {key}", markup=False)
    for v in report.versions:
        if v.delete_marker:
            ui.console.print(f"  deleted   {v.key}  delete marker {v.version_id}", markup=False)
        else:
            kms = f"  {v.encryption} {v.kms_key_id}" if v.encryption else ""
            ui.console.print(f"  uploaded  {v.key}  version {v.version_id}{kms}", markup=False)
    for w in report.warnings:
        ui.warning(w.message)


def _emit(report: DeployReport | None, error: SandboxError | None, json_out: bool) -> None:
    stamp = time.strftime("%H:%M:%S")
    if error is not None:
        if json_out:
            sys.stdout.write(json.dumps({"time": stamp, "error": error.one_line()}) + "\n")
            sys.stdout.flush()
        else:
            ui.error(f"{stamp} {error.one_line()} (still watching)")
        return
    if json_out:  # one JSON document per line while watching
        sys.stdout.write(json.dumps({"time": stamp, **report.as_dict()}, default=str) + "\n")
        sys.stdout.flush()
        return
    ui.console.print(f"[dim]{stamp}[/] ", end="")
    _show(report)


def _watch(settings, options: DeployOptions, json_out: bool) -> None:
    stop = threading.Event()
    if not json_out:
        ui.err_console.print(f"[cyan]•[/] watching {options.dags_dir or settings.project_dir} "
                             "(every 1 s); Ctrl-C stops")
    try:
        count = watch_loop(settings, options, stop, lambda r, e: _emit(r, e, json_out))
    except KeyboardInterrupt:  # the normal way out of --watch
        stop.set()
        count = None
    if not json_out:
        ui.err_console.print("stopped watching" + (f" after {count} deploy(s)" if count else ""))


def deploy(
    ctx: typer.Context,
    watch: bool = typer.Option(False, "--watch", "-w", help="redeploy on every local change until Ctrl-C"),
    json_out: bool = typer.Option(False, "--json", help="print JSON (one line per deploy with --watch)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would change; upload nothing"),
    dags_dir: str = typer.Option(None, "--dags-dir",
                                 help="the local folder synced to DagS3Path (default PROJECT/DagS3Path)"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 when there are warnings (for CI)"),
) -> None:
    """Upload the project to the emulated bucket where mwaa.yaml's S3 paths say."""
    settings = ctx.obj.settings()
    folder = Path(dags_dir).expanduser().resolve() if dags_dir else None
    options = DeployOptions(dags_dir=folder, dry_run=dry_run)
    if watch:
        _watch(settings, options, json_out)
        return
    report = deploy_project(settings, options)
    if json_out:
        ui.print_json(report.as_dict())
    else:
        _show(report)
    if strict and report.warnings:
        raise typer.Exit(1)
