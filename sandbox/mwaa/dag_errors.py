"""DAG import errors as MWAA 2.9.2 shows them: the Airflow UI's "Broken DAG" banner and the
DAGProcessing log group's per-file stream.

Facts used (Airflow 2.9.2 and aws/amazon-mwaa-docker-images): DagBag stores a file's import
error as the traceback limited to the last `core.dagbag_import_error_traceback_depth` (2)
frames; the UI flashes "Broken DAG: [<file>]" and the traceback; a file that runs longer than
`core.dagbag_import_timeout` (30 s) fails with "AirflowTaskTimeout: DagBag import timeout for
<file> after <n>s"; MWAA names each DAGProcessing stream "scheduler_" + Airflow's
log_processor_filename_template ("{{ filename }}.log") rendered with the file's base name.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

DEFAULT_IMPORT_TIMEOUT = 30.0  # core.dagbag_import_timeout
IMPORT_TIMEOUT_OPTION = "core.dagbag_import_timeout"
LOG_GROUP_SUFFIX = "DAGProcessing"
STREAM_PREFIX = "scheduler_"
# The pattern MWAA's log handler counts as a DagImportTimeout.
_TIMEOUT_RE = re.compile(r"airflow\.exceptions\.AirflowTaskTimeout: DagBag import timeout for .+ after")


@dataclass(frozen=True)
class FileParse:
    """What parsing one DAG file gave (as the helper reports it)."""

    path: str  # absolute path of the file
    dags: tuple[str, ...] = ()
    error: str | None = None  # the traceback DagBag stored, or None
    seconds: float = 0.0
    started: float = 0.0  # epoch seconds
    log: tuple[str, ...] = ()  # DagBag's own log lines and the file's output, formatted by Airflow
    pid: int = 0  # the process that parsed it

    @property
    def timed_out(self) -> bool:
        return bool(self.error and is_import_timeout(self.error))


@dataclass(frozen=True)
class ParseReport:
    files: tuple[FileParse, ...]
    import_timeout: float = DEFAULT_IMPORT_TIMEOUT
    environment: str = ""  # which Airflow environment parsed them
    notes: tuple[str, ...] = field(default=())

    @property
    def dag_ids(self) -> list[str]:
        return sorted(d for f in self.files for d in f.dags)

    @property
    def errors(self) -> list[FileParse]:
        return [f for f in self.files if f.error]

    @property
    def timeouts(self) -> list[FileParse]:
        return [f for f in self.files if f.timed_out]


def is_import_timeout(error: str) -> bool:
    return bool(_TIMEOUT_RE.search(error)) or "AirflowTaskTimeout: DagBag import timeout" in error


def exception_line(error: str) -> str:
    """The line that names the exception: the traceback's last non-blank line that is not a
    docs link (Airflow appends links after the timeout message)."""
    lines = [l for l in error.strip().splitlines() if l.strip()]
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout|Exit|Interrupt)\b", line):
            return line.strip()
    return lines[-1].strip() if lines else ""


def ui_banner(file: str, error: str) -> str:
    """What the Airflow 2.9 UI flashes on the DAGs page for a broken file (it separates the
    two parts with a carriage return, which the page shows as a line break)."""
    return f"Broken DAG: [{file}]\n{error.rstrip()}"


def stream_name(path: str, template: str = "{{ filename }}.log") -> str:
    """MWAA's DAGProcessing stream for a DAG file: scheduler_<basename>.log by default."""
    base = os.path.basename(path)
    return STREAM_PREFIX + template.replace("{{ filename }}", base).replace("{filename}", base)


def log_group(env_name: str) -> str:
    return f"airflow-{env_name}-{LOG_GROUP_SUFFIX}"


def _stamp(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def processor_lines(result: FileParse) -> list[tuple[float, str]]:
    """The file's DAGProcessing stream as the standalone DAG processor writes it: its own lines
    around the DagBag's (which reach it through stdout, hence the logging_mixin prefix)."""
    start, end = result.started, result.started + result.seconds

    def own(when: float, level: str, message: str) -> tuple[float, str]:
        return when, f"[{_stamp(when)}] {{processor.py}} {level} - {message}"

    lines = [own(start, "INFO", f"Started process (PID={result.pid}) to work on {result.path}"),
             own(start, "INFO", f"Processing file {result.path} for tasks to queue")]
    for text in result.log:
        lines.append((start, f"[{_stamp(start)}] {{logging_mixin.py}} INFO - {text}"))
    if not result.dags:
        lines.append(own(end, "WARNING", f"No viable dags retrieved from {result.path}"))
    lines.append(own(end, "INFO", f"Processing {result.path} took {result.seconds:.3f} seconds"))
    return lines


def import_timeout(options: dict[str, str]) -> float:
    """core.dagbag_import_timeout from AirflowConfigurationOptions, else Airflow's 30 s
    (0 or less: no limit, as in Airflow)."""
    raw = options.get(IMPORT_TIMEOUT_OPTION)
    try:
        value = float(raw) if raw is not None else DEFAULT_IMPORT_TIMEOUT
    except ValueError:
        return DEFAULT_IMPORT_TIMEOUT
    return max(value, 0.0)
