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
    recorded = _recorded(settings)
    if recorded is not None:
        return recorded
    version = engine.engine_version(timeout=5)
    if version is not None:
        return Choice("compose", f"auto: Docker engine {version} answers")
    return Choice("native", "auto: no Docker engine answers, so the embedded default")


def _recorded(settings: Settings) -> Choice | None:
    """The runtime this project's sandbox was started with: its record, or (the record deleted
    with `.sandbox/`) native processes still marked with this project's state folder."""
    from sandbox.environment.state import StateDir
    from sandbox.runtime import sweep

    path = StateDir(settings.state_dir).runtime_file
    name = path.read_text().strip() if path.is_file() else ""
    if name in ("native", "compose"):
        return Choice(name, "the runtime the sandbox was started with")
    if sweep.marked(str(settings.state_dir)):
        return Choice("native", "native processes of this project are running")
    return None


def make_runtime(settings: Settings, progress: Progress | None = None) -> tuple[Runtime, Choice]:
    from sandbox.runtime.compose import ComposeRuntime
    from sandbox.runtime.native import NativeRuntime

    choice = choose(settings)
    backend = {"native": NativeRuntime, "compose": ComposeRuntime}[choice.name]
    return backend(settings, progress), choice
