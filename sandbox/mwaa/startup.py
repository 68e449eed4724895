"""How MWAA runs a startup script (startup.sh), independent of how the sandbox runs it.

Learned from aws/amazon-mwaa-docker-images (images/airflow/2.9.2): the entrypoint runs
`/bin/bash execute-user-startup-script`, which aliases `exit` to a handler, `source`s the
user's script, then dumps the whole environment to JSON. The run is stopped with SIGTERM after
5 minutes minus a 5 s patience interval, then SIGKILL. Its output goes to the
`startup_script_execution_<host>_<epoch>.log` stream of the component's log group. The dumped
variables are merged into Airflow's environment, but MWAA's protected variables are put back
to MWAA's values afterwards: an override is dropped silently, with no message.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

MAX_EXECUTION_SECONDS = 300.0  # MWAA: 5 minutes in all
SIGTERM_PATIENCE_SECONDS = 5.0  # MWAA sends SIGTERM this long before the limit, then SIGKILL
STREAM_PREFIX = "startup_script_execution"
# Each MWAA component runs the script and logs it to its own group (the triggerer runs in the
# scheduler container); the sandbox runs it once, for all of them.
LOG_GROUP_SUFFIXES = ("Scheduler", "Worker", "WebServer")
DEFAULT_SCRIPT = "startup.sh"

PROTECTED_PREFIX = "MWAA__"
# MWAA's `_is_protected_os_environ` list (mwaa/config/setup_environment.py).
PROTECTED_VARIABLES = (
    "AIRFLOW_ENV_ID",
    "AIRFLOW_ENV_NAME",
    "AIRFLOW_HOME",
    "AIRFLOW_TASK_REVISION_ID",
    "AIRFLOW_VERSION",
    "AIRFLOW__AWS_MWAA__REDIRECT_URL",
    "JWT_PUBLIC_KEY",
    "AIRFLOW__WEBSERVER__BASE_URL",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "CUSTOMER_ACCOUNT_ID",
    "ECS_AGENT_URI",
    "ECS_CONTAINER_METADATA_URI",
    "ECS_CONTAINER_METADATA_URI_V4",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_EXECUTION_ENV",
    "PYTHONPATH",
    "PYTHONUNBUFFERED",
    "WATCHTOWER_VERSION",
)
# MWAA's essential variables and Airflow settings: applied last, whatever the script exports
# (mwaa/config/environ.py and mwaa/config/airflow.py, CeleryExecutor over SQS).
ESSENTIAL_VARIABLES = (
    "MWAA_AIRFLOW_COMPONENT",
    "MWAA_COMMAND",
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__LOGGING__LOGGING_CONFIG_CLASS",
    "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR",
    "AIRFLOW__WEBSERVER__CONFIG_FILE",
    "AIRFLOW__WEBSERVER__SECRET_KEY",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CELERY__WORKER_ENABLE_REMOTE_CONTROL",
    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT",
    "AIRFLOW__OPERATORS__DEFAULT_QUEUE",
)
ESSENTIAL_PREFIXES = ("AIRFLOW__METRICS__",)  # forced while CloudWatch metrics are on
# Bash's own bookkeeping: it changes these itself, they are not the script's exports.
SHELL_VARIABLES = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})

# Lines MWAA's wrapper and entrypoint write to the startup stream.
STARTING_LINE = "Executing customer startup script"
EXITING_LINE = "Exiting customer startup script"
ENV_FILE_MISSING = ("[ERROR] An unexpected error occurred: Failed to locate environment "
                    "variables file from startup script.")
# The name MWAA's wrapper gives its exit handler; a script defining its own breaks the capture.
EXIT_HANDLER = "handle_exit"


def is_protected(name: str) -> bool:
    """A variable the script cannot change for Airflow: MWAA's protected or essential ones."""
    return (name.startswith((PROTECTED_PREFIX, *ESSENTIAL_PREFIXES)) or name in PROTECTED_VARIABLES
            or name in ESSENTIAL_VARIABLES)


