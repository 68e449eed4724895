"""MWAA's topology on the native runtime: Celery workers over SQS on the emulator, each with its
own scratch space, so a file passed between tasks on local disk is found only on one worker."""

from __future__ import annotations

import json
import time
from base64 import b64encode
from urllib.request import Request, urlopen

import pytest

from conftest import make_sandbox

pytestmark = pytest.mark.integration

SPEC = """\
Name: celery-env
AirflowVersion: "2.9.2"
EnvironmentClass: mw1.small
Schedulers: 2
MinWorkers: 2
MaxWorkers: 2
SourceBucketArn: arn:aws:s3:::celery-it-bucket
DagS3Path: dags
"""

PAIRS = 8
# Eight write -> read pairs at once: the writers fill both workers' five slots, and a reader runs
# wherever a slot frees up. Expected outcome: a reader succeeds exactly when it ran on its writer's
# worker (the file is in that worker's working directory), as on MWAA.
LOCAL_FILE_DAG = f'''
"""it_local_file: tasks pass a file on local disk."""
import os, socket, time
import pendulum
from airflow.decorators import dag, task

@dag(dag_id="it_local_file", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
     catchup=False, max_active_tasks=16)
def it_local_file():
    for n in range({PAIRS}):
        @task(task_id=f"write_{{n}}")
        def write(n=n):
            time.sleep(4)
            with open(f"handoff-{{n}}.txt", "w") as fh:
                fh.write("hello")
            return {{"cwd": os.getcwd(), "home": os.environ.get("HOME", ""), "tmp": os.environ.get("TMPDIR", ""),
                    "host": socket.getfqdn()}}

        @task(task_id=f"read_{{n}}")
        def read(n=n):
            with open(f"handoff-{{n}}.txt") as fh:
                return fh.read()

        write() >> read()

it_local_file()
'''


@pytest.fixture(scope="module", params=["native", pytest.param("compose", marks=pytest.mark.slow)])
def box(module_scratch, request):
    """Two workers on each runtime: processes with their own scratch space, or containers."""
    runtime = request.param
    extra = {}
    if runtime == "compose":
        from test_compose import free_subnet
        from test_compose_images import require_engine

        require_engine()
        extra["SANDBOX_COMPOSE_SUBNET"] = free_subnet()
    sandbox = make_sandbox(module_scratch / f"celery-{runtime}", spec=SPEC,
                           dags={"it_local_file.py": LOCAL_FILE_DAG}, extra_env=extra)
    sandbox.runtime = runtime
    done = sandbox.run("up", "--runtime", runtime, timeout=1800)
    try:
        assert done.returncode == 0, f"up failed:\n{done.stdout}\n{done.stderr}"
        yield sandbox
    finally:
        sandbox.run("down" if runtime == "native" else "reset", *([] if runtime == "native" else ["--yes"]),
                    timeout=300)


def api(box, method: str, path: str, body: dict | None = None) -> dict:
    password = (box.project / ".sandbox" / "admin-password").read_text().strip()
    request = Request(f"http://127.0.0.1:{box.ports['airflow_port']}/api/v1{path}", method=method,
                      data=json.dumps(body).encode() if body is not None else None,
                      headers={"Content-Type": "application/json",
                               "Authorization": "Basic " + b64encode(f"admin:{password}".encode()).decode()})
    with urlopen(request, timeout=30) as answer:
        return json.load(answer)


def wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def test_two_workers_consume_the_sqs_queue_and_status_lists_them(box):
    rows = {r["service"]: r for r in box.status()["services"]}
    assert rows["airflow-worker-1"]["state"] == rows["airflow-worker-2"]["state"] == "running"
    log = "\n".join(json.loads(box.run("logs", "airflow-worker-1", "-n", "500", "--json", check=True).stdout)["lines"])
    assert "ready." in log and "sqs://" in log  # Celery's banner names the SQS transport


def test_a_file_passed_on_local_disk_is_found_only_on_the_same_worker(box):
    wait(lambda: (api(box, "GET", "/dags/it_local_file") or {}).get("is_active"), 120, "it_local_file to be parsed")
    api(box, "PATCH", "/dags/it_local_file", {"is_paused": False})
    run_id = api(box, "POST", "/dags/it_local_file/dagRuns", {})["dag_run_id"]
    wait(lambda: api(box, "GET", f"/dags/it_local_file/dagRuns/{run_id}")["state"] in ("success", "failed"),
         400, "the run to end")
    tasks = {t["task_id"]: t for t in api(box, "GET", f"/dags/it_local_file/dagRuns/{run_id}/taskInstances")
             ["task_instances"]}
    hosts = {t["hostname"].split(".")[0] for t in tasks.values()}
    assert hosts == {"airflow-worker-1", "airflow-worker-2"}  # both workers took tasks
    split = 0
    for n in range(PAIRS):
        writer, reader = tasks[f"write_{n}"], tasks[f"read_{n}"]
        assert writer["state"] == "success"
        same = writer["hostname"] == reader["hostname"]
        assert reader["state"] == ("success" if same else "failed"), (n, writer["hostname"], reader["hostname"])
        split += not same
        seen = api(box, "GET", f"/dags/it_local_file/dagRuns/{run_id}/taskInstances/write_{n}/xcomEntries/return_value")
        where = json.loads(seen["value"].replace("'", '"'))
        worker = writer["hostname"].split(".")[0]
        if box.runtime == "native":  # its own scratch space; on compose its own container
            assert where["cwd"].endswith(f"/workers/{worker}") and f"/workers/{worker}/" in where["tmp"]
        else:
            assert where["host"].split(".")[0] == worker
    assert split >= 1, "no reader ran on the other worker: nothing was proven"
