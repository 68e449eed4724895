"""The log shipper process: Airflow component logs -> the emulated CloudWatch groups."""

from __future__ import annotations

import json
import sys
import time

from sandbox.probes import CallableProbe
from sandbox.proc import Command
from sandbox.services import aws, containers
from sandbox.services.base import ProcessSpec, child_env
from sandbox.settings import Settings

NAME = "logship"


def _first_pass_done(settings: Settings, since: float) -> None:
    status = json.loads((settings.state_dir / "logship.json").read_text())
    if status.get("passes", 0) < 1 or status.get("at", 0) < since:  # a pass by this process
        raise RuntimeError(status.get("error") or "no pass yet")


def process(settings: Settings) -> ProcessSpec:
    env = child_env(settings)
    since = time.time()
    cmd = Command.of(sys.executable, "-m", "sandbox.logship", "--project", settings.project_dir, env=env)
    probe = CallableProbe("a first log shipping pass", lambda: _first_pass_done(settings, since))
    return ProcessSpec(NAME, cmd, probe, (NAME,), stop_grace=10.0)


def compose_services(inputs: containers.RenderInputs) -> dict[str, dict]:
    """The same shipper in a sidecar: it finds each component's output and the per-DAG-file logs
    where it looks for them natively."""
    s = inputs.settings
    check = ("import json, sys, time; st = json.load(open(sys.argv[1])); "
             "sys.exit(0 if st.get('passes', 0) >= 1 and st.get('at', 0) > time.time() - 60 else 1)")
    return {NAME: {
        "image": inputs.images.tools,
        "command": ["python", "-m", "sandbox.logship", "--project", "/project"],
        "environment": containers.sidecar_env(s, aws.PORT.container),
        # Airflow's `latest` link is absolute: the logs also where Airflow wrote them
        "volumes": [*containers.project_mounts(s), "component-logs:/project/.sandbox/logs:ro",
                    "airflow-logs:/project/.sandbox/airflow/logs:ro", f"airflow-logs:{containers.AIRFLOW_HOME}/logs:ro"],
        "depends_on": {aws.NAME: {"condition": "service_healthy"}},
        "healthcheck": containers.health(["CMD", "python", "-c", check, "/project/.sandbox/logship.json"],
                                         interval="3s"),
    }}