def exported_changes(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, str]:
    """Variables the script exported: new, or with a new value (unsets do not propagate on
    MWAA either: the dump is merged over the existing environment)."""
    return {k: v for k, v in after.items()
            if k not in SHELL_VARIABLES and before.get(k) != v}


def split_protected(changes: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """(what reaches Airflow, the protected names MWAA puts back)."""
    kept = {k: v for k, v in changes.items() if not is_protected(k)}
    return kept, sorted(k for k in changes if is_protected(k))


def parse_env0(data: bytes) -> dict[str, str]:
    """The output of `env -0`: NAME=value records separated by NUL bytes."""
    env = {}
    for record in data.decode("utf-8", "replace").split("\0"):
        name, sep, value = record.partition("=")
        if sep and name:
            env[name] = value
    return env


def sigterm_after(limit: float) -> float:
    """When the SIGTERM goes out: MWAA's patience interval before the limit (scaled down for
    the short limits tests use)."""
    return limit - min(SIGTERM_PATIENCE_SECONDS, limit / 10)


def stream_name(host: str, epoch: float) -> str:
    return f"{STREAM_PREFIX}_{host}_{epoch}.log"


def log_groups(env_name: str) -> list[str]:
    return [f"airflow-{env_name}-{suffix}" for suffix in LOG_GROUP_SUFFIXES]


@dataclass(frozen=True)
class LogLine:
    """One record of the startup stream, formatted like Airflow's log_format."""

    when: float  # epoch seconds
    message: str
    level: str = "INFO"

    def format(self) -> str:
        stamp = datetime.fromtimestamp(self.when, timezone.utc)
        text = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"
        return f"[{text}] {{subprocess.py}} {self.level} - {self.message}"


def timeout_message(ran_seconds: float, limit: float) -> str:
    return (f"Process timed out after running for more than {ran_seconds * 1000:.0f} milliseconds "
            f"when the maximum running time is {sigterm_after(limit) * 1000:.0f} milliseconds.")


def execution_time_message(seconds: float) -> str:
    return f"Startup script execution time: {seconds:.2f} seconds."


def has_crlf(script: bytes) -> bool:
    """Windows line endings: bash (on MWAA too) keeps the \r as the last character of each line."""
    return b"\r\n" in script


def carriage_return_names(exported: Mapping[str, str]) -> list[str]:
    """The exported variables whose value ends in a carriage return (a CRLF script's exports)."""
    return sorted(name for name, value in exported.items() if value.endswith("\r"))


def crlf_message(script_name: str, affected: list[str]) -> str:
    """One line; names the affected variables, never their values (exports may be credentials)."""
    here = f" (here {', '.join(affected)}: as if {affected[0]}='...\\r')" if affected else ""
    return (f"{script_name} has Windows (CRLF) line endings: on MWAA bash runs it as it is, so every "
            f"exported value ends in a carriage return{here} and so does each command's last "
            "argument; convert it with dos2unix")


def protected_message(names: list[str]) -> str:
    return (f"the startup script sets {', '.join(names)}, which MWAA protects: MWAA restores "
            f"{'its value' if len(names) == 1 else 'their values'} and the override never reaches Airflow")


def wrapper_script(script: Path, before: Path, after: Path, status: Path) -> str:
    """Bash that runs the script the way MWAA's execute-user-startup-script does (exit aliased
    to a handler, the script sourced), recording the environment before and after and the
    status the script asked for."""
    q = shlex.quote
    return "\n".join([
        "exec 2>&1  # MWAA reads stderr and stdout as one stream",
        f"env -0 > {q(str(before))}",
        f"echo {q(STARTING_LINE)}",
        f"{EXIT_HANDLER}() {{",
        "    local status=$?",
        '    [ $# -gt 0 ] && status=$1',
        f"    echo {q(EXITING_LINE)}",
        f"    printf '%s' \"$status\" > {q(str(status))}",
        f"    env -0 > {q(str(after))}",
        "    unalias exit",
        '    builtin exit "$status"',
        "}",
        "shopt -s expand_aliases",
        f"alias exit={EXIT_HANDLER}",
        f"source {q(str(script))}",
        EXIT_HANDLER,
        "",
    ])
