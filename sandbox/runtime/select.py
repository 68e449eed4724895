"""Choose the runtime once, at the CLI edge: flag, then SANDBOX_RUNTIME, then auto."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.runtime.base import Progress, Runtime
from sandbox.settings import Settings


@dataclass(frozen=True)
class Choice:
    name: str
    reason: str


def choose(settings: Settings) -> Choice:
    from sandbox.runtime.compose import engine

    if settings.runtime != "auto":
        return Choice(settings.runtime, f"chosen by {settings.sources.get('runtime', 'default')}")
    version = engine.engine_version(timeout=5)
    if version is not None:
        return Choice("compose", f"auto: Docker engine {version} answers")
    return Choice("native", "auto: no Docker engine answers, so the embedded default")


def make_runtime(settings: Settings, progress: Progress | None = None) -> tuple[Runtime, Choice]:
    from sandbox.runtime.compose import ComposeRuntime
    from sandbox.runtime.native import NativeRuntime

    choice = choose(settings)
    backend = {"native": NativeRuntime, "compose": ComposeRuntime}[choice.name]
    return backend(settings, progress), choice
