"""MWAA's worker autoscaling on the native runtime: MinWorkers at start, another worker when the
tasks running or queued need it (MaxWorkers at most), back to MinWorkers after a steady zero."""

from __future__ import annotations

import pytest

from conftest import make_sandbox, native_up, scratch_dir
from test_celery import api, wait
from test_compose import free_subnet
from test_compose_images import require_engine

pytestmark = pytest.mark.integration

SPEC = """\
Name: scaling-env
AirflowVersion: "2.9.2"
EnvironmentClass: mw1.small
MinWorkers: 1
MaxWorkers: 2
SourceBucketArn: arn:aws:s3:::scaling-it-bucket
DagS3Path: dags
"""

TASKS = 8  # mw1.small runs 5 per worker: 8 running or queued need a second worker
DAG = f'''
import socket, time
import pendulum
from airflow.decorators import dag, task

@dag(dag_id="it_burst", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def it_burst():
    for n in range({TASKS}):
        @task(task_id=f"sleep_{{n}}")
        def sleep():
            time.sleep(40)
            return socket.getfqdn()
        sleep()

it_burst()
'''


def workers(box) -> dict[str, str]:
    return {r["service"]: r["state"] for r in box.status()["services"] if r["service"].startswith("airflow-worker")}


def burst_scales_up_and_back(box) -> None:
    assert workers(box) == {"airflow-worker-1": "running"}  # MinWorkers at start
    wait(lambda: (api(box, "GET", "/dags/it_burst") or {}).get("is_active"), 120, "it_burst to be parsed")
    api(box, "PATCH", "/dags/it_burst", {"is_paused": False})
    run_id = api(box, "POST", "/dags/it_burst/dagRuns", {})["dag_run_id"]
    wait(lambda: workers(box).get("airflow-worker-2") == "running", 180, "autoscaling to add a worker")
    wait(lambda: api(box, "GET", f"/dags/it_burst/dagRuns/{run_id}")["state"] in ("success", "failed"),
         300, "the run to end")
    tasks = api(box, "GET", f"/dags/it_burst/dagRuns/{run_id}/taskInstances")["task_instances"]
    assert {t["state"] for t in tasks} == {"success"}
    assert {t["hostname"].split(".")[0] for t in tasks} == {"airflow-worker-1", "airflow-worker-2"}
    wait(lambda: workers(box) == {"airflow-worker-1": "running"}, 120, "the extra worker to go")
    log = (box.project / ".sandbox" / "logs" / "supervisor.log").read_text()
    assert "need 2 worker(s) at 5 per worker: starting airflow-worker-2" in log
    assert "back to MinWorkers (1): stopping airflow-worker-2" in log


def test_a_burst_of_tasks_adds_a_worker_which_goes_again_when_idle():
    with scratch_dir("autoscaling") as folder:
        box = make_sandbox(folder, spec=SPEC, dags={"it_burst.py": DAG},
                           extra_env={"SANDBOX_SCALE_DOWN_AFTER": "10"})
        with native_up(box):
            burst_scales_up_and_back(box)


@pytest.mark.slow  # ~3 min; the native test above runs the same autoscaler in `make test`
def test_autoscaling_adds_and_removes_worker_containers_on_compose():
    require_engine()
    with scratch_dir("autoscaling-compose") as folder:
        box = make_sandbox(folder, spec=SPEC, dags={"it_burst.py": DAG},
                           extra_env={"SANDBOX_SCALE_DOWN_AFTER": "10", "SANDBOX_COMPOSE_SUBNET": free_subnet()})
        try:
            done = box.run("up", "--runtime", "compose", timeout=1800)
            assert done.returncode == 0, f"up failed:\n{done.stdout}\n{done.stderr}"
            burst_scales_up_and_back(box)
        finally:
            box.run("reset", "--yes", timeout=300)
