"""The pip that resolves requirements the way MWAA does, against MWAA's image package set.

MWAA installs requirements with pip on top of its image. The image's package set is the
Airflow environment built with no project requirements (shared and cached by airflow_env);
pip itself lives in a small tool venv of its own and runs against that environment with
`pip --python`, as a dry run: the environment is only read, never changed, and never gets pip.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from sandbox.deps.system_libs import build_environment
from sandbox.errors import EnvironmentBuildError
from sandbox.mwaa.data import MwaaData
from sandbox.proc import Command, runner
from sandbox.environment.airflow_env import EnvironmentBuilder, find_python, uv_binary
from sandbox.settings import Settings

# MWAA's image upgrades pip to the newest release when it is built, and its bill of materials
# does not record which; we pin the newest at the time of writing so results are repeatable.
PIP_VERSION = "26.3"
DEFAULT_INDEX = "https://pypi.org/simple"
# pip settings that only say how to trust the network, kept from the user's environment;
# every other PIP_* (indexes, find-links, constraints) would change what pip resolves.
_KEPT_PIP_VARS = ("PIP_CERT", "PIP_CLIENT_CERT", "PIP_TRUSTED_HOST")


@dataclass(frozen=True)
class Checker:
    tool_python: Path  # the venv holding pip
    target_python: Path  # MWAA's image package set
    cache_dir: Path
    build_env: Mapping[str, str] = field(default_factory=dict)  # for sdists' metadata steps

    @property
    def site_packages(self) -> Path:
        return self.target_python.parent.parent / "lib" / "python3.11" / "site-packages"

    @property
    def wheelhouse(self) -> Path:
        return self.cache_dir / "wheelhouse"

    def pip(self, *args: str | os.PathLike, timeout: float, input: str | None = None) -> Command:
        """pip's stdout and stderr merged in order, as MWAA reads them."""
        argv = [self.tool_python, "-m", "pip", "--python", self.target_python, *args]
        env = {**pip_environment(self.cache_dir), **self.build_env}
        return Command.of("/bin/sh", "-c", 'exec "$@" 2>&1', "pip", *argv,
                          env=env, timeout=timeout, input=input)


def pip_environment(cache_dir: Path) -> dict[str, str]:
    """Our environment without pip configuration: no pip.conf, no PIP_* package sources."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("PIP_") and k not in _KEPT_PIP_VARS)
           and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONUSERBASE")}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_CACHE_DIR": str(cache_dir / "pip"),
                "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
                "PYTHONNOUSERSITE": "1", "PYTHONUTF8": "1"})
    return env


def index_url() -> str:
    """The index an online check uses: PIP_INDEX_URL if the user set one, else PyPI."""
    return os.environ.get("PIP_INDEX_URL", "").strip() or DEFAULT_INDEX


def index_reachable(url: str, timeout: float = 5.0) -> bool:
    """True if the index answers (a client error counts: the index is there; a server error,
    on which pip silently finds nothing, does not)."""
    if url.startswith("file:"):
        return True
    return url_problem(url.rstrip("/") + "/pip/", timeout) is None


def url_problem(url: str, timeout: float = 10.0) -> str | None:
    """Why the URL cannot be fetched from here (no answer, or a server error); None if it answers."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}" if exc.code >= 500 else None
    except urllib.error.URLError as exc:
        return str(exc.reason)
    except (OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__


def ensure_checker(settings: Settings, data: MwaaData,
                   progress: Callable[[str], None] = lambda _: None) -> Checker:
    image = EnvironmentBuilder(data=data, requirements="", python=settings.python,
                               cache_dir=settings.cache_dir, offline=settings.offline,
                               progress=progress).ensure()
    return Checker(ensure_pip_tool(settings, progress), image.python, settings.cache_dir,
                   build_environment(data))


def ensure_pip_tool(settings: Settings, progress: Callable[[str], None]) -> Path:
    """A venv with only pip PIP_VERSION in it, built once with uv (offline from uv's cache)."""
    target = settings.cache_dir / "tools" / f"pip-{PIP_VERSION}"
    python = target / "bin" / "python"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".complete").exists():
            return python
        progress(f"installing pip {PIP_VERSION} for MWAA-style resolution")
        shutil.rmtree(target, ignore_errors=True)
        _uv(settings, "venv", "--quiet", "--python", find_python(settings.python), target)
        _uv(settings, "pip", "install", "--quiet", "--python", python, f"pip=={PIP_VERSION}")
        (target / ".complete").write_text(PIP_VERSION)
    return python


def _uv(settings: Settings, *args: str | os.PathLike) -> None:
    env = dict(os.environ, UV_CACHE_DIR=str(settings.cache_dir / "uv"),
               UV_PYTHON_DOWNLOADS="never", UV_NO_CONFIG="1")
    argv = [uv_binary(), *map(str, args)]
    if settings.offline and args[0] == "pip":
        argv.insert(2, "--offline")
    result = runner.run(Command.of(*argv, env=env, timeout=600))
    if not result.ok:
        last = (result.stderr.strip().splitlines() or ["uv failed"])[-1]
        raise EnvironmentBuildError(
            f"installing pip {PIP_VERSION} for the requirements check failed: {last}",
            hint="run once with network access so uv can cache pip",
            details=result.stderr.strip() or None)
