"""Parses DAG files with Airflow's DagBag, one file at a time as the DAG processor does.

Runs inside the Airflow environment's Python (it imports airflow, never the sandbox package):
    python -P parse_helper.py DAG_FOLDER OUTPUT.json
and writes {"airflow_version": ..., "import_timeout": ..., "files": [{path, dags, error,
seconds, started, log}]} to OUTPUT.json (stdout is left to whatever the DAG files print).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import time


class _Capture(logging.Handler):
    """Keeps the log lines DagBag writes while it parses one file, in Airflow's format."""

    def __init__(self, formatter: logging.Formatter):
        super().__init__(logging.INFO)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _formatter() -> logging.Formatter:
    from airflow.configuration import conf

    fmt = conf.get("logging", "log_format")
    try:
        from airflow.utils.log.timezone_aware import TimezoneAware

        return TimezoneAware(fmt)
    except ImportError:
        return logging.Formatter(fmt)


def parse_file(path: str, safe_mode: bool, formatter: logging.Formatter) -> dict:
    from airflow.models.dagbag import DagBag

    capture = _Capture(formatter)
    root = logging.getLogger()
    console, root.handlers = root.handlers, [capture]  # only the capture, no console copy
    printed = io.StringIO()
    started = time.time()
    error = None
    dags: list[str] = []
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            bag = DagBag(dag_folder=path, include_examples=False, safe_mode=safe_mode)
        dags = sorted(bag.dag_ids)
        error = next(iter(bag.import_errors.values()), None)
    except BaseException as exc:  # a DAG file calling sys.exit() must not end the whole parse
        import traceback

        error = "".join(traceback.format_exception(exc, limit=-2))
    finally:
        root.handlers = console
    seconds = time.time() - started
    lines = capture.lines + [l for l in printed.getvalue().splitlines() if l.strip()]
    return {"path": path, "dags": dags, "error": error, "seconds": seconds, "started": started,
            "pid": os.getpid(), "log": lines}


def main(argv: list[str]) -> int:
    dag_folder, output = argv[1], argv[2]
    import airflow
    from airflow import settings
    from airflow.configuration import conf
    from airflow.utils.file import list_py_file_paths

    safe_mode = conf.getboolean("core", "dag_discovery_safe_mode")
    formatter = _formatter()
    files = list_py_file_paths(dag_folder, safe_mode=safe_mode, include_examples=False)
    results = [parse_file(path, safe_mode, formatter) for path in sorted(files)]
    payload = {"airflow_version": airflow.__version__,
               "import_timeout": settings.get_dagbag_import_timeout(dag_folder),
               "files": results}
    with open(output, "w") as fh:
        json.dump(payload, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
