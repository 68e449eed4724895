"""mw1.micro as MWAA runs it: one scheduler and one Celery worker in a single hybrid container
(natively: one shared scratch space), one web server, tasks run by that worker."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sandbox.services.containers import COMPONENT_LOGS

from conftest import make_sandbox, native_up, scratch_dir
from test_celery import api, wait
from test_compose import free_subnet, project_of
from test_compose_images import require_engine

pytestmark = pytest.mark.integration

SPEC = """\
Name: micro-env
AirflowVersion: "2.9.2"
EnvironmentClass: mw1.micro
SourceBucketArn: arn:aws:s3:::micro-it-bucket
DagS3Path: dags
"""

DAG = '''
import os, socket
import pendulum
from airflow.decorators import dag, task

@dag(dag_id="it_where", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def it_where():
    @task
    def where():
        return {"cwd": os.getcwd(), "host": socket.getfqdn()}
    where()

it_where()
'''


def run_where(box) -> dict:
    wait(lambda: (api(box, "GET", "/dags/it_where") or {}).get("is_active"), 120, "it_where to be parsed")
    api(box, "PATCH", "/dags/it_where", {"is_paused": False})
    run_id = api(box, "POST", "/dags/it_where/dagRuns", {})["dag_run_id"]
    wait(lambda: api(box, "GET", f"/dags/it_where/dagRuns/{run_id}")["state"] in ("success", "failed"),
         240, "the run to end")
    assert api(box, "GET", f"/dags/it_where/dagRuns/{run_id}")["state"] == "success"
    entry = api(box, "GET", f"/dags/it_where/dagRuns/{run_id}/taskInstances/where/xcomEntries/return_value")
    return eval(entry["value"])  # noqa: S307 - the DAG's own dict, rendered by the API as Python


def test_mw1_micro_runs_its_worker_beside_the_scheduler_natively():
    with scratch_dir("micro") as folder:
        box = make_sandbox(folder, spec=SPEC, dags={"it_where.py": DAG})
        with native_up(box):
            rows = {r["service"]: r for r in box.status()["services"]}
            assert [n for n in rows if n.startswith("airflow-scheduler")] == ["airflow-scheduler"]
            assert [n for n in rows if n.startswith("airflow-worker")] == ["airflow-worker-1"]
            where = run_where(box)
            assert where["cwd"].endswith("/workers/airflow-worker-1")
            scheduler_cwd = os.readlink(f"/proc/{rows['airflow-scheduler']['pid']}/cwd")
            assert Path(scheduler_cwd) == Path(where["cwd"])  # one container: one scratch space


@pytest.mark.slow  # ~3 min; the hybrid script itself is unit-tested with stub commands
def test_mw1_micro_is_one_hybrid_container_on_compose():
    require_engine()
    with scratch_dir("micro-compose") as folder:
        box = make_sandbox(folder, spec=SPEC, dags={"it_where.py": DAG},
                           extra_env={"SANDBOX_COMPOSE_SUBNET": free_subnet()})
        try:
            done = box.run("up", "--runtime", "compose", timeout=1800)
            assert done.returncode == 0, f"up failed:\n{done.stdout}\n{done.stderr}"
            services = [r["service"] for r in box.status()["services"]]
            assert "airflow-scheduler" in services and not [s for s in services if s.startswith("airflow-worker")]
            where = run_where(box)
            container = f"{project_of(box)}-airflow-scheduler-1"
            hostname = subprocess.run(["docker", "inspect", "--format", "{{.Config.Hostname}}", container],
                                      capture_output=True, text=True, check=True, timeout=30).stdout.strip()
            assert where["host"].split(".")[0] == hostname  # the task ran in the scheduler's container
            worker_log = subprocess.run(["docker", "exec", container, "cat", f"{COMPONENT_LOGS}/airflow-worker-1.log"],
                                        capture_output=True, text=True, check=True, timeout=30).stdout
            assert " ready." in worker_log and "airflow-worker-1@" in worker_log  # Celery runs in this container
        finally:
            box.run("reset", "--yes", timeout=300)
