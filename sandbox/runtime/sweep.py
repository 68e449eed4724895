"""Find every process of one sandbox, so `down` leaves nothing behind and memory can be summed.

Three nets: the process trees under the recorded pids (Airflow task processes start their own
process groups, so a group signal misses them); the sessions our processes led (each is spawned
as a session leader, and its descendants stay in its session even when the leader is killed and
they are re-parented to init: a killed scheduler's executor children); and two marks every process
we start carries: a marker variable it inherits (setproctitle overwrites the environment when a
title is longer than the command line: a Celery worker's is) and its output going to a log file
under the state folder (kept open even when `.sandbox/` is deleted).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterable

import psutil

MARKER = "MWAA_SANDBOX_STATE_DIR"


def _logs_under(entry: Path, folder: str) -> bool:
    """True when the process's stdout or stderr is a file under `folder` (deleted or not)."""
    for fd in ("1", "2"):
        try:
            if os.readlink(entry / "fd" / fd).startswith(folder):
                return True
        except OSError:
            continue
    return False


def marked(state_root: str) -> list[psutil.Process]:
    needle = f"{MARKER}={state_root}".encode()
    folder = state_root.rstrip("/") + "/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0") or _logs_under(entry, folder):
                found.append(psutil.Process(int(entry.name)))
        except (OSError, psutil.Error):
            continue
    return found


def _session_and_start(pid: int) -> tuple[int, int] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    return int(fields[3]), int(fields[19])


def session_members(sessions: dict[int, int]) -> list[psutil.Process]:
    """Processes in one of `sessions` (id -> its leader's start ticks). A member started before
    the leader belongs to an unrelated session that reused the number, and is left alone."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        info = _session_and_start(int(entry.name))
        if info is None or info[0] not in sessions or info[1] < sessions[info[0]]:
            continue
        try:
            found.append(psutil.Process(int(entry.name)))
        except psutil.Error:
            continue
    return found


def descendants(pids: Iterable[int]) -> dict[int, psutil.Process]:
    """The processes `pids` and every descendant of theirs, by pid."""
    seen: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                seen[proc.pid] = proc
        except psutil.Error:
            continue
    return seen


def family(pids: Iterable[int], state_root: str, sessions: dict[int, int] | None = None) -> list[psutil.Process]:
    """The recorded processes, every marked process, all their descendants, and the members of
    their sessions (a marked session leader counts: the record may be gone with `.sandbox/`)."""
    found = marked(state_root)
    sessions = dict(sessions or {})
    for proc in found:
        info = _session_and_start(proc.pid)
        if info is not None and info[0] == proc.pid:
            sessions.setdefault(proc.pid, info[1])
    seen = descendants([*pids, *(p.pid for p in found)])
    for proc in session_members(sessions):
        seen.setdefault(proc.pid, proc)
    return list(seen.values())


def kill_all(processes: list[psutil.Process], grace: float = 5.0) -> int:
    """SIGTERM what is still running (psutil checks the pid was not reused), then SIGKILL."""
    alive = [p for p in processes if p.is_running()]
    for proc in alive:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _, still = psutil.wait_procs(alive, timeout=grace)
    for proc in still:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(still, timeout=grace)
    return len(alive)


def pss_bytes(processes: list[psutil.Process]) -> int:
    """Sum of proportional set sizes: shared pages counted once across the whole sandbox."""
    total = 0
    for proc in processes:
        try:
            text = Path(f"/proc/{proc.pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
                break
    return total


def wait_gone(processes: list[psutil.Process], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(p.is_running() for p in processes):
        time.sleep(0.1)
