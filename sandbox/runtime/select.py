"""Choose the runtime once, at the CLI edge: flag, then SANDBOX_RUNTIME, then auto."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.proc import Command, runner
from sandbox.runtime.base import Progress, Runtime
from sandbox.settings import Settings

COMPOSE_AVAILABLE = False  # the compose backend is not built yet


@dataclass(frozen=True)
class Choice:
    name: str
    reason: str


def docker_engine_answers() -> bool:
    try:
        return runner.run(Command.of("docker", "info", "--format", "{{.ServerVersion}}", timeout=5)).ok
    except Exception:  # no docker CLI, a hung engine: either way, no engine
        return False


def choose(settings: Settings) -> Choice:
    if settings.runtime != "auto":
        return Choice(settings.runtime, f"chosen by {settings.sources.get('runtime', 'default')}")
    if COMPOSE_AVAILABLE and docker_engine_answers():
        return Choice("compose", "a Docker engine answers")
    return Choice("native", "the embedded default (no Docker needed)")


def make_runtime(settings: Settings, progress: Progress | None = None) -> tuple[Runtime, Choice]:
    from sandbox.runtime.compose import ComposeRuntime
    from sandbox.runtime.native import NativeRuntime

    choice = choose(settings)
    backend = {"native": NativeRuntime, "compose": ComposeRuntime}[choice.name]
    return backend(settings, progress), choice
