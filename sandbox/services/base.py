"""What every service module provides to the runtimes."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sandbox.probes import Probe
from sandbox.proc import Command
from sandbox.settings import Settings, as_env


@dataclass(frozen=True)
class Endpoint:
    service: str
    url: str
    note: str = ""


@dataclass(frozen=True)
class Port:
    """A service's published port: the setting holding its host port (on 127.0.0.1 natively and
    published there by compose) and the port inside its container."""

    setting: str
    container: int

    def host_port(self, settings: Settings) -> int:
        return getattr(settings, self.setting)


@dataclass(frozen=True)
class ProcessSpec:
    """A long-running native process: how to start it and how to tell it is ready."""

    name: str  # registry key and log file name
    command: Command
    probe: Probe
    provides: tuple[str, ...]  # the services it serves (noida-db serves kafka and elasticsearch)
    stop_grace: float = 15.0


def child_env(settings: Settings) -> dict[str, str]:
    """The environment of a sandbox helper process (dagsync, logship): it resolves its Settings
    again, so every resolved value is pinned (env wins over mwaa.yaml; CLI overrides survive)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(as_env(settings))
    env["PYTHONUNBUFFERED"] = "1"
    return env
