"""The .sandbox/ folder: the admin password, the process registry and pruning stale records."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import subprocess
import sys
from dataclasses import replace

import pytest

from sandbox.proc import ProcessRecord, start_ticks
from sandbox.environment.state import StateDir


@pytest.fixture
def state(tmp_path) -> StateDir:
    return StateDir(tmp_path / ".sandbox")


def me() -> ProcessRecord:
    return ProcessRecord(os.getpid(), start_ticks(os.getpid()), sys.executable, "/tmp/me.log", {"role": "test"})


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_layout(state, tmp_path):
    root = tmp_path / ".sandbox"
    assert state.dags_folder == root / "airflow" / "dags"
    assert state.log_file("postgres") == root / "logs" / "postgres.log"
    state.ensure()
    for folder in (state.logs, state.data, state.airflow_home, state.dags_folder):
        assert folder.is_dir()
    assert (root / ".gitignore").read_text() == "*\n"


def test_admin_password_generated_once(state):
    assert not state.password_file.exists()
    first = state.admin_password()
    assert len(first) >= 20 and first.strip() == first
    assert state.admin_password() == first
    assert state.password_file.read_text() == first + "\n"
    assert stat.S_IMODE(os.stat(state.password_file).st_mode) == 0o600


def test_admin_password_differs_between_projects(tmp_path):
    assert StateDir(tmp_path / "a").admin_password() != StateDir(tmp_path / "b").admin_password()


def test_admin_password_mode_ignores_umask(state):
    old = os.umask(0)
    try:
        state.admin_password()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(state.password_file).st_mode) == 0o600


def test_registry_round_trip(state):
    records = {"postgres": me(), "aws": ProcessRecord(12345, 678, "moto_server", "aws.log")}
    state.save_registry(records)
    assert state.load_registry() == records
    payload = json.loads(state.registry_file.read_text())
    assert payload["processes"]["aws"]["start_ticks"] == 678
    assert not state.registry_file.with_suffix(".tmp").exists()


def test_registry_missing_or_corrupt_is_empty(state):
    assert state.load_registry() == {}
    state.root.mkdir(parents=True)
    state.registry_file.write_text("{not json")
    assert state.load_registry() == {}


def test_prune_stale(state):
    live = me()
    dead = ProcessRecord(dead_pid(), 1, "true")
    reused = replace(live, start_ticks=live.start_ticks - 1)  # our pid, but not the process recorded
    state.save_registry({"live": live, "dead": dead, "reused": reused})
    assert sorted(state.prune_stale()) == ["dead", "reused"]
    assert state.load_registry() == {"live": live}
    assert state.prune_stale() == []
    assert state.load_registry() == {"live": live}


def test_prune_stale_without_registry(state):
    assert state.prune_stale() == []
    assert not state.registry_file.exists()


def test_registry_with_unknown_fields_does_not_crash(state):
    state.root.mkdir(parents=True)
    state.registry_file.write_text(json.dumps(
        {"processes": {"aws": {"pid": 1, "start_ticks": 2, "argv0": "moto", "cmd": "from a newer version"}}}))
    assert set(state.load_registry()) <= {"aws"}


def _register(root, worker: int, count: int) -> None:
    state = StateDir(root)
    for n in range(count):
        state.record_process(f"w{worker}-{n}", ProcessRecord(os.getpid(), n, "worker"))


def test_concurrent_registry_writers_lose_nothing(state):
    """`up`, `down` and an environment update write the registry from separate processes: each
    read-modify-write holds the lock, so no entry is lost (without it, most runs lose some or
    crash on the shared temporary file)."""
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_register, args=(state.root, w, 40)) for w in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * 6
    assert len(state.load_registry()) == 6 * 40


def test_forget_process_keeps_the_others(state):
    state.record_process("postgres", me())
    state.record_process("aws", ProcessRecord(12345, 678, "moto_server"))
    state.forget_process("postgres")
    state.forget_process("never-recorded")
    assert list(state.load_registry()) == ["aws"]


def test_exports_round_trip_privately(state):
    assert state.load_exports() == {}
    state.save_exports({"STAGE": "dev", "TOKEN": "s3cr3t"})
    assert state.load_exports() == {"STAGE": "dev", "TOKEN": "s3cr3t"}
    assert stat.S_IMODE(os.stat(state.exports_file).st_mode) == 0o600
    assert [p.name for p in state.root.iterdir()] == [state.exports_file.name]
