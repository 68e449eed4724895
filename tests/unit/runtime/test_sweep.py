"""Finding every process of a sandbox: orphans of a killed leader are found through its session,
an unrelated process never is."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from sandbox.environment.state import StateDir
from sandbox.proc import Command, runner
from sandbox.runtime import sweep


@pytest.fixture
def orphan(tmp_path):
    """A spawned leader whose child outlives it (kill -9), as a killed scheduler's executor
    children do; yields (leader record, orphan pid) and kills whatever is left."""
    pid_file = tmp_path / "child.pid"
    record = runner.spawn(Command.of("sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"), tmp_path / "log")
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    child = int(pid_file.read_text())
    os.kill(record.pid, signal.SIGKILL)
    os.waitpid(record.pid, 0)  # our child: reaped, so only the orphan is left
    yield record, child
    for pid in (child, record.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_an_orphan_of_a_killed_leader_is_found_through_its_session(orphan, tmp_path):
    record, child = orphan
    assert psutil.Process(child).ppid() != record.pid  # re-parented: no tree leads to it
    assert child not in sweep.descendants([record.pid])
    found = {p.pid for p in sweep.family([], str(tmp_path), {record.pid: record.start_ticks})}
    assert child in found


def test_a_session_id_reused_by_a_newer_leader_excludes_older_members(orphan, tmp_path):
    record, child = orphan
    # the recorded leader "started" after the member: the number was reused, not ours
    later = {record.pid: record.start_ticks + 10**9}
    assert child not in {p.pid for p in sweep.session_members(later)}


def test_recording_a_process_remembers_its_session(tmp_path):
    state = StateDir(tmp_path / ".sandbox")
    record = runner.spawn(Command.of("sleep", "30"), tmp_path / "log")
    try:
        state.record_process("x", record)
        assert state.load_sessions() == {record.pid: record.start_ticks}
        state.forget_process("x")
        assert state.load_sessions() == {record.pid: record.start_ticks}  # outlives the record
    finally:
        os.kill(record.pid, signal.SIGKILL)


def test_a_leader_whose_title_overwrote_its_marker_is_found_by_its_log(tmp_path):
    """A Celery worker's long title overwrites its environment (setproctitle); with `.sandbox/`
    deleted its session is not recorded either: its log file under the state folder finds it."""
    root = tmp_path / ".sandbox"
    script = "import setproctitle, time; setproctitle.setproctitle('celeryd ' * 600); time.sleep(60)"
    env = {"PATH": os.environ["PATH"], sweep.MARKER: str(root)}  # short: the title covers it all
    record = runner.spawn(Command((sys.executable, "-c", script), env=env), root / "logs" / "worker.log")
    elsewhere = runner.spawn(Command.of("sleep", "60"), tmp_path / "other.log")
    try:
        environ = Path(f"/proc/{record.pid}/environ")
        deadline = time.monotonic() + 10
        while sweep.MARKER.encode() in environ.read_bytes():  # the title has not overwritten it yet
            assert time.monotonic() < deadline, "the title never overwrote the environment"
            time.sleep(0.05)
        shutil.rmtree(root)
        found = {p.pid for p in sweep.marked(str(root))}
        assert record.pid in found and elsewhere.pid not in found
    finally:
        for pid in (record.pid, elsewhere.pid):
            os.kill(pid, signal.SIGKILL)
