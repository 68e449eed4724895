"""The requirements log into the emulated CloudWatch Logs, as MWAA publishes it.

MWAA writes the install log of each worker and scheduler into a `requirements_install_*`
stream of the Worker and Scheduler groups. We do the same when the sandbox's AWS emulator
answers and holds the environment's groups (`sandbox up` creates them); otherwise we skip.
"""

from __future__ import annotations

import socket
import time

from sandbox.mwaa.logs import log_group
from sandbox.services import aws
from sandbox.settings import Settings

GROUP_SUFFIXES = ("Worker", "Scheduler")
_BATCH = 1000  # events per PutLogEvents call (the API allows 10,000)


def stream_name(host: str | None = None, epoch: int | None = None) -> str:
    host = host or socket.gethostname()
    return f"requirements_install_{host}_{int(time.time()) if epoch is None else epoch}.log"


def _emulator_answers(settings: Settings) -> bool:
    try:
        with socket.create_connection((settings.host, settings.aws_port), timeout=1.0):
            return True
    except OSError:
        return False


def publish(settings: Settings, lines: list[str]) -> dict | None:
    """Put the log into both groups; None when the sandbox is not running (nothing written)."""
    if not _emulator_answers(settings):
        return None
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        logs = aws.client(settings, "logs")
        prefix = f"airflow-{settings.spec.name}-"
        present = {g["logGroupName"] for g in logs.describe_log_groups(
            logGroupNamePrefix=prefix).get("logGroups", [])}
        groups = [log_group(settings.spec.name, s) for s in GROUP_SUFFIXES]
        groups = [g for g in groups if g in present]
        if not groups:
            return None
        stream = stream_name()
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in lines if line.strip()]
        for group in groups:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            for start in range(0, len(events), _BATCH):
                logs.put_log_events(logGroupName=group, logStreamName=stream,
                                    logEvents=events[start:start + _BATCH])
    except (BotoCoreError, ClientError, OSError):
        return None  # an emulator that does not answer like ours: not the sandbox
    return {"stream": stream, "groups": groups, "events": len(events)}
