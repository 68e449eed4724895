"""What `status` says about Docker's restarts, from `docker inspect`, `events` and `logs`."""

from __future__ import annotations

import json

from sandbox.proc import Command, Result
from sandbox.runtime.compose import restarts

INFO = {"Id": "abc123", "Created": "2026-12-03T09:00:00.1Z", "RestartCount": 2,
        "State": {"Status": "running", "FinishedAt": "2026-12-03T09:24:52.123456789Z", "OOMKilled": False}}


def fake_docker(monkeypatch, seen: list):
    def docker(*args, timeout=30):
        seen.append(args)
        out = {"events": "\n".join(json.dumps({"exitCode": c}) for c in ("1", "137")),
               "logs": "starting\nMemoryError: out of memory\n", "inspect": json.dumps([INFO])}[args[0]]
        return Result(Command.of("docker", *args), 0, out)
    monkeypatch.setattr(restarts, "_docker", docker)


def test_the_last_exit_names_its_code_time_and_last_words(monkeypatch):
    seen: list = []
    fake_docker(monkeypatch, seen)
    found = restarts.describe(INFO)
    assert found == restarts.Restarts(2, "exit code 137 at 09:24:52; last log line: MemoryError: out of memory")
    logs = next(a for a in seen if a[0] == "logs")
    assert "--tail" not in logs and logs[logs.index("--until") + 1] == INFO["State"]["FinishedAt"]


def test_a_container_docker_keeps_restarting_is_crash_looping(monkeypatch):
    fake_docker(monkeypatch, [])
    info = {**INFO, "RestartCount": 5, "State": {**INFO["State"], "Status": "restarting"}}
    assert restarts.describe(info).looping
    assert not restarts.describe({**info, "RestartCount": 4}).looping


def test_by_service_keeps_only_restarted_containers(monkeypatch):
    fake_docker(monkeypatch, [])
    rows = [{"ID": "abc", "Service": "airflow-worker-1"}, {"ID": "zzz", "Service": "postgres"}]
    assert list(restarts.by_service(rows)) == ["airflow-worker-1"]
