"""NativeRuntime's start-up waits: what a user sees when a service dies or never gets ready."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sandbox.errors import ReadinessTimeout, ServiceFailedError
from sandbox.probes import CallableProbe
from sandbox.proc import Command, runner, stop
from sandbox.runtime.native import NativeRuntime
from sandbox.services.base import ProcessSpec
from sandbox.settings import load_settings


def never_ready():
    raise RuntimeError("still booting")


@pytest.fixture
def runtime(project):
    settings = replace(load_settings(project), start_timeout=0.3)
    rt = NativeRuntime(settings)
    rt.state.ensure()
    return rt


def spawn(rt, name, argv):
    log = rt.state.log_file(name)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"{name} says: last words before trouble\n")
    return runner.spawn(Command.of(*argv), log)


def test_timeout_names_the_service_and_shows_its_log(runtime):
    record = spawn(runtime, "noida", ["sleep", "30"])
    try:
        spec = ProcessSpec("noida", Command.of("sleep"), CallableProbe("Kafka metadata", never_ready), ("kafka",))
        with pytest.raises(ReadinessTimeout) as caught:
            runtime._wait(spec, ["noida"], {"noida": record})
        assert "noida did not become ready" in caught.value.message
        assert "still booting" in caught.value.message
        assert "sandbox logs noida" in caught.value.hint
        assert "last words before trouble" in caught.value.details
    finally:
        stop(record, grace=2)


def test_a_process_that_exits_is_reported_with_its_log(runtime):
    record = spawn(runtime, "aws", ["true"])
    spec = ProcessSpec("aws", Command.of("true"), CallableProbe("S3", never_ready), ("aws",))
    with pytest.raises(ServiceFailedError) as caught:
        runtime._wait(spec, ["aws"], {"aws": record})
    assert caught.value.message == "aws exited while starting"
    assert "sandbox logs aws" in caught.value.hint
    assert "last words before trouble" in caught.value.details


@pytest.fixture
def stopping(runtime, monkeypatch):
    """`down` and `reset` with every process alive, recording what is stopped and when the AWS
    state is kept."""
    from sandbox.proc import ProcessRecord
    from sandbox.runtime import native

    calls = []
    records = {name: ProcessRecord(1, 1, name) for name in runtime.process_names()}
    monkeypatch.setattr(runtime.state, "load_registry", lambda: dict(records))
    monkeypatch.setattr(native, "is_alive", lambda record: True)
    monkeypatch.setattr(runtime, "processes", lambda: [])
    monkeypatch.setattr(native.sweep, "wait_gone", lambda tree, seconds: None)
    monkeypatch.setattr(native.sweep, "kill_all", lambda tree: 0)
    monkeypatch.setattr(runtime, "_stop_names", lambda names: calls.append(sorted(names)))
    monkeypatch.setattr(runtime, "keep_aws_state", lambda: calls.append("keep"))
    return calls, records


def test_down_keeps_the_aws_state_after_airflow_stops_and_before_the_emulator(runtime, stopping):
    calls, records = stopping
    runtime.down()
    assert calls[1] == "keep"
    assert set(calls[0]) == set(records) - {"postgres", "noida", "aws"}
    assert set(calls[2]) >= {"postgres", "noida", "aws"}


def test_reset_does_not_keep_the_aws_state(runtime, stopping):
    calls, _ = stopping
    runtime.reset()
    assert "keep" not in calls and not runtime.state.root.exists()


def test_down_without_a_running_emulator_keeps_nothing(runtime, stopping, monkeypatch):
    from sandbox.runtime import native

    calls, _ = stopping
    monkeypatch.setattr(native, "is_alive", lambda record: record.argv0 != "aws")
    runtime.down()
    assert "keep" not in calls


def test_stops_begin_with_the_supervisor_then_the_workers_autoscaling_added(runtime, monkeypatch):
    """The supervisor would restart or add workers under a stop: it goes first, the database last."""
    from sandbox.proc import ProcessRecord
    from sandbox.runtime import native

    stopped = []
    names = runtime.process_names() + ["airflow-worker-3"]
    monkeypatch.setattr(runtime.state, "load_registry", lambda: {n: ProcessRecord(1, 1, n) for n in names})
    monkeypatch.setattr(native, "stop", lambda record, **kw: stopped.append(record.argv0) and False)
    monkeypatch.setattr(runtime.state, "forget_process", lambda name: None)
    runtime._stop_names(names)
    assert stopped[:2] == ["supervisor", "airflow-worker-3"] and stopped[-1] == "postgres"
    assert sorted(stopped) == sorted(names)
