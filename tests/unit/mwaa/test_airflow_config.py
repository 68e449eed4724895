"""How MWAA derives Airflow settings: class concurrency, user options, forced values."""

from __future__ import annotations

import pytest

from sandbox.mwaa.airflow_config import (MWAA_DEFAULTS, MWAA_EXECUTOR, MWAA_FORCED, NATIVE_EXECUTOR,
                                         DerivedConfig, class_options, derive, mwaa_variables)
from sandbox.mwaa.classes import ENVIRONMENT_CLASSES
from sandbox.mwaa.spec import parse_spec


def spec(**raw):
    return parse_spec(raw)


def test_small_class_concurrency():
    options = derive(spec(EnvironmentClass="mw1.small", MinWorkers=1, MaxWorkers=4)).options
    assert options["core.parallelism"] == "20"
    assert options["core.max_active_tasks_per_dag"] == "20"
    assert options["celery.worker_autoscale"] == "5,5"


@pytest.mark.parametrize("name", sorted(set(ENVIRONMENT_CLASSES) - {"mw1.micro"}))
@pytest.mark.parametrize("max_workers", [1, 3, 25])
def test_parallelism_is_tasks_per_worker_times_max_workers(name, max_workers):
    per_worker = ENVIRONMENT_CLASSES[name].tasks_per_worker
    options = class_options(spec(EnvironmentClass=name, MaxWorkers=max_workers))
    assert options["core.parallelism"] == str(per_worker * max_workers)
    assert options["celery.worker_autoscale"] == f"{per_worker},{per_worker}"


def test_repository_spec_parallelism(repo_dir):
    from sandbox.mwaa.spec import load_spec

    options = derive(load_spec(repo_dir)).options
    assert options["core.parallelism"] == "10"  # mw1.small, MaxWorkers 2


def test_forced_settings_win_and_are_reported():
    user = {"core.load_examples": "True", "scheduler.standalone_dag_processor": "False",
            "webserver.cookie_secure": "False", "core.dag_concurrency": "4"}
    derived = derive(spec(AirflowConfigurationOptions=user))
    assert derived.options["core.load_examples"] == "False"
    assert derived.options["scheduler.standalone_dag_processor"] == "True"
    assert derived.options["webserver.cookie_secure"] == "True"
    assert derived.options["core.dag_concurrency"] == "4"
    assert sorted(derived.ignored) == sorted(["core.load_examples", "scheduler.standalone_dag_processor",
                                              "webserver.cookie_secure"])


def test_executor_cannot_be_chosen_by_the_user():
    derived = derive(spec(AirflowConfigurationOptions={"core.executor": "SequentialExecutor"}))
    assert derived.options["core.executor"] == NATIVE_EXECUTOR
    assert derived.ignored == ["core.executor"]
    assert derive(spec(), executor=MWAA_EXECUTOR).options["core.executor"] == "CeleryExecutor"


def test_user_overrides_mwaa_defaults_and_class_options():
    user = {"core.execute_tasks_new_python_interpreter": "False", "core.parallelism": "64",
            "scheduler.task_queued_timeout": "600"}
    derived = derive(spec(AirflowConfigurationOptions=user))
    assert derived.options["core.execute_tasks_new_python_interpreter"] == "False"
    assert derived.options["core.parallelism"] == "64"
    assert derived.options["scheduler.task_queued_timeout"] == "600"
    assert derived.ignored == []


def test_defaults_without_user_options():
    options = derive(spec()).options
    for key, value in {**MWAA_DEFAULTS, **MWAA_FORCED}.items():
        assert options[key] == value, key
    assert options["core.execute_tasks_new_python_interpreter"] == "True"


def test_as_env():
    env = DerivedConfig({"core.load_examples": "False", "scheduler.task_queued_timeout": "1800"}).as_env()
    assert env == {"AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "1800"}


def test_as_env_covers_every_option():
    derived = derive(spec())
    env = derived.as_env()
    assert len(env) == len(derived.options)
    assert env["AIRFLOW__CORE__PARALLELISM"] == derived.options["core.parallelism"]
    assert all(k.startswith("AIRFLOW__") and k.count("__") == 2 for k in env)


def test_mwaa_variables():
    variables = mwaa_variables(spec(Name="dsai-dev-mwaa"))
    assert variables["AWS_EXECUTION_ENV"] == "Amazon_MWAA_292"
    assert variables["AIRFLOW_ENV_NAME"] == "dsai-dev-mwaa"
    assert variables["AIRFLOW_VERSION"] == "2.9.2"
    assert variables["PYTHONUNBUFFERED"] == "1"
    assert mwaa_variables(spec(Name="other"))["AIRFLOW_ENV_NAME"] == "other"
