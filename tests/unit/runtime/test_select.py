"""The runtime is chosen once: flag or SANDBOX_RUNTIME, else auto (compose when an engine answers)."""

from __future__ import annotations

from sandbox.runtime import select
from sandbox.runtime.compose import ComposeRuntime, engine
from sandbox.runtime.native import NativeRuntime
from sandbox.settings import load_settings


def test_auto_picks_compose_when_an_engine_answers(project, monkeypatch):
    monkeypatch.setattr(engine, "engine_version", lambda timeout=10: "20.10.24")
    runtime, choice = select.make_runtime(load_settings(project))
    assert isinstance(runtime, ComposeRuntime)
    assert choice == select.Choice("compose", "auto: Docker engine 20.10.24 answers")


def test_auto_falls_back_to_native_and_says_why(project):
    runtime, choice = select.make_runtime(load_settings(project))
    assert isinstance(runtime, NativeRuntime)
    assert choice.name == "native" and "no Docker engine answers" in choice.reason


def test_an_explicit_choice_never_asks_the_engine(project, monkeypatch):
    def boom(timeout=10):
        raise AssertionError("asked the engine")

    monkeypatch.setattr(engine, "engine_version", boom)
    _, choice = select.make_runtime(load_settings(project, environ={"SANDBOX_RUNTIME": "native"}))
    assert choice == select.Choice("native", "chosen by env SANDBOX_RUNTIME")
    runtime, choice = select.make_runtime(load_settings(project, overrides={"runtime": "compose"}))
    assert isinstance(runtime, ComposeRuntime) and choice.reason == "chosen by command line"


def test_auto_keeps_the_runtime_the_sandbox_was_started_with(project, monkeypatch):
    monkeypatch.setattr(engine, "engine_version", lambda timeout=10: "20.10.24")
    (project / ".sandbox").mkdir()
    (project / ".sandbox" / "runtime").write_text("native\n")
    runtime, choice = select.make_runtime(load_settings(project))
    assert isinstance(runtime, NativeRuntime)
    assert choice == select.Choice("native", "the runtime the sandbox was started with")


def test_auto_finds_native_processes_whose_record_was_deleted(project, monkeypatch, tmp_path):
    """`.sandbox/` removed under a running native sandbox: its marked processes still say native."""
    from sandbox.proc import Command, runner, stop
    from sandbox.runtime import sweep

    monkeypatch.setattr(engine, "engine_version", lambda timeout=10: "20.10.24")
    settings = load_settings(project)
    env = {"PATH": "/usr/bin:/bin", sweep.MARKER: str(settings.state_dir)}
    record = runner.spawn(Command.of("sleep", "30", env=env), tmp_path / "log")
    try:
        _, choice = select.make_runtime(settings)
        assert choice == select.Choice("native", "native processes of this project are running")
    finally:
        stop(record, grace=2)
    _, choice = select.make_runtime(settings)
    assert choice.name == "compose"
