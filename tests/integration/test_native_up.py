"""`sandbox up` on the native runtime, checked from outside with real clients."""

from __future__ import annotations

import json
import time
import uuid
from base64 import b64encode
from urllib.parse import quote
from urllib.request import Request, urlopen

import boto3
import psutil
import pytest

from conftest import make_sandbox

pytestmark = pytest.mark.integration

SPEC = """\
Name: it-env
AirflowVersion: "2.9.2"
EnvironmentClass: mw1.small
Schedulers: 2
MinWorkers: 1
MaxWorkers: 2
SourceBucketArn: arn:aws:s3:::it-dags-bucket
DagS3Path: dags
StartupScriptS3Path: startup.sh
"""

# A tiny DAG: its task calls boto3 with no endpoint, in another region, and records what it saw.
PROBE_DAG = '''
"""it_probe: writes its environment to S3. Expected outcome: success."""
import json, os
import pendulum
from airflow.decorators import dag, task

@dag(dag_id="it_probe", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def it_probe():
    @task
    def record(**context):
        import boto3
        seen = {k: os.environ.get(k) for k in ("AWS_EXECUTION_ENV", "AIRFLOW_ENV_NAME", "AIRFLOW_VERSION",
                                                "ENVIRONMENT_STAGE", "PYTHONPATH")}
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.put_object(Bucket="it-dags-bucket", Key="probe/" + context["run_id"] + ".json",
                      Body=json.dumps(seen).encode())
    record()

it_probe()
'''


@pytest.fixture(scope="module")
def box(module_scratch):
    # Starts with an empty dags folder (the DAG processor must survive that); the DAG comes later.
    sandbox = make_sandbox(module_scratch / "native", spec=SPEC)
    # MWAA runs startup.sh first: its exports reach Airflow, protected ones are reset.
    (sandbox.project / "startup.sh").write_text(
        "#!/bin/bash\nexport ENVIRONMENT_STAGE=integration\nexport PYTHONPATH=/nowhere\n")
    started = time.monotonic()
    done = sandbox.run("up", "--runtime", "native")
    sandbox.up_seconds = time.monotonic() - started
    try:
        assert done.returncode == 0, f"up failed:\n{done.stdout}\n{done.stderr}"
        yield sandbox
    finally:
        sandbox.run("down", timeout=180)


def api(box, method: str, path: str, body: dict | None = None) -> dict:
    password = box.status()["admin_password"]
    request = Request(f"http://127.0.0.1:{box.ports['airflow_port']}/api/v1{path}", method=method,
                      data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Authorization", "Basic " + b64encode(f"admin:{password}".encode()).decode())
    request.add_header("Content-Type", "application/json")
    with urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def aws(box, service: str, region: str = "us-east-1"):
    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{box.ports['aws_port']}",
                        region_name=region, aws_access_key_id="test", aws_secret_access_key="test")


def test_every_service_is_running_on_its_port(box):
    status = box.status()
    states = {s["service"]: s["state"] for s in status["services"]}
    assert set(states.values()) == {"running"}, states
    assert states.keys() >= {"postgres", "kafka", "elasticsearch", "aws", "dagsync", "logship", "airflow-scheduler",
                             "airflow-scheduler-2", "airflow-dag-processor", "airflow-triggerer",
                             "airflow-webserver"}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port in box.ports.values():
            assert conn.laddr.ip == "127.0.0.1", conn


def test_password_is_generated_and_private(box):
    password = box.status()["admin_password"]
    assert password and password != "admin" and len(password) >= 16
    mode = (box.project / ".sandbox" / "admin-password").stat().st_mode & 0o777
    assert mode == 0o600


def test_kafka_produce_and_consume(box):
    from kafka import KafkaConsumer, KafkaProducer

    bootstrap = f"127.0.0.1:{box.ports['kafka_port']}"
    topic = f"it-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    sent = [f"message-{i}".encode() for i in range(20)]
    for value in sent:
        producer.send(topic, value)
    producer.flush(timeout=30)
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             group_id=f"g-{topic}", consumer_timeout_ms=10000)
    received = [m.value for m in consumer]
    consumer.close()
    assert received == sent


