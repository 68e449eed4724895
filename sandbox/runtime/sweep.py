"""Find processes of one sandbox by a marker variable every process we start inherits, so
`down` leaves nothing behind (Airflow task processes start their own process groups)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

MARKER = "MWAA_SANDBOX_STATE_DIR"


def marked(state_root: str) -> list[int]:
    needle = f"{MARKER}={state_root}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def kill_marked(state_root: str, grace: float = 5.0) -> int:
    pids = marked(state_root)
    for pid in pids:
        _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and marked(state_root):
        time.sleep(0.2)
    for pid in marked(state_root):
        _kill(pid, signal.SIGKILL)
    return len(pids)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
