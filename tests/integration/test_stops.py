"""Clean stops on the native runtime: whatever was killed before, `down` leaves no process of the
project; two `up`s at once never collide; a deleted `.sandbox/` does not hide running processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

pytestmark = pytest.mark.integration


def registry(box) -> dict[str, int]:
    raw = json.loads((box.project / ".sandbox" / "processes.json").read_text())
    return {name: rec["pid"] for name, rec in raw["processes"].items()}


def snapshot(pids) -> dict[int, float]:
    """Every process under `pids`, with its start time (so a reused pid never counts)."""
    found = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                found[proc.pid] = proc.create_time()
        except psutil.Error:
            continue
    return found


def still_alive(procs: dict[int, float]) -> list[str]:
    alive = []
    for pid, created in procs.items():
        try:
            proc = psutil.Process(pid)
            if proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{pid} {' '.join(proc.cmdline())[:80]}")
        except psutil.Error:
            continue
    return alive


def test_kill_9_of_every_component_then_down_leaves_nothing(sandbox_factory):
    box = sandbox_factory()
    box.run("up", "--runtime", "native", check=True)
    pids = registry(box)
    assert {"postgres", "noida", "aws", "dagsync", "logship", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer", "airflow-webserver"} <= set(pids)
    assert {"airflow-worker-1", "supervisor"} <= set(pids)
    everything = snapshot(pids.values())
    children = set(everything) - set(pids.values())  # Celery's pool, gunicorn, PostgreSQL's backends
    assert children
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    orphans = still_alive({p: everything[p] for p in children})
    assert orphans, "children outlive their killed parents (what down must find)"
    done = box.run("down", check=True)
    assert "leftover process(es)" in done.stdout + done.stderr
    assert still_alive(everything) == []


def test_two_ups_at_once_one_waits_and_both_succeed(sandbox_factory):
    box = sandbox_factory()
    cmd = [sys.executable, "-m", "sandbox", "--project", str(box.project), "up", "--runtime", "native"]
    first = subprocess.Popen(cmd, env=box.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(0.5)
    second = subprocess.Popen(cmd, env=box.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outputs = [p.communicate(timeout=900)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], "\n".join(outputs)
    waited = [o for o in outputs if "waiting for it" in o]
    assert len(waited) == 1 and "already running" in waited[0]
    assert "initdb" not in " ".join(o for o in outputs if "Error" in o)


def test_a_deleted_state_folder_does_not_hide_the_running_sandbox(sandbox_factory):
    box = sandbox_factory()
    box.run("up", "--runtime", "native", check=True)
    everything = snapshot(registry(box).values())
    shutil.rmtree(box.project / ".sandbox")
    status = json.loads(box.run("status", "--json", check=True).stdout)
    assert status["runtime"] == "native"  # not whatever `auto` would pick now
    [row] = [s for s in status["services"] if s["service"] == "unrecorded"]
    assert row["state"] == "running" and "sandbox down" in row["detail"]
    box.run("down", check=True)
    assert still_alive(everything) == []


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_killed_components_are_replaced_as_mwaa_replaces_containers(sandbox_factory):
    box = sandbox_factory()
    box.run("up", "--runtime", "native", check=True)
    before = registry(box)
    for name in ("airflow-webserver", "airflow-triggerer"):
        os.kill(before[name], signal.SIGKILL)

    def replaced():
        rows = {r["service"]: r for r in box.status()["services"]}
        return all(rows[n]["restarts"] == 1 and rows[n]["state"] == "running" and rows[n]["pid"] != before[n]
                   for n in ("airflow-webserver", "airflow-triggerer")) and rows
    rows = wait_for(replaced, 180, "the web server and triggerer to be replaced and healthy")
    assert "last restart: exited" in rows["airflow-triggerer"]["detail"]
    assert rows["airflow-scheduler"]["restarts"] == 0
    with urllib.request.urlopen(f"http://127.0.0.1:{box.ports['airflow_port']}/health", timeout=10) as answer:
        assert json.load(answer)["triggerer"]["status"] == "healthy"
    text = box.run("status", check=True).stdout
    assert "restarts" in text
