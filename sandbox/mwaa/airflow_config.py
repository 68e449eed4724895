"""Airflow settings as MWAA derives them: defaults the user may override, the environment
class's concurrency, the user's AirflowConfigurationOptions, then what MWAA forces."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.mwaa.spec import EnvironmentSpec

# MWAA's defaults; AirflowConfigurationOptions may override them.
MWAA_DEFAULTS: dict[str, str] = {
    "core.execute_tasks_new_python_interpreter": "True",
    "scheduler.schedule_after_task_execution": "False",
    "scheduler.task_queued_timeout": "1800",
    "core.dags_are_paused_at_creation": "True",
    "webserver.expose_config": "False",
    "logging.logging_level": "INFO",
}

# What MWAA forces whatever the user asks.
MWAA_FORCED: dict[str, str] = {
    "core.load_examples": "False",
    "scheduler.standalone_dag_processor": "True",
    "webserver.cookie_secure": "True",
}

# MWAA forces CeleryExecutor over SQS; the native runtime runs LocalExecutor instead (no broker).
NATIVE_EXECUTOR = "LocalExecutor"
MWAA_EXECUTOR = "CeleryExecutor"

# Environment variables MWAA sets in every Airflow container.
def mwaa_variables(spec: EnvironmentSpec) -> dict[str, str]:
    return {
        "AWS_EXECUTION_ENV": "Amazon_MWAA_" + spec.airflow_version.replace(".", ""),
        "AIRFLOW_ENV_NAME": spec.name,
        "AIRFLOW_ENV_ID": f"sandbox-{spec.name}",
        "AIRFLOW_VERSION": spec.airflow_version,
        "PYTHONUNBUFFERED": "1",
    }


@dataclass(frozen=True)
class DerivedConfig:
    options: dict[str, str]  # "section.key" -> value
    ignored: list[str] = field(default_factory=list)  # user options MWAA would not let through

    def as_env(self) -> dict[str, str]:
        """AIRFLOW__SECTION__KEY variables, which win over airflow.cfg."""
        env = {}
        for key, value in self.options.items():
            section, option = key.split(".", 1)
            env[f"AIRFLOW__{section.upper()}__{option.upper()}"] = value
        return env


def class_options(spec: EnvironmentSpec) -> dict[str, str]:
    """Concurrency as the environment class sets it: tasks per worker times the workers."""
    per_worker = spec.env_class.tasks_per_worker
    return {
        "celery.worker_autoscale": f"{per_worker},{per_worker}",
        "core.parallelism": str(per_worker * spec.max_workers),
        "core.max_active_tasks_per_dag": str(per_worker * spec.max_workers),
    }


def derive(spec: EnvironmentSpec, executor: str = NATIVE_EXECUTOR) -> DerivedConfig:
    options = {**MWAA_DEFAULTS, **class_options(spec)}
    ignored = []
    for key, value in spec.airflow_configuration_options.items():
        if key in MWAA_FORCED or key == "core.executor":
            ignored.append(key)
            continue
        options[key] = value
    options.update(MWAA_FORCED)
    options["core.executor"] = executor
    return DerivedConfig(options, ignored)
