"""The S3 -> dags sync loop as a native process (what MWAA does between the bucket and Airflow).

Started after the AWS emulator is bootstrapped; ready once its status file shows a completed
pass written by the running process (a file left by an earlier run does not count).
"""

from __future__ import annotations

import os
import sys

from sandbox.delivery import s3sync
from sandbox.probes import CallableProbe
from sandbox.proc import Command
from sandbox.services.base import ProcessSpec
from sandbox.settings import Settings, env_var

SETTING_NAMES = ("host", "aws_region", "python", "airflow_port", "postgres_port", "kafka_port",
                 "elasticsearch_port", "aws_port", "mwaa_data_dir", "cache_dir", "start_timeout",
                 "startup_timeout", "dag_sync_interval", "offline")

NAME = "dagsync"


def _first_pass_done(settings: Settings) -> None:
    status = s3sync.read_status(s3sync.status_file(settings))
    if not s3sync.is_live(status):
        raise RuntimeError("no status from the running sync process yet")
    if not status.get("passes"):
        error = status.get("last_error")
        raise RuntimeError("no completed pass yet" + (f"; last error: {error}" if error else ""))


def pinned_settings(settings: Settings) -> dict[str, str]:
    """Every resolved setting as its SANDBOX_* variable (runtime excepted: the child is native)."""
    pinned = {}
    for name in SETTING_NAMES:
        value = getattr(settings, name)
        if value is not None:
            pinned[env_var(name)] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return pinned


def process(settings: Settings, interval: float | None = None) -> ProcessSpec:
    # The child resolves its Settings again: pin what it must agree on through the environment,
    # which wins over mwaa.yaml (command-line overrides of the parent would otherwise be lost).
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # All of them: an environment update (started by this process) restarts Airflow with them.
    env.update(pinned_settings(settings))
    env["PYTHONUNBUFFERED"] = "1"
    seconds = interval if interval is not None else settings.dag_sync_interval
    cmd = Command.of(sys.executable, "-m", "sandbox.delivery.syncd", "--project", settings.project_dir,
                     "--interval", f"{seconds:g}", env=env)
    probe = CallableProbe(f"a first S3 -> dags sync pass ({s3sync.status_file(settings)})",
                          lambda: _first_pass_done(settings))
    return ProcessSpec(NAME, cmd, probe, (NAME,), stop_grace=10.0)
