"""The environment spec: mwaa.yaml, mirroring MWAA's CreateEnvironment fields that matter locally."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sandbox.errors import SpecError
from sandbox.mwaa.classes import ENVIRONMENT_CLASSES, SUPPORTED_AIRFLOW_VERSIONS
from sandbox.mwaa.secrets import SecretSpec, parse_secrets

SPEC_FILE = "mwaa.yaml"
LOG_TYPES = ("DagProcessingLogs", "SchedulerLogs", "TaskLogs", "WebserverLogs", "WorkerLogs")
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
ACCESS_MODES = ("PRIVATE_ONLY", "PUBLIC_ONLY")
_NAME_RE = re.compile(r"^[a-zA-Z][0-9a-zA-Z_-]{0,79}$")
_BUCKET_ARN_RE = re.compile(r"^arn:aws(-[a-z]+)*:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$")
_CONFIG_KEY_RE = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
# Keys the sandbox adds beside CreateEnvironment's: local settings and (later) secrets.
_EXTRA_KEYS = ("Sandbox", "Secrets", "Tags")


@dataclass(frozen=True)
class LogSetting:
    enabled: bool = True
    level: str = "INFO"


@dataclass(frozen=True)
class EnvironmentSpec:
    name: str = "mwaa-sandbox"
    airflow_version: str = "2.9.2"
    environment_class: str = "mw1.small"
    schedulers: int = 2
    min_workers: int = 1
    max_workers: int = 10
    min_webservers: int = 2
    max_webservers: int = 2
    webserver_access_mode: str = "PRIVATE_ONLY"
    source_bucket_arn: str = "arn:aws:s3:::mwaa-sandbox-bucket"
    dag_s3_path: str = "dags"
    requirements_s3_path: str | None = None
    plugins_s3_path: str | None = None
    startup_script_s3_path: str | None = None
    airflow_configuration_options: dict[str, str] = field(default_factory=dict)
    logging: dict[str, LogSetting] = field(
        default_factory=lambda: {t: LogSetting() for t in LOG_TYPES}
    )
    kms_key: str | None = None
    sandbox: dict[str, Any] = field(default_factory=dict)  # local settings (see settings.py)
    secrets: tuple[SecretSpec, ...] = ()
    source: str = "defaults"  # the file it came from, for messages

    @property
    def bucket_name(self) -> str:
        return self.source_bucket_arn.rsplit(":", 1)[-1]

    @property
    def env_class(self):
        return ENVIRONMENT_CLASSES[self.environment_class]


def load_spec(project_dir: Path) -> EnvironmentSpec:
    """Read PROJECT/mwaa.yaml; no file means defaults. Raises SpecError naming the key path."""
    path = project_dir / SPEC_FILE
    if not path.exists():
        return EnvironmentSpec()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{SPEC_FILE}: not valid YAML{where}: {problem}",
                        hint="fix the syntax; nothing was started") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"{SPEC_FILE}: the top level must be a mapping of CreateEnvironment fields")
    return parse_spec(raw, source=str(path))


def parse_spec(raw: dict[str, Any], source: str = SPEC_FILE) -> EnvironmentSpec:
    v = _Validator(raw)
    env_class = v.choice("EnvironmentClass", "mw1.small", tuple(ENVIRONMENT_CLASSES))
    cls = ENVIRONMENT_CLASSES[env_class]
    default_schedulers = min(2, cls.max_schedulers)
    spec = EnvironmentSpec(
        name=v.string("Name", "mwaa-sandbox", pattern=_NAME_RE,
                      allowed="a letter followed by up to 79 letters, digits, - or _"),
        airflow_version=v.choice("AirflowVersion", "2.9.2", SUPPORTED_AIRFLOW_VERSIONS,
                                 noun="a supported Airflow version"),
        environment_class=env_class,
        schedulers=v.integer("Schedulers", default_schedulers, 1, 5),
        min_workers=v.integer("MinWorkers", 1, 1, 25),
        max_workers=v.integer("MaxWorkers", 10, 1, 25),
        min_webservers=v.integer("MinWebservers", cls.min_webservers, 1, 5),
        max_webservers=v.integer("MaxWebservers", min(2, cls.max_webservers), 1, 5),
        webserver_access_mode=v.choice("WebserverAccessMode", "PRIVATE_ONLY", ACCESS_MODES),
        source_bucket_arn=v.string("SourceBucketArn", "arn:aws:s3:::mwaa-sandbox-bucket",
                                   pattern=_BUCKET_ARN_RE, allowed="arn:aws:s3:::<bucket-name>"),
        dag_s3_path=v.s3_key("DagS3Path", "dags"),
        requirements_s3_path=v.s3_key("RequirementsS3Path", None),
        plugins_s3_path=v.s3_key("PluginsS3Path", None),
        startup_script_s3_path=v.s3_key("StartupScriptS3Path", None),
        airflow_configuration_options=v.config_options(),
        logging=v.logging(),
        kms_key=v.string("KmsKey", None),
        sandbox=v.mapping("Sandbox"),
        secrets=tuple(parse_secrets(v.mapping("Secrets"))),
        source=source,
    )
    v.mapping("Tags")
    v.reject_unknown()
    _check_cross_field(spec)
    return spec


def _check_cross_field(spec: EnvironmentSpec) -> None:
    cls = spec.env_class
    if not cls.min_schedulers <= spec.schedulers <= cls.max_schedulers:
        raise SpecError(
            f"{SPEC_FILE}: Schedulers: {spec.schedulers} is not allowed for {cls.name} "
            f"(allowed: {cls.min_schedulers} to {cls.max_schedulers})")
    for key, count in (("MinWebservers", spec.min_webservers), ("MaxWebservers", spec.max_webservers)):
        if not cls.min_webservers <= count <= cls.max_webservers:
            allowed = (f"{cls.min_webservers}" if cls.min_webservers == cls.max_webservers
                       else f"{cls.min_webservers} to {cls.max_webservers}")
            raise SpecError(f"{SPEC_FILE}: {key}: {count} is not allowed for {cls.name} (allowed: {allowed})")
    if spec.min_workers > spec.max_workers:
        raise SpecError(f"{SPEC_FILE}: MinWorkers: {spec.min_workers} is greater than "
                        f"MaxWorkers ({spec.max_workers})")
    if spec.min_webservers > spec.max_webservers:
        raise SpecError(f"{SPEC_FILE}: MinWebservers: {spec.min_webservers} is greater than "
                        f"MaxWebservers ({spec.max_webservers})")


class _Validator:
    """Pulls typed values out of the raw mapping; every error quotes the key path."""

    def __init__(self, raw: dict[str, Any]):
        self.raw = raw
        self.seen: set[str] = set()

    def _get(self, key: str, default: Any) -> Any:
        self.seen.add(key)
        value = self.raw.get(key, default)
        return default if value is None else value

    @staticmethod
    def fail(path: str, problem: str) -> SpecError:
        return SpecError(f"{SPEC_FILE}: {path}: {problem}")

    def string(self, key, default, *, pattern=None, allowed=None):
        value = self._get(key, default)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"{value!r} is not a string")
        if pattern is not None and not pattern.match(value):
            raise self.fail(key, f"{value!r} is not valid (expected {allowed})")
        return value

    def choice(self, key, default, allowed: tuple[str, ...], noun: str = ""):
        value = self._get(key, default)
        value = str(value) if isinstance(value, (int, float)) else value
        if value not in allowed:
            if noun:
                raise self.fail(key, f"{value!r} is not {noun}; supported: {', '.join(allowed)}")
            raise self.fail(key, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def integer(self, key, default, low, high):
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"{value!r} is not a whole number")
        if not low <= value <= high:
            raise self.fail(key, f"{value} is out of range (allowed: {low} to {high})")
        return value

    def s3_key(self, key, default):
        value = self.string(key, default)
        if value is not None and (value.startswith("/") or value.startswith("s3://")):
            raise self.fail(key, f"{value!r} must be a key relative to the bucket, e.g. dags")
        return value

    def mapping(self, key) -> dict[str, Any]:
        value = self._get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {type(value).__name__}")
        return value

    def config_options(self) -> dict[str, str]:
        options = self.mapping("AirflowConfigurationOptions")
        out = {}
        for key, value in options.items():
            if not isinstance(key, str) or not _CONFIG_KEY_RE.match(key):
                raise self.fail(f"AirflowConfigurationOptions.{key}",
                                "keys must look like section.option, e.g. core.dag_concurrency")
            if isinstance(value, (dict, list)) or value is None:
                raise self.fail(f"AirflowConfigurationOptions.{key}", "the value must be a string")
            out[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return out

    def logging(self) -> dict[str, LogSetting]:
        config = self.mapping("LoggingConfiguration")
        result = {t: LogSetting() for t in LOG_TYPES}
        for log_type, setting in config.items():
            path = f"LoggingConfiguration.{log_type}"
            if log_type not in LOG_TYPES:
                raise self.fail(path, f"is not one of {', '.join(LOG_TYPES)}")
            if not isinstance(setting, dict):
                raise self.fail(path, "must be a mapping with Enabled and LogLevel")
            unknown = set(setting) - {"Enabled", "LogLevel"}
            if unknown:
                raise self.fail(f"{path}.{sorted(unknown)[0]}", "is not a known key (Enabled, LogLevel)")
            enabled = setting.get("Enabled", True)
            if not isinstance(enabled, bool):
                raise self.fail(f"{path}.Enabled", f"{enabled!r} is not true or false")
            level = setting.get("LogLevel", "INFO")
            if level not in LOG_LEVELS:
                raise self.fail(f"{path}.LogLevel", f"{level!r} is not one of {', '.join(LOG_LEVELS)}")
            result[log_type] = LogSetting(enabled, level)
        return result

    def reject_unknown(self) -> None:
        for key in self.raw:
            if key not in self.seen and key not in _EXTRA_KEYS:
                raise self.fail(str(key), "is not a known key (see the CreateEnvironment fields in the README)")
