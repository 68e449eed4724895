"""Integration fixtures: real sandboxes on free ports, in throw-away projects, always cleaned up."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "mwaa" / "2.9.2"
PORT_SETTINGS = ("airflow_port", "postgres_port", "kafka_port", "elasticsearch_port", "aws_port")


def free_ports(count: int) -> list[int]:
    """Distinct ports the kernel says are free right now (held together so they differ)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Sandbox:
    """A project folder plus the environment that points `sandbox` at free ports."""

    project: Path
    env: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 900, check: bool = False) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "sandbox", "--project", str(self.project), *args],
                              env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"sandbox {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def status(self) -> dict:
        return json.loads(self.run("status", "--json", "--show-password", check=True).stdout)

    def e2e(self, *args: str) -> tuple[int, dict, str]:
        """`sandbox e2e --json ARGS`: (exit code, the printed result, stderr)."""
        done = self.run("e2e", "--json", *args, timeout=1800)
        try:
            payload = json.loads(done.stdout)
        except ValueError:
            raise AssertionError(f"e2e printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.returncode, payload, done.stderr

    def url(self, service: str) -> str:
        return {e["service"]: e["url"] for e in self.status()["services"]}[service]


def make_sandbox(tmp: Path, *, spec: str | None = None, dags: dict[str, str] | None = None,
                 extra_env: dict[str, str] | None = None) -> Sandbox:
    project = tmp / "project"
    (project / "dags").mkdir(parents=True)
    if spec is not None:
        (project / "mwaa.yaml").write_text(spec)
    for name, text in (dags or {}).items():
        (project / "dags" / name).write_text(text)
    ports = dict(zip(PORT_SETTINGS, free_ports(len(PORT_SETTINGS))))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    env.update({f"SANDBOX_{k.upper()}": str(v) for k, v in ports.items()})
    env["SANDBOX_MWAA_DATA_DIR"] = str(SHARED_DATA)
    env["SANDBOX_START_TIMEOUT"] = "240"
    env.update(extra_env or {})
    return Sandbox(project, env, ports)


@contextmanager
def native_up(sandbox: Sandbox):
    """The sandbox up on the native runtime for the block, always brought down after."""
    try:
        done = sandbox.run("up", "--runtime", "native")
        assert done.returncode == 0, f"up failed:\n{done.stdout}\n{done.stderr}"
        yield sandbox
    finally:
        sandbox.run("down", timeout=180)


@contextmanager
def scratch_dir(prefix: str):
    """A folder outside pytest's basetemp: pytest resets /tmp/pytest-of-<user> to 0700 whenever a
    session starts, which would cut PostgreSQL (another user when we run as root) off its data."""
    folder = Path(tempfile.mkdtemp(prefix=f"mwaa-sandbox-{prefix}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def module_scratch(request):
    with scratch_dir(request.module.__name__.rsplit(".", 1)[-1]) as folder:
        yield folder


@pytest.fixture
def sandbox_factory():
    """Builds sandboxes; whatever they started is stopped at the end, pass or fail."""
    made: list[Sandbox] = []
    with scratch_dir("faults") as folder:

        def factory(**kwargs) -> Sandbox:
            box = make_sandbox(folder / f"s{len(made)}", **kwargs)
            made.append(box)
            return box

        try:
            yield factory
        finally:
            for box in made:
                box.run("down", timeout=180)
