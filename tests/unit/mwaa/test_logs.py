"""CloudWatch log group names as MWAA builds them."""

from __future__ import annotations

from sandbox.mwaa.logs import LOG_GROUP_SUFFIXES, log_group, log_groups
from sandbox.mwaa.spec import LOG_TYPES


def test_every_log_type_has_a_group():
    assert set(LOG_GROUP_SUFFIXES) == set(LOG_TYPES)


def test_group_names():
    assert log_group("dsai-dev-mwaa", "Task") == "airflow-dsai-dev-mwaa-Task"
    assert log_groups("env") == ["airflow-env-DAGProcessing", "airflow-env-Scheduler", "airflow-env-Task",
                                 "airflow-env-WebServer", "airflow-env-Worker"]
