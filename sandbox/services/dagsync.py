"""The S3 -> dags sync loop as a native process (what MWAA does between the bucket and Airflow).

Started after the AWS emulator is bootstrapped; ready once its status file shows a completed
pass written by the running process (a file left by an earlier run does not count).
"""

from __future__ import annotations

import sys

from sandbox.delivery import s3sync
from sandbox.probes import CallableProbe
from sandbox.proc import Command
from sandbox.services import aws, containers
from sandbox.services.base import ProcessSpec, child_env
from sandbox.settings import Settings

NAME = "dagsync"


def _first_pass_done(settings: Settings) -> None:
    status = s3sync.read_status(s3sync.status_file(settings))
    if not s3sync.is_live(status):
        raise RuntimeError("no status from the running sync process yet")
    if not status.get("passes"):
        error = status.get("last_error")
        raise RuntimeError("no completed pass yet" + (f"; last error: {error}" if error else ""))


def process(settings: Settings, interval: float | None = None) -> ProcessSpec:
    # The child resolves its Settings again: pin what it must agree on through the environment,
    # which wins over mwaa.yaml (command-line overrides of the parent would otherwise be lost).
    # All of them: an environment update (started by this process) restarts Airflow with them.
    env = child_env(settings)
    seconds = interval if interval is not None else settings.dag_sync_interval
    cmd = Command.of(sys.executable, "-m", "sandbox.delivery.syncd", "--project", settings.project_dir,
                     "--interval", f"{seconds:g}", env=env)
    probe = CallableProbe(f"a first S3 -> dags sync pass ({s3sync.status_file(settings)})",
                          lambda: _first_pass_done(settings))
    return ProcessSpec(NAME, cmd, probe, (NAME,), stop_grace=10.0)


def compose_services(inputs: containers.RenderInputs) -> dict[str, dict]:
    """The same loop in a sidecar, pointed at the emulator by its service name, writing its status
    into the project's state folder; `up` applies environment updates (--container)."""
    s = inputs.settings
    check = ("import sys; from pathlib import Path; from sandbox.delivery import s3sync; "
             "st = s3sync.read_status(Path(sys.argv[1])); sys.exit(0 if s3sync.is_live(st) and st.get('passes') else 1)")
    dags = f"{containers.AIRFLOW_HOME}/dags"
    return {NAME: {
        "image": inputs.images.tools,
        "command": ["python", "-m", "sandbox.delivery.syncd", "--project", "/project", "--container",
                    "--target", dags, "--interval", f"{s.dag_sync_interval:g}"],
        "environment": containers.sidecar_env(s, aws.PORT.container),
        "volumes": [*containers.project_mounts(s), f"dags:{dags}"],
        "depends_on": {aws.NAME: {"condition": "service_healthy"}},
        "healthcheck": containers.health(["CMD", "python", "-c", check, "/project/.sandbox/dagsync.json"],
                                         interval="2s"),
    }}
