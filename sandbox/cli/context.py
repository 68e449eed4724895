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
        # auto keeps the runtime the project's sandbox was started with (see runtime.select)
        return make_runtime(self.settings(**overrides), progress)
