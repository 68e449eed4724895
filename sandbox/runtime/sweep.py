"""Find every process of one sandbox, so `down` leaves nothing behind and memory can be summed.

Two nets: the process trees under the recorded pids (Airflow task processes start their own
process groups, so a group signal misses them), and a marker variable every process we start
inherits (for orphans re-parented to init; setproctitle can hide it, hence both).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterable

import psutil

MARKER = "MWAA_SANDBOX_STATE_DIR"


def marked(state_root: str) -> list[psutil.Process]:
    needle = f"{MARKER}={state_root}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(psutil.Process(int(entry.name)))
        except (OSError, psutil.Error):
            continue
    return found


def family(pids: Iterable[int], state_root: str) -> list[psutil.Process]:
    """The recorded processes, all their descendants and every marked process."""
    seen: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                seen[proc.pid] = proc
        except psutil.Error:
            continue
    for proc in marked(state_root):
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
