"""Airflow 2.9.2's own virtual environment with MWAA's package set, built with uv.

Environments live in the cache keyed by a hash of their inputs (package set, constraints,
requirements), so every project with the same inputs shares one, and uv's wheel cache makes a
rebuild an offline, seconds-long copy.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sandbox.errors import EnvironmentBuildError, ToolMissingError
from sandbox.mwaa.classes import PYTHON_VERSION
from sandbox.mwaa.data import MwaaData, normalize
from sandbox.mwaa.requirements import InstallPlan, plan_install
from sandbox.proc import Command, runner

# What MWAA's image build installs (under the constraints); the image pins make it exact.
BASE_SPECS = (
    "apache-airflow[celery,statsd]==2.9.2",
    "apache-airflow-providers-amazon[aiobotocore]",
    "apache-airflow-providers-postgres",
    "celery[sqs]",
    "psycopg2",
    "pycurl",
    "watchtower",
    "fluent-logger",
    "virtualenv",
)
PRUNE_AFTER_DAYS = 14  # environments unused this long are removed from the cache
FORMAT_VERSION = "1"  # bump when the build recipe changes


@dataclass(frozen=True)
class AirflowEnvironment:
    path: Path
    key: str
    plan: InstallPlan

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def uv_binary() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def find_python(name: str) -> str:
    """The Python 3.11 interpreter the environment is built on (MWAA runs 3.11)."""
    path = shutil.which(name) or (name if os.path.isfile(name) else None)
    result = runner.run(Command.of(path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])",
                                   timeout=30)) if path else None
    if result is None or not result.ok or result.stdout.strip() != PYTHON_VERSION:
        found = f" ({name} is Python {result.stdout.strip()})" if result and result.ok else ""
        raise ToolMissingError(f"Python {PYTHON_VERSION} not found{found}; MWAA 2.9.2 runs Python 3.11",
                               hint=f"install Python {PYTHON_VERSION} or set SANDBOX_PYTHON to its path")
    return path


class EnvironmentBuilder:
    def __init__(self, *, data: MwaaData, requirements: str, python: str, cache_dir: Path,
                 offline: bool = False, progress: Callable[[str], None] = lambda _: None):
        self.data = data
        self.requirements = requirements
        self.python = python
        self.cache_dir = cache_dir
        self.offline = offline
        self.progress = progress
        self.plan = plan_install(requirements, data)

    def key(self) -> str:
        digest = hashlib.sha256()
        for part in (FORMAT_VERSION, "\n".join(BASE_SPECS), self.data.constraints.read_text(),
                     self.data.essential_constraints.read_text(),
                     self.data.image_packages.read_text(), self.requirements):
            digest.update(part.encode())
            digest.update(b"\0")
        return digest.hexdigest()[:16]

    def env_dir(self) -> Path:
        return self.cache_dir / "envs" / self.key()

    def is_built(self) -> bool:
        return (self.env_dir() / ".complete").exists()

    def ensure(self) -> AirflowEnvironment:
        target = self.env_dir()
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.parent / f"{target.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a second `up` waits instead of building twice
            if not self.is_built():
                self._build(target)
        os.utime(target / ".complete")  # marks it recently used, for pruning
        self._prune(keep=target)
        return AirflowEnvironment(target, self.key(), self.plan)

    def _uv(self, *args: str | os.PathLike, timeout: float = 1800) -> None:
        env = dict(os.environ)
        env.update({"UV_CACHE_DIR": str(self.cache_dir / "uv"), "UV_PYTHON_DOWNLOADS": "never",
                    "UV_NO_CONFIG": "1"})
        flags = ["--offline"] if self.offline else []
        argv = [uv_binary(), *map(str, args)]
        argv[2:2] = flags if argv[1] == "pip" else []
        result = runner.run(Command.of(*argv, env=env, timeout=timeout))
        if not result.ok:
            lines = [l for l in result.stderr.strip().splitlines() if l.strip()]
            raise EnvironmentBuildError(
                f"building the Airflow environment failed: {(lines or ['uv failed'])[-1].strip()}",
                hint="check requirements.txt; with no network, run once online to fill the cache",
                details="\n".join(lines[-20:]))

    def _build(self, target: Path) -> None:
        python = find_python(self.python)
        shutil.rmtree(target, ignore_errors=True)
        started = time.monotonic()
        self.progress(f"creating a Python {PYTHON_VERSION} environment")
        self._uv("venv", "--quiet", "--python", python, target)
        venv_python = target / "bin" / "python"
        self.progress("installing MWAA 2.9.2's package set (apache-airflow 2.9.2 and providers)")
        pins = target / "mwaa-image-packages.txt"
        pins.write_text(self.data.image_packages.read_text())
        self._uv("pip", "install", "--python", venv_python, *BASE_SPECS, "-r", pins,
                 "-c", self.data.constraints, "-c", self.data.essential_constraints)
        self._verify_image_set(venv_python)
        if self.requirements.strip():
            self.progress("installing requirements.txt the MWAA way"
                          + (" (constraints forced)" if self.plan.forced else ""))
            req = target / "requirements.mwaa.txt"
            req.write_text(self.plan.requirements)
            constraint_args = [a for c in self.plan.constraint_files for a in ("-c", str(c))]
            self._uv("pip", "install", "--python", venv_python, "-r", req, *constraint_args)
        meta = {"key": self.key(), "forced_constraints": self.plan.forced,
                "seconds": round(time.monotonic() - started, 1)}
        (target / ".complete").write_text(json.dumps(meta))

    def _verify_image_set(self, venv_python: Path) -> None:
        """The base must hold exactly the image's versions before user requirements go on top."""
        installed = self.installed(venv_python)
        wrong = [f"{n} {installed.get(n, 'missing')} (MWAA: {v})"
                 for n, v in self.data.image_pins().items() if installed.get(n) != v]
        if wrong:
            raise EnvironmentBuildError(
                f"the Airflow environment does not match MWAA 2.9.2's package set: {', '.join(wrong[:5])}",
                hint="report this as a bug with `sandbox --debug up`")

    def installed(self, venv_python: Path) -> dict[str, str]:
        env = dict(os.environ, UV_NO_CONFIG="1")
        result = runner.run(Command.of(uv_binary(), "pip", "freeze", "--python", venv_python,
                                       env=env, timeout=120)).check("uv pip freeze")
        pins = {}
        for line in result.stdout.splitlines():
            if "==" in line:
                name, version = line.split("==", 1)
                pins[normalize(name)] = version.strip()
        return pins

    def _prune(self, keep: Path) -> None:
        cutoff = time.time() - PRUNE_AFTER_DAYS * 86400
        for old in keep.parent.iterdir():
            marker = old / ".complete"
            if old != keep and marker.exists() and marker.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
