"""What every service module provides to the runtimes."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.probes import Probe
from sandbox.proc import Command


@dataclass(frozen=True)
class Endpoint:
    service: str
    url: str
    note: str = ""


@dataclass(frozen=True)
class ProcessSpec:
    """A long-running native process: how to start it and how to tell it is ready."""

    name: str  # registry key and log file name
    command: Command
    probe: Probe
    provides: tuple[str, ...]  # the services it serves (noida-db serves kafka and elasticsearch)
    stop_grace: float = 15.0
