"""The supervisor process (native runtime): restarts Airflow components and helpers that exit."""

from __future__ import annotations

import sys

from sandbox.probes import CallableProbe
from sandbox.proc import Command
from sandbox.services.base import ProcessSpec, child_env
from sandbox.settings import Settings

NAME = "supervisor"


def process(settings: Settings) -> ProcessSpec:
    cmd = Command.of(sys.executable, "-m", "sandbox.runtime.supervise", "--project", settings.project_dir,
                     env=child_env(settings))
    # nothing to wait for: it only watches; `_wait` still notices an immediate exit
    probe = CallableProbe("the supervisor process", lambda: None)
    return ProcessSpec(NAME, cmd, probe, (NAME,), stop_grace=5.0)
