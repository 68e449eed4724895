"""How many Celery workers run: MinWorkers at start, MaxWorkers by autoscaling, mw1.micro's one."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sandbox.mwaa.spec import parse_spec
from sandbox.services import workers
from sandbox.settings import Settings


def settings(tmp_path, autoscaling=True, **raw):
    return Settings(project_dir=tmp_path, spec=parse_spec(raw), worker_autoscaling=autoscaling)


@pytest.mark.parametrize("raw, autoscaling, expected", [
    ({"MinWorkers": 2, "MaxWorkers": 4}, True, (2, 4)),
    ({"MinWorkers": 2, "MaxWorkers": 4}, False, (2, 2)),
    ({"EnvironmentClass": "mw1.micro", "MaxWorkers": 10}, True, (1, 1)),
])
def test_bounds(tmp_path, raw, autoscaling, expected):
    assert workers.bounds(settings(tmp_path, autoscaling, **raw)) == expected


def test_names_started_with_the_environment_and_those_autoscaling_may_add(tmp_path):
    s = settings(tmp_path, MinWorkers=1, MaxWorkers=3)
    assert workers.names(s) == ["airflow-worker-1"]
    assert workers.all_names(s) == ["airflow-worker-1", "airflow-worker-2", "airflow-worker-3"]
    assert workers.all_names(replace(s, worker_autoscaling=False)) == ["airflow-worker-1"]