def test_elasticsearch_index_and_search(box):
    base = f"http://127.0.0.1:{box.ports['elasticsearch_port']}"

    def call(method, path, body=None):
        req = Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                      headers={"Content-Type": "application/json"})
        with urlopen(req, timeout=10) as response:
            return json.loads(response.read())

    call("PUT", "/it-docs/_doc/1?refresh=true", {"endpoint": "/services", "status": 500})
    call("PUT", "/it-docs/_doc/2?refresh=true", {"endpoint": "/home", "status": 200})
    hits = call("POST", "/it-docs/_search", {"query": {"term": {"status": 500}}})["hits"]
    assert hits["total"]["value"] == 1
    assert hits["hits"][0]["_source"]["endpoint"] == "/services"


def test_s3_bucket_is_versioned_and_kms_encrypted(box):
    s3 = aws(box, "s3")
    assert s3.get_bucket_versioning(Bucket="it-dags-bucket")["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket="it-dags-bucket")[
        "ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] == "aws:kms"
    key_arn = rule["KMSMasterKeyID"]
    assert aws(box, "kms").describe_key(KeyId=key_arn)["KeyMetadata"]["Arn"] == key_arn
    first = s3.put_object(Bucket="it-dags-bucket", Key="dags/a.py", Body=b"one")
    second = s3.put_object(Bucket="it-dags-bucket", Key="dags/a.py", Body=b"two")
    assert first["VersionId"] != second["VersionId"]
    assert second["ServerSideEncryption"] == "aws:kms"
    assert s3.get_object(Bucket="it-dags-bucket", Key="dags/a.py")["Body"].read() == b"two"
    old = s3.get_object(Bucket="it-dags-bucket", Key="dags/a.py", VersionId=first["VersionId"])
    assert old["Body"].read() == b"one"


def test_the_five_log_groups_exist(box):
    groups = {g["logGroupName"] for g in aws(box, "logs").describe_log_groups()["logGroups"]}
    assert {f"airflow-it-env-{s}" for s in ("DAGProcessing", "Scheduler", "Task", "WebServer", "Worker")} <= groups


def test_rest_api_lists_the_dag_and_a_run_succeeds(box):
    # MWAA's path: the file goes to S3 (deploy); the sync loop brings it into Airflow's dags folder.
    (box.project / "dags" / "it_probe.py").write_text(PROBE_DAG)
    box.run("deploy", check=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if "it_probe" in {d["dag_id"] for d in api(box, "GET", "/dags")["dags"]}:
            break
        time.sleep(2)
    else:
        pytest.fail("it_probe never appeared in /api/v1/dags")
    api(box, "PATCH", "/dags/it_probe", {"is_paused": False})
    run_id = api(box, "POST", "/dags/it_probe/dagRuns", {})["dag_run_id"]
    state = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = api(box, "GET", f"/dags/it_probe/dagRuns/{run_id}")["state"]
        if state in ("success", "failed"):
            break
        time.sleep(2)
    assert state == "success"
    body = aws(box, "s3").get_object(Bucket="it-dags-bucket", Key=f"probe/{run_id}.json")["Body"].read()
    seen = json.loads(body)
    assert seen["ENVIRONMENT_STAGE"] == "integration"  # exported by startup.sh
    assert seen["PYTHONPATH"] != "/nowhere"  # protected: MWAA keeps its own
    assert {k: seen[k] for k in ("AWS_EXECUTION_ENV", "AIRFLOW_ENV_NAME", "AIRFLOW_VERSION")} == {
        "AWS_EXECUTION_ENV": "Amazon_MWAA_292", "AIRFLOW_ENV_NAME": "it-env", "AIRFLOW_VERSION": "2.9.2"}


def test_second_up_reports_the_running_sandbox(box):
    done = box.run("up")
    assert done.returncode == 0, done.stderr
    assert "already running" in done.stdout


def test_task_logs_go_to_cloudwatch_and_read_back_through_the_api(box):
    runs = api(box, "GET", "/dags/it_probe/dagRuns?order_by=-start_date&limit=1")["dag_runs"]
    assert runs, "the DAG run test must have run first"
    run_id = runs[0]["dag_run_id"]
    streams = aws(box, "logs").describe_log_streams(logGroupName="airflow-it-env-Task")["logStreams"]
    names = [s["logStreamName"] for s in streams]
    assert any(n.startswith("dag_id=it_probe/") and n.endswith("task_id=record/attempt=1.log") for n in names), names
    password = box.status()["admin_password"]
    request = Request(f"http://127.0.0.1:{box.ports['airflow_port']}/api/v1/dags/it_probe/dagRuns/"
                      f"{quote(run_id)}/taskInstances/record/logs/1",
                      headers={"Accept": "text/plain", "Authorization": "Basic " + b64encode(
                          f"admin:{password}".encode()).decode()})
    text = urlopen(request, timeout=10).read().decode()
    assert "Reading remote log from Cloudwatch log_group: airflow-it-env-Task" in text
    assert "Task exited with return code 0" in text or "Marking task as SUCCESS" in text


def test_component_logs_are_shipped_to_their_groups(box):
    logs = aws(box, "logs")
    deadline = time.monotonic() + 60
    while True:
        streams = {g: [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=f"airflow-it-env-{g}")["logStreams"]]
                   for g in ("Scheduler", "WebServer", "DAGProcessing")}
        ok = (any(n.startswith("scheduler_") for n in streams["Scheduler"])
              and any(n.startswith("triggerer_") for n in streams["Scheduler"])
              and any(n.startswith("webserver_") for n in streams["WebServer"])
              and "scheduler_it_probe.py.log" in streams["DAGProcessing"])
        if ok or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert ok, streams
    events = logs.get_log_events(logGroupName="airflow-it-env-DAGProcessing",
                                 logStreamName="scheduler_it_probe.py.log")["events"]
    assert any("it_probe.py" in e["message"] for e in events)


FAILING_DAG = '''
"""it_fails: one task that raises. Expected outcome: the run fails; its log is in CloudWatch."""
import pendulum
from airflow.decorators import dag, task

@dag(dag_id="it_fails", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def it_fails():
    @task(retries=0)
    def explode():
        raise ValueError("boom from it_fails")
    explode()

it_fails()
'''


def test_insights_filter_and_stats_find_the_failed_task(box):
    (box.project / "dags" / "it_fails.py").write_text(FAILING_DAG)
    box.run("deploy", check=True)
    deadline = time.monotonic() + 120
    while not any(d["dag_id"] == "it_fails" for d in api(box, "GET", "/dags")["dags"]):
        assert time.monotonic() < deadline, "it_fails never appeared"
        time.sleep(2)
    api(box, "PATCH", "/dags/it_fails", {"is_paused": False})
    run_id = api(box, "POST", "/dags/it_fails/dagRuns", {})["dag_run_id"]
    deadline = time.monotonic() + 180
    while (state := api(box, "GET", f"/dags/it_fails/dagRuns/{run_id}")["state"]) not in ("success", "failed"):
        assert time.monotonic() < deadline, "it_fails never finished"
        time.sleep(2)
    assert state == "failed"
    logs = aws(box, "logs")
    [stream] = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName="airflow-it-env-Task")["logStreams"]
                if s["logStreamName"].startswith("dag_id=it_fails/")]
    raw = [e["message"] for e in logs.get_log_events(logGroupName="airflow-it-env-Task", logStreamName=stream)["events"]]
    expected_errors = sum("boom from it_fails" in m for m in raw)  # counted by hand, not by the evaluator
    assert expected_errors >= 1
    query = ('filter @logStream like /it_fails/ and @message like "boom from it_fails" '
             "| stats count(*) as errors by @logStream")
    done = box.run("logs", "insights", query, "--group", "Task", "--json", check=True)
    rows = json.loads(done.stdout)["results"]
    assert rows == [{"@logStream": stream, "errors": str(expected_errors)}]


def test_down_leaves_nothing_then_up_reuses_the_environment(box):
    listed = {s["pid"]: s["service"] for s in box.status()["services"] if s["pid"]}
    pids, family, vanished = list(listed), [], []
    for pid, service in listed.items():
        try:
            proc = psutil.Process(pid)
            family += [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            vanished.append(service)
    # only a worker autoscaling removed may go between `status` and here
    assert all(s.startswith("airflow-worker-") for s in vanished), vanished
    assert len(family) > len(pids)
    done = box.run("down", check=True)
    assert "Stopped" in done.stdout
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
    assert {s["state"] for s in box.status()["services"]} == {"stopped"}
    again = box.run("up", check=True)
    assert "airflow-env: cached" in again.stderr
    assert "migrated" not in again.stderr  # the database is kept across down/up
    assert {s["state"] for s in box.status()["services"]} == {"running"}
