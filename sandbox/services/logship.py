"""The log shipper process: Airflow component logs -> the emulated CloudWatch groups."""

from __future__ import annotations

import json
import sys
import time

from sandbox.probes import CallableProbe
from sandbox.proc import Command
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
