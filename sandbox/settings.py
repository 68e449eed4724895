"""One typed Settings object. Precedence: SANDBOX_* environment variables > mwaa.yaml's
`Sandbox:` section > defaults. `sources` remembers where each value came from."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from sandbox.errors import ConfigError
from sandbox.mwaa.spec import EnvironmentSpec, load_spec

RUNTIMES = ("auto", "native", "compose")
AWS_EMULATORS = ("moto", "localstack")  # the compose runtime's AWS image when pulling from a registry


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mwaa-sandbox"


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    spec: EnvironmentSpec = field(default_factory=EnvironmentSpec)
    runtime: str = "auto"
    host: str = "127.0.0.1"
    airflow_port: int = 8080
    postgres_port: int = 5432
    kafka_port: int = 9092
    elasticsearch_port: int = 9200
    aws_port: int = 4566
    aws_region: str = "us-east-1"
    python: str = "python3.11"  # the interpreter Airflow's environment is built on
    mwaa_data_dir: Path | None = None  # MWAA's constraint files; None: download into the cache
    cache_dir: Path = field(default_factory=_default_cache_dir)
    start_timeout: float = 300.0  # seconds per service readiness wait
    startup_timeout: float = 300.0  # the startup script's limit: MWAA's 5 minutes
    dag_sync_interval: float = 30.0  # seconds between S3 -> dags passes, as on MWAA
    offline: bool = False  # never reach a package index
    worker_autoscaling: bool = True  # MinWorkers -> MaxWorkers as tasks queue, as MWAA scales
    scale_down_after: float = 120.0  # seconds without tasks before extra workers go (MWAA: 2-5 min)
    # The compose runtime's own settings.
    offline_images: bool = False  # build every image from local sources (no container registry)
    compose_subnet: str = "172.28.83.0/24"  # the compose network; the broker gets a fixed address in it
    ulimit_nofile: int = 20000  # containers' open-file limit (some hosts cannot go higher)
    aws_emulator: str = "moto"  # registry images only: moto's server image or LocalStack community
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def state_dir(self) -> Path:
        return self.project_dir / ".sandbox"

    def port_settings(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name.endswith("_port")}


# The names a user may set, with their converters. project_dir and spec are not settings.
_CONVERTERS = {
    "runtime": str, "host": str, "aws_region": str, "python": str,
    "airflow_port": int, "postgres_port": int, "kafka_port": int,
    "elasticsearch_port": int, "aws_port": int,
    "mwaa_data_dir": Path, "cache_dir": Path,
    "start_timeout": float, "startup_timeout": float, "dag_sync_interval": float, "offline": "bool",
    "worker_autoscaling": "bool", "scale_down_after": float,
    "offline_images": "bool", "compose_subnet": str, "ulimit_nofile": int, "aws_emulator": str,
}


# Sub-sections of `Sandbox:` that belong to one command (read there), not to Settings.
_SECTIONS = ("e2e",)


def env_var(name: str) -> str:
    return f"SANDBOX_{name.upper()}"


def as_env(settings: Settings) -> dict[str, str]:
    """Every resolved setting as its SANDBOX_* variable (runtime excepted: a helper process the
    native runtime starts is native), so a child process resolves exactly the same settings."""
    pinned = {}
    for name in _CONVERTERS:
        value = getattr(settings, name)
        if name != "runtime" and value is not None:
            pinned[env_var(name)] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return pinned


def load_settings(project_dir: Path, environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Resolve settings for a project. `overrides` (CLI flags) win over everything."""
    environ = os.environ if environ is None else environ
    project_dir = project_dir.resolve()
    if not project_dir.is_dir():
        raise ConfigError(f"project directory {project_dir} does not exist",
                          hint="pass --project DIR naming a folder with dags/ and mwaa.yaml")
    spec = load_spec(project_dir)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, raw in spec.sandbox.items():
        name = str(key)
        if name in _SECTIONS:
            continue
        if name not in _CONVERTERS:
            raise ConfigError(f"mwaa.yaml: Sandbox.{name}: is not a known setting "
                              f"(known: {', '.join(sorted(_CONVERTERS))})")
        values[name] = _convert(name, raw, f"mwaa.yaml: Sandbox.{name}", project_dir)
        sources[name] = "mwaa.yaml"
    for name in _CONVERTERS:
        if environ.get(env_var(name), "").strip():  # an empty variable counts as unset
            values[name] = _convert(name, environ[env_var(name)], env_var(name), project_dir)
            sources[name] = f"env {env_var(name)}"
    for name, raw in (overrides or {}).items():
        if raw is not None:
            values[name] = _convert(name, raw, f"--{name.replace('_', '-')}", project_dir)
            sources[name] = "command line"
    settings = Settings(project_dir=project_dir, spec=spec, **values)
    _validate(settings)
    all_sources = {f.name: sources.get(f.name, "default") for f in fields(Settings)
                   if f.name in _CONVERTERS}
    return replace(settings, sources=all_sources)


def _convert(name: str, raw: Any, where: str, project_dir: Path) -> Any:
    kind = _CONVERTERS[name]
    try:
        if kind == "bool":
            text = str(raw).strip().lower()
            if text not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return text in ("1", "true", "yes", "on")
        if kind is Path:
            path = Path(os.path.expanduser(str(raw)))
            return path if path.is_absolute() else (project_dir / path).resolve()
        if kind is int and (isinstance(raw, (bool, float)) or not str(raw).strip().lstrip("-").isdigit()):
            raise ValueError(raw)
        value = kind(raw)
        if kind is float and not math.isfinite(value):
            raise ValueError(raw)
        return value
    except (TypeError, ValueError):
        expected = {int: "a whole number", float: "a number", "bool": "true or false"}.get(kind, "text")
        raise ConfigError(f"{where}: {raw!r} is not {expected}") from None


def _validate(settings: Settings) -> None:
    if settings.runtime not in RUNTIMES:
        raise ConfigError(f"runtime {settings.runtime!r} is not one of {', '.join(RUNTIMES)}",
                          hint=f"set {env_var('runtime')} or --runtime")
    seen: dict[int, str] = {}
    for name, port in settings.port_settings().items():
        if not 1 <= port <= 65535:
            raise ConfigError(f"{name} {port} is not a valid port (1-65535)")
        if port in seen:
            raise ConfigError(f"{name} and {seen[port]} are both set to {port}",
                              hint=f"give one of them another port with {env_var(name)}")
        seen[port] = name
    _validate_compose(settings)
    for name in ("start_timeout", "startup_timeout", "dag_sync_interval", "scale_down_after"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{name} must be a positive number of seconds",
                              hint=f"set {env_var(name)} to e.g. 30")


def _validate_compose(settings: Settings) -> None:
    import ipaddress

    try:
        subnet = ipaddress.ip_network(settings.compose_subnet)
    except ValueError:
        subnet = None
    if subnet is None or subnet.version != 4 or subnet.num_addresses < 16:
        raise ConfigError(f"compose_subnet {settings.compose_subnet!r} is not an IPv4 network of 16+ addresses",
                          hint=f"set {env_var('compose_subnet')} to e.g. 172.28.83.0/24")
    if settings.aws_emulator not in AWS_EMULATORS:
        raise ConfigError(f"aws_emulator {settings.aws_emulator!r} is not one of {', '.join(AWS_EMULATORS)}",
                          hint=f"set {env_var('aws_emulator')}")
    if not 1024 <= settings.ulimit_nofile <= 1048576:
        raise ConfigError(f"ulimit_nofile {settings.ulimit_nofile} is outside 1024-1048576",
                          hint=f"set {env_var('ulimit_nofile')} to e.g. 20000")
