"""`sandbox down` then `sandbox up` keeps the AWS emulator's state on both runtimes: an earlier
run's task log reads back through Airflow's REST API (from CloudWatch), log events and every S3
object version come back in order, a secret too. Alone: pytest tests/integration/test_aws_persistence.py
"""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest

from sandbox.e2e.airflow_api import AirflowApi

pytestmark = pytest.mark.integration

SPEC = """\
Name: persist-env
AirflowVersion: "2.9.2"
EnvironmentClass: mw1.small
MinWorkers: 1
MaxWorkers: 1
SourceBucketArn: arn:aws:s3:::persist-bucket
DagS3Path: dags
"""
BUCKET, TASK_GROUP = "persist-bucket", "airflow-persist-env-Task"

DAG = '''
"""persist_probe: prints the marker it is given. Expected outcome: success."""
import pendulum
from airflow.decorators import dag, task

@dag(dag_id="persist_probe", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def persist_probe():
    @task
    def speak(**context):
        print("persisted marker " + context["dag_run"].conf["marker"])
    speak()

persist_probe()
'''


def client(box, service: str):
    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{box.ports['aws_port']}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def airflow(box) -> AirflowApi:
    return AirflowApi(f"http://127.0.0.1:{box.ports['airflow_port']}", "admin", box.status()["admin_password"])


def versions(s3) -> list[tuple[str, str, bytes | None]]:
    """(key, kind, body) of every entry of the bucket, newest first per key, one entry a page
    (the exact listing order: LastModified is in whole seconds)."""
    found = []
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, PaginationConfig={"PageSize": 1})
    for page in pages:
        found += [(m["Key"], "marker", None) for m in page.get("DeleteMarkers", [])]
        found += [(v["Key"], "version", s3.get_object(Bucket=BUCKET, Key=v["Key"], VersionId=v["VersionId"])[
            "Body"].read()) for v in page.get("Versions", [])]
    return found


def stream_events(logs, group: str) -> dict[str, list[tuple[int, str]]]:
    found = {}
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        name = stream["logStreamName"]
        found[name] = [(e["timestamp"], e["message"]) for e in logs.get_log_events(
            logGroupName=group, logStreamName=name, startFromHead=True)["events"]]
    return found


def run_the_probe(box) -> tuple[str, str]:
    api = airflow(box)
    deadline = time.monotonic() + 180
    while api.dag("persist_probe") is None:
        assert time.monotonic() < deadline, "persist_probe never appeared in Airflow"
        time.sleep(2)
    api.set_paused("persist_probe", False)
    marker = uuid.uuid4().hex
    run_id = api.trigger("persist_probe", {"marker": marker})
    assert api.wait_run("persist_probe", run_id, timeout=300) == "success"
    return run_id, marker


def write_history(box) -> None:
    """Versions with delete markers between them (within a second or two), a secret, events."""
    s3 = client(box, "s3")
    for body in (b"one", b"two", None, b"three"):
        if body is None:
            s3.delete_object(Bucket=BUCKET, Key="data/x.txt")
        else:
            s3.put_object(Bucket=BUCKET, Key="data/x.txt", Body=body, ContentType="text/plain")
    s3.put_object(Bucket=BUCKET, Key="data/gone.txt", Body=b"deleted later")
    s3.delete_object(Bucket=BUCKET, Key="data/gone.txt")
    client(box, "secretsmanager").create_secret(Name="user/token", SecretString="kept")
    logs, now = client(box, "logs"), int(time.time() * 1000)
    logs.create_log_stream(logGroupName=TASK_GROUP, logStreamName="custom")
    logs.put_log_events(logGroupName=TASK_GROUP, logStreamName="custom",
                        logEvents=[{"timestamp": now - 1000 + i, "message": f"custom {i}"} for i in range(5)])


@pytest.mark.parametrize("runtime", ["native", pytest.param("compose", marks=pytest.mark.slow)])
def test_down_then_up_keeps_task_logs_s3_versions_and_secrets(sandbox_factory, runtime):
    extra = {}
    if runtime == "compose":
        from test_compose import free_subnet
        from test_compose_images import require_engine

        require_engine()
        extra["SANDBOX_COMPOSE_SUBNET"] = free_subnet()
    box = sandbox_factory(spec=SPEC, dags={"persist_probe.py": DAG}, extra_env=extra)
    try:
        check_down_then_up(box, runtime)
    finally:
        if runtime == "compose":
            box.run("reset", "--yes", timeout=300)  # the containers' volumes too


def check_down_then_up(box, runtime: str) -> None:
    box.run("up", "--runtime", runtime, check=True, timeout=1800)
    run_id, marker = run_the_probe(box)
    first_log = airflow(box).task_log("persist_probe", run_id, "speak", 1)
    assert f"persisted marker {marker}" in first_log, first_log
    write_history(box)
    before = {"versions": versions(client(box, "s3")),
              "events": stream_events(client(box, "logs"), TASK_GROUP)}
    assert any(name.startswith("dag_id=persist_probe/") for name in before["events"]), before["events"].keys()

    down = box.run("down", check=True, timeout=300)
    assert "kept " in down.stderr and "for the next `up`" in down.stderr, down.stderr
    manifest = json.loads((box.project / ".sandbox" / "aws-state" / "manifest.json").read_text())
    up = box.run("up", "--runtime", runtime, check=True, timeout=1800)
    assert "restored " in up.stderr and "version ids" in up.stderr, up.stderr

    log = airflow(box).task_log("persist_probe", run_id, "speak", 1)
    assert f"persisted marker {marker}" in log and "ResourceNotFoundException" not in log, log
    after = stream_events(client(box, "logs"), TASK_GROUP)
    assert {name: after[name] for name in before["events"]} == before["events"]
    now = versions(client(box, "s3"))
    for key in {k for k, _, _ in before["versions"]}:  # the deploy may only add newer versions on top
        older = [v for v in before["versions"] if v[0] == key]
        assert [v for v in now if v[0] == key][-len(older):] == older, key
    assert client(box, "secretsmanager").get_secret_value(SecretId="user/token")["SecretString"] == "kept"
    renamed = json.loads((box.project / ".sandbox" / "aws-state" / "manifest.json").read_text())
    old_ids = {v["id"] for b in manifest["buckets"] if b["name"] == BUCKET for o in b["objects"] for v in o["history"]}
    assert old_ids == set(renamed["restored_version_ids"][BUCKET])
