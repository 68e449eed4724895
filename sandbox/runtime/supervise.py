"""Supervision on the native runtime, as MWAA replaces a failed container: an Airflow component
(or a sandbox helper) that exits is started again; one that keeps crashing is given up on, with a
clear state. Run as `python -m sandbox.runtime.supervise --project DIR` (started by `up`).

It leaves Airflow alone while the environment is not AVAILABLE (an update or `up` is starting and
stopping it) and is stopped first by `down`, so it never restarts what is being stopped.
What it saw is kept in .sandbox/supervisor.json for `status`: restarts and the last exit reason.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from sandbox.environment import envstate
from sandbox.environment.state import StateDir
from sandbox.mwaa.autoscale import DEMAND_SQL, Autoscaler
from sandbox.proc import ProcessRecord, is_alive, tail

STATUS_FILE = "supervisor.json"
SCALING_FILE = "autoscaling.json"  # the workers autoscaling runs and why, for `status`
INTERVAL = 2.0  # seconds between checks
MAX_RESTARTS = 5  # within WINDOW seconds; one more crash and the component is given up on
WINDOW = 600.0


@dataclass
class Component:
    restarts: int = 0
    last_exit: str = ""
    last_exit_at: float = 0.0
    recent: list[float] = field(default_factory=list)  # restart times inside the window
    gave_up: bool = False


def read_status(state: StateDir) -> dict[str, Component]:
    try:
        raw = json.loads((state.root / STATUS_FILE).read_text())
        return {name: Component(**value) for name, value in raw.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def write_status(state: StateDir, components: dict[str, Component]) -> None:
    path = state.root / STATUS_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({name: asdict(c) for name, c in components.items()}, indent=2))
    tmp.replace(path)


def exit_reason(log: Path) -> str:
    """Not the parent of what `up` started, so no exit code: the component's last log line says why."""
    lines = [l.strip() for l in tail(log, 5).splitlines() if l.strip()] if log.exists() else []
    return f"exited; last log line: {lines[-1][:200]}" if lines else "exited without a log line (killed?)"


class Supervisor:
    """One check: every supervised process recorded but no longer alive is restarted (spawn),
    unless it crashed MAX_RESTARTS times within WINDOW seconds."""

    def __init__(self, state: StateDir, supervised: list[str], spawn: Callable[[str], ProcessRecord],
                 available: Callable[[], bool], log: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.time):
        self.state, self.supervised, self.spawn = state, supervised, spawn
        self.available, self.log, self.clock = available, log, clock
        self.components = read_status(state)

    def check(self) -> list[str]:
        """Returns the names restarted."""
        if not self.available():
            return []
        records = self.state.load_registry()
        restarted = [name for name in self.supervised
                     if name in records and not is_alive(records[name]) and self._restart(name)]
        write_status(self.state, self.components)
        return restarted

    def _restart(self, name: str) -> bool:
        component = self.components.setdefault(name, Component())
        if component.gave_up:
            return False
        now = self.clock()
        component.last_exit, component.last_exit_at = exit_reason(self.state.log_file(name)), now
        component.recent = [t for t in component.recent if now - t < WINDOW]
        if len(component.recent) >= MAX_RESTARTS:
            component.gave_up = True
            self.log(f"supervisor: {name} crashed {MAX_RESTARTS + 1} times within {WINDOW:.0f} s: "
                     f"not restarting it ({component.last_exit})")
            return False
        self.log(f"supervisor: {name} {component.last_exit}: restarting it")
        self.spawn(name)
        component.restarts += 1
        component.recent.append(now)
        return True


class WorkerScaling:
    """MWAA's worker autoscaling each check: the autoscaler's target from the tasks running or
    queued; workers added in name order, the extra ones (highest first) stopped when idle."""

    def __init__(self, state: StateDir, autoscaler: Autoscaler, names: list[str], demand: Callable[[], int],
                 start: Callable[[str], object], stop: Callable[[str], None],
                 current: Callable[[], set[str]] | None = None,
                 log: Callable[[str], None] = print, clock: Callable[[], float] = time.time):
        self.state, self.autoscaler, self.names = state, autoscaler, names
        self.demand, self.start, self.stop, self.log, self.clock = demand, start, stop, log, clock
        # the workers there are (native: recorded, alive or being restarted; compose: containers)
        self.current = current or (lambda: set(self.state.load_registry()))

    def check(self) -> int:
        """Returns the number of workers after the check."""
        there = self.current()
        current = [n for n in self.names if n in there]
        decision = self.autoscaler.decide(self.demand(), len(current), self.clock())
        if not decision.reason:
            return len(current)
        if decision.target > len(current):
            for name in [n for n in self.names if n not in current][:decision.target - len(current)]:
                self.log(f"autoscaling: {decision.reason}: starting {name}")
                self.start(name)
        else:
            for name in reversed(current[decision.target:]):
                self.log(f"autoscaling: {decision.reason}: stopping {name}")
                self.stop(name)
        write_scaling(self.state, decision.target, decision.reason, self.clock())
        return decision.target


def worker_scaling(settings, state: StateDir, start: Callable[[str], object], stop: Callable[[str], None],
                   current: Callable[[], set[str]] | None = None,
                   log: Callable[[str], None] = print) -> WorkerScaling | None:
    """MWAA's autoscaling between the worker bounds (either runtime supplies start and stop),
    or None when there is nothing to scale."""
    from sandbox.services import postgres, workers

    low, high = workers.bounds(settings)
    if high <= low:
        return None
    scaler = Autoscaler(settings.spec.env_class.tasks_per_worker, low, high, settings.scale_down_after)
    demand = lambda: int(postgres.sql(settings, DEMAND_SQL, timeout=10).strip() or 0)  # noqa: E731
    return WorkerScaling(state, scaler, workers.all_names(settings), demand, start, stop, current, log)


def write_scaling(state: StateDir, workers: int, reason: str, at: float) -> None:
    path = state.root / SCALING_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"workers": workers, "reason": reason, "at": at}))
    tmp.replace(path)


def read_scaling(state: StateDir) -> dict:
    try:
        return json.loads((state.root / SCALING_FILE).read_text())
    except (OSError, ValueError):
        return {}


def main(argv: list[str] | None = None) -> int:
    from sandbox.errors import SandboxError
    from sandbox.probes import bypass_proxy_for_loopback
    from sandbox.runtime.select import make_runtime
    from sandbox.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m sandbox.runtime.supervise")
    parser.add_argument("--project", required=True)
    args = parser.parse_args(argv)
    bypass_proxy_for_loopback(os.environ)
    try:
        runtime, _ = make_runtime(load_settings(Path(args.project)))  # the runtime the sandbox runs on
    except SandboxError as exc:
        print(f"Error: {exc.one_line()}", file=sys.stderr, flush=True)
        return exc.exit_code
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    path = envstate.state_file(runtime.settings)
    available = lambda: (envstate.read(path) or envstate.EnvironmentState("")).state == envstate.AVAILABLE  # noqa: E731
    log = lambda line: print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)  # noqa: E731
    supervisor = Supervisor(runtime.state, runtime.supervised_names(), runtime.respawn, available, log=log)
    checks: list[Callable[[], object]] = [supervisor.check]
    scaling = runtime.worker_scaling(log)
    if scaling is not None:
        checks.append(lambda: available() and scaling.check())
    print(f"supervisor: watching {', '.join(supervisor.supervised)} (pid {os.getpid()})", flush=True)
    while not stop.wait(INTERVAL):
        for check in checks:
            try:
                check()
            except SandboxError as exc:  # one failed restart must not end supervision
                print(f"supervisor: {exc.one_line()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
