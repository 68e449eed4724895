"""What every command needs: the project, resolved settings, the chosen runtime."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.runtime.base import Runtime
from sandbox.runtime.select import Choice, make_runtime
from sandbox.settings import Settings, load_settings


@dataclass
class CliContext:
    project: Path
    debug: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, project: str, debug: bool) -> "CliContext":
        return cls(Path(project).expanduser(), debug)

    def settings(self, **overrides: Any) -> Settings:
        return load_settings(self.project, overrides={**self.overrides, **overrides})

    def runtime(self, progress=None, **overrides: Any) -> tuple[Runtime, Choice]:
        settings = self.settings(**overrides)
        if not overrides.get("runtime"):
            settings = _with_recorded_runtime(settings)
        return make_runtime(settings, progress)


def _with_recorded_runtime(settings: Settings) -> Settings:
    """A running sandbox keeps the runtime it was started with."""
    from dataclasses import replace

    recorded = settings.state_dir / "runtime"
    if settings.runtime == "auto" and recorded.is_file():
        name = recorded.read_text().strip()
        if name in ("native", "compose"):
            return replace(settings, runtime=name,
                           sources={**settings.sources, "runtime": "the running sandbox"})
    return settings
