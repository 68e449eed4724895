"""The Runtime interface. The lifecycle is a template method here, so backends stay small."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator, Protocol

from sandbox.errors import NotSupportedInRuntime
from sandbox.services.base import Endpoint
from sandbox.settings import Settings


class Progress(Protocol):
    """How a runtime reports long steps; the CLI renders it, tests record it."""

    def step(self, name: str, message: str) -> None: ...

    def done(self, name: str, message: str) -> None: ...

    def note(self, message: str) -> None: ...


class SilentProgress:
    def step(self, name: str, message: str) -> None:
        pass

    def done(self, name: str, message: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    state: str  # running | stopped | unhealthy
    url: str = ""
    pid: int | None = None
    detail: str = ""


@dataclass
class UpReport:
    runtime: str
    already_running: bool
    endpoints: list[Endpoint] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class Runtime(ABC):
    name = "runtime"

    def __init__(self, settings: Settings, progress: Progress | None = None):
        self.settings = settings
        self.progress = progress or SilentProgress()

    # -- the lifecycle (template) ------------------------------------------------------------
    def up(self) -> UpReport:
        if self.is_up():
            return UpReport(self.name, True, self.endpoints())
        self.preflight()
        self.prepare()
        return self.start()

    # -- what a backend provides ----------------------------------------------------------------
    @abstractmethod
    def is_up(self) -> bool: ...

    @abstractmethod
    def preflight(self) -> None: ...

    @abstractmethod
    def prepare(self) -> None: ...

    @abstractmethod
    def start(self) -> UpReport: ...

    @abstractmethod
    def down(self) -> list[str]: ...

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def status(self) -> list[ServiceStatus]: ...

    @abstractmethod
    def endpoints(self) -> list[Endpoint]: ...

    @abstractmethod
    def log_path(self, service: str): ...

    def log_lines(self, service: str, lines: int) -> list[str]:
        """The last `lines` lines of a service's log (from its log file by default)."""
        from sandbox.proc import tail

        path = self.log_path(service)
        return tail(path, lines).splitlines() if path.exists() else []

    def follow_logs(self, service: str) -> Iterator[str]:
        """New lines of a service's log as they come (tailing its log file by default)."""
        import time

        path = self.log_path(service)
        while not path.exists():
            time.sleep(0.5)
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            while True:
                chunk = fh.readline()
                if chunk:
                    yield chunk.decode("utf-8", "replace").rstrip("\n")
                else:
                    time.sleep(0.5)

    def exec(self, service: str, argv: list[str]):
        raise NotSupportedInRuntime(f"exec is not supported by the {self.name} runtime")
