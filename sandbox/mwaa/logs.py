"""CloudWatch Logs names as MWAA uses them."""

from __future__ import annotations

# LoggingConfiguration key -> log group suffix.
LOG_GROUP_SUFFIXES = {
    "DagProcessingLogs": "DAGProcessing",
    "SchedulerLogs": "Scheduler",
    "TaskLogs": "Task",
    "WebserverLogs": "WebServer",
    "WorkerLogs": "Worker",
}


def log_group(env_name: str, suffix: str) -> str:
    return f"airflow-{env_name}-{suffix}"


def log_groups(env_name: str) -> list[str]:
    return [log_group(env_name, s) for s in LOG_GROUP_SUFFIXES.values()]
