"""Ship the Airflow components' logs to the emulated CloudWatch groups, named as MWAA names them.

MWAA streams: scheduler_<host>_<epoch>.log and triggerer_... in -Scheduler, webserver_... in
-WebServer, dag_processor_manager_... and one scheduler_<dag file>.log per DAG file in
-DAGProcessing. LoggingConfiguration decides per type whether a group gets lines and from which
level. Task logs do not pass here: Airflow's own CloudWatch handler writes them (-Task).
Run as `python -m sandbox.logship --project DIR`; offsets persist, so a restart never re-sends.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sandbox.mwaa.dag_errors import stream_name as dag_file_stream
from sandbox.mwaa.logs import LOG_GROUP_SUFFIXES, log_group
from sandbox.environment.state import StateDir
from sandbox.settings import Settings

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LEVEL = re.compile(r"\}\s+(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+-\s")
_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)[.,](\d{3})")
MAX_BATCH = 5000  # well under CloudWatch's 10,000 events / 1 MB per PutLogEvents


@dataclass(frozen=True)
class Source:
    path: Path
    log_type: str  # a LoggingConfiguration key, e.g. SchedulerLogs
    stream: str

    def group(self, env_name: str) -> str:
        return log_group(env_name, LOG_GROUP_SUFFIXES[self.log_type])


def _log_type(component: str) -> str | None:
    """Which LoggingConfiguration type a component's log belongs to (the triggerer writes to
    the Scheduler group on MWAA)."""
    if component.startswith("scheduler") or component == "triggerer":
        return "SchedulerLogs"
    if component.startswith("worker-"):
        return "WorkerLogs"
    return {"webserver": "WebserverLogs", "dag-processor": "DagProcessingLogs"}.get(component)


def _stream(component: str, host: str, epoch: int) -> str:
    """MWAA's <component>_<host>_<epoch>.log; each local worker stands for a host of its own (the
    hostname its tasks report)."""
    if component.startswith("worker-"):
        return f"worker_airflow-{component}.{host}_{epoch}.log"
    name = "dag_processor_manager" if component == "dag-processor" else component.replace("-", "_")
    return f"{name}_{host}_{epoch}.log"


def sources(settings: Settings, host: str, epoch: int) -> list[Source]:
    state = StateDir(settings.state_dir)
    found = []
    for log in sorted(state.logs.glob("airflow-*.log")):
        component = log.stem.removeprefix("airflow-")
        kind = _log_type(component)
        if kind:
            found.append(Source(log, kind, _stream(component, host, epoch)))
    per_file = state.airflow_home / "logs" / "scheduler" / "latest"
    if per_file.is_dir():
        for log in sorted(per_file.rglob("*.log")):
            found.append(Source(log, "DagProcessingLogs", dag_file_stream(log.name[:-len(".log")])))
    return found


def parse_lines(text: str, minimum: int, now_ms: int, carry: int = 20) -> tuple[list[dict], int]:
    """CloudWatch events from log lines at or above `minimum`; a line without a level (a traceback,
    a continuation) follows the line before it. Returns the events and the last level seen."""
    events, level = [], carry
    for raw in text.splitlines():
        line = _ANSI.sub("", raw).rstrip()
        if not line:
            continue
        found = _LEVEL.search(line)
        if found:
            level = LEVELS[found.group(1)]
        if level >= minimum:
            events.append({"timestamp": _timestamp(line, now_ms), "message": line})
    return events, level


def _timestamp(line: str, default: int) -> int:
    found = _STAMP.match(line)
    if not found:
        return default
    moment = datetime.strptime(f"{found.group(1)} {found.group(2)}", "%Y-%m-%d %H:%M:%S")
    return int(moment.replace(tzinfo=timezone.utc).timestamp() * 1000) + int(found.group(3))


class Shipper:
    def __init__(self, settings: Settings, logs_client, host: str | None = None, epoch: int | None = None):
        self.settings = settings
        self.logs = logs_client
        self.host = host or socket.gethostname()
        self.epoch = epoch or int(time.time())
        self.state_file = settings.state_dir / "logship.json"
        saved = self._load()
        self.offsets: dict[str, int] = saved.get("offsets", {})
        self.levels: dict[str, int] = saved.get("levels", {})
        self.streams: set[tuple[str, str]] = set()
        self.passes = 0
        self.shipped = int(saved.get("shipped", 0))

    def _load(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _save(self, error: str | None = None) -> None:
        payload = {"pid": os.getpid(), "passes": self.passes, "shipped": self.shipped, "error": error,
                   "offsets": self.offsets, "levels": self.levels, "at": time.time()}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload))
        tmp.replace(self.state_file)

    def pass_once(self) -> int:
        sent = 0
        for source in sources(self.settings, self.host, self.epoch):
            setting = self.settings.spec.logging.get(source.log_type)
            if setting is None or not setting.enabled:
                continue
            sent += self._ship(source, LEVELS[setting.level])
        self.passes += 1
        self.shipped += sent
        self._save()
        return sent

    def _ship(self, source: Source, minimum: int) -> int:
        key = str(source.path)
        try:
            size = source.path.stat().st_size
        except OSError:
            return 0
        offset = self.offsets.get(key, 0)
        if size < offset:
            offset = 0  # the file was truncated or replaced
        with open(source.path, "rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a half-written last line waits for the next pass
        if not complete:
            return 0
        events, self.levels[key] = parse_lines(complete.decode("utf-8", "replace"), minimum,
                                               int(time.time() * 1000), self.levels.get(key, 20))
        if events:
            self._put(source.group(self.settings.spec.name), source.stream, events)
        self.offsets[key] = offset + len(complete)
        return len(events)

    def _put(self, group: str, stream: str, events: list[dict]) -> None:
        if (group, stream) not in self.streams:
            try:
                self.logs.create_log_stream(logGroupName=group, logStreamName=stream)
            except self.logs.exceptions.ResourceAlreadyExistsException:
                pass
            self.streams.add((group, stream))
        events.sort(key=lambda e: e["timestamp"])  # PutLogEvents wants chronological order
        for i in range(0, len(events), MAX_BATCH):
            self.logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[i:i + MAX_BATCH])

    def run(self, interval: float, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.pass_once()
            except Exception as exc:  # keep shipping; the status file says what went wrong
                self._save(error=f"{type(exc).__name__}: {exc}")
                print(f"logship: {type(exc).__name__}: {exc}", flush=True)
            stop.wait(interval)
        self.pass_once()  # what was written while we were asked to stop


def main(argv: list[str] | None = None) -> int:
    from sandbox.probes import bypass_proxy_for_loopback
    from sandbox.services import aws
    from sandbox.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m sandbox.logship")
    parser.add_argument("--project", required=True)
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args(argv)
    bypass_proxy_for_loopback(os.environ)
    settings = load_settings(Path(args.project))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"logship: every {args.interval:g} s, .sandbox/logs -> airflow-{settings.spec.name}-*", flush=True)
    Shipper(settings, aws.client(settings, "logs")).run(args.interval, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
