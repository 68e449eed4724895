"""`sandbox up --runtime compose` for real (locally built images where no registry answers, as
here): every service healthy from the host,
the e2e proof through the containers, logs, and `reset` leaving nothing behind. Needs a Docker
engine: without one this fails, unless SANDBOX_SKIP_DOCKER_TESTS=1 (then skipped, saying why)."""

from __future__ import annotations

import ipaddress
import os
import json
import random
import shutil
import signal
import subprocess
import time
import urllib.request

import boto3
import pytest

from conftest import REPO, make_sandbox
from test_compose_images import docker, require_engine

pytestmark = pytest.mark.integration

SPEC = """\
Name: compose-env
AirflowVersion: "2.9.2"
EnvironmentClass: mw1.small
Schedulers: 2
MaxWorkers: 2
SourceBucketArn: arn:aws:s3:::compose-bucket
DagS3Path: dags
RequirementsS3Path: requirements.txt
StartupScriptS3Path: startup.sh
AirflowConfigurationOptions:
  scheduler.scheduler_zombie_task_threshold: "60"  # the worker-kill scenario's retry comes in ~70 s
"""


def free_subnet() -> str:
    """A /24 no Docker network on this machine uses, so parallel runs never clash."""
    from sandbox.runtime.compose.engine import network_subnets

    taken = [ipaddress.ip_network(n, strict=False) for nets in network_subnets().values() for n in nets]
    candidates = [ipaddress.ip_network(f"172.{a}.{b}.0/24") for a in range(29, 31) for b in range(0, 256)]
    random.shuffle(candidates)
    return str(next(c for c in candidates if not any(c.overlaps(t) for t in taken)))


@pytest.fixture(scope="module")
def box(module_scratch):
    require_engine()
    sandbox = make_sandbox(module_scratch / "compose", spec=SPEC,
                           extra_env={"SANDBOX_COMPOSE_SUBNET": free_subnet()})
    shutil.rmtree(sandbox.project / "dags")
    shutil.copytree(REPO / "dags", sandbox.project / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "requirements.txt", sandbox.project / "requirements.txt")
    # proves where the script ran: that folder exists only in the Airflow image
    (sandbox.project / "startup.sh").write_text('export SANDBOX_IT_MARKER="ran in $(ls -d /opt/airflow/venv)"\n')
    try:
        done = sandbox.run("up", "--runtime", "compose", timeout=1800)
        assert done.returncode == 0, f"up failed:\n{done.stdout}\n{done.stderr}"
        sandbox.up_output = done.stdout + done.stderr
        yield sandbox
    finally:
        sandbox.run("reset", "--yes", timeout=300)


def project_of(box) -> str:
    from sandbox.runtime.compose.runtime import project_name
    from sandbox.settings import load_settings

    return project_name(load_settings(box.project, environ=box.env))


def registry_answers() -> bool:
    from sandbox.runtime.compose.buildlog import registry_unreachable

    pulled = subprocess.run(["docker", "pull", "python:3.11-slim-bookworm"], capture_output=True, text=True,
                            timeout=600)
    return pulled.returncode == 0 or not registry_unreachable(pulled.stdout + pulled.stderr)


def test_auto_image_mode_follows_the_registry(box):
    """Nobody asked for registry images: with no registry answering, `up` builds every image
    locally and says so in one line; later commands keep that mode."""
    mode = (box.project / ".sandbox" / "compose" / "images-mode").read_text().strip()
    if registry_answers():
        assert mode == "registry"
        return
    assert mode == "offline"
    lines = [l for l in box.up_output.splitlines() if "no container registry answers" in l]
    assert len(lines) == 1 and "building every image locally" in lines[0]


def test_every_service_is_healthy_and_reachable_from_the_host(box):
    status = box.status()
    assert status["runtime"] == "compose"
    states = {row["service"]: row["state"] for row in status["services"]}
    assert states.pop("airflow-init") == "done"
    assert set(states.values()) == {"running"}, states
    ports = box.ports
    with urllib.request.urlopen(f"http://127.0.0.1:{ports['airflow_port']}/health", timeout=10) as answer:
        health = json.load(answer)
    assert {health[k]["status"] for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")} == {"healthy"}
    with urllib.request.urlopen(f"http://127.0.0.1:{ports['elasticsearch_port']}/_cluster/health", timeout=10) as answer:
        assert json.load(answer)["status"] in ("green", "yellow")
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{ports['aws_port']}", region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    assert "compose-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    from kafka import KafkaConsumer  # through the published port, then the broker's advertised address

    consumer = KafkaConsumer(bootstrap_servers=f"127.0.0.1:{ports['kafka_port']}", request_timeout_ms=10000)
    try:
        assert "AWS-MWAA-Production" in consumer.topics()
    finally:
        consumer.close()
    from sandbox.services import postgres

    probe = subprocess.run([str(postgres.binary("psql")), "-h", "127.0.0.1", "-p", str(ports["postgres_port"]),
                            "-U", "airflow", "-d", "airflow", "-tAc", "select count(*) from ab_user"],
                           env={**postgres.lib_env()}, capture_output=True, text=True, timeout=30)
    assert probe.returncode == 0 and probe.stdout.strip() == "1", probe.stderr


def test_the_startup_script_ran_in_the_image_and_its_export_reaches_airflow(box):
    name = project_of(box)
    container = docker("ps", "--quiet", "--filter", f"label=com.docker.compose.project={name}",
                       "--filter", "label=com.docker.compose.service=airflow-scheduler").stdout.split()[0]
    seen = docker("exec", container, "printenv", "SANDBOX_IT_MARKER").stdout.strip()
    assert seen == "ran in /opt/airflow/venv"
    logs = boto3.client("logs", endpoint_url=f"http://127.0.0.1:{box.ports['aws_port']}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")
    streams = logs.describe_log_streams(logGroupName="airflow-compose-env-Scheduler",
                                        logStreamNamePrefix="startup_script_execution_")["logStreams"]
    assert streams, "the startup script's log did not reach CloudWatch"


def test_e2e_proof_through_the_containers(box):
    done = box.run("e2e", "--json", "--count", "3000", "--seed", "7", timeout=900)
    result = json.loads(done.stdout)
    assert done.returncode == 0, json.dumps(result.get("check_details"), indent=1) + done.stderr
    assert (result["produced"], result["indexed"], result["lost"], result["duplicates"]) == (3000, 3000, 0, 0)
    assert all(result["checks"].values())


def test_retry_and_broker_restart_scenarios_through_the_containers(box):
    """The task process killed inside a worker container, Kafka's container restarted."""
    code, result, stderr = box.e2e("--count", "20000", "--scenarios", "retry,broker-restart")
    verdicts = {s["name"]: (s["status"], s["detail"]) for s in result["scenarios"]}
    assert code == 0, json.dumps(result["scenarios"], indent=1) + stderr
    assert {name: status for name, (status, _) in verdicts.items()} == {"retry": "passed", "broker-restart": "passed"}
    assert "killed with SIGKILL" in verdicts["retry"][1] and "kafka restarted" in verdicts["broker-restart"][1]


@pytest.mark.slow  # ~90 s: the zombie threshold (60 s here) before the retry
def test_a_worker_container_killed_mid_batch_loses_nothing(box):
    """The worker's container killed under the consumer's task: Docker replaces it, the task is
    retried, the reference pair loses nothing."""
    code, result, stderr = box.e2e("--count", "20000", "--scenarios", "worker-kill")
    killed = {s["name"]: s for s in result["scenarios"]}["worker-kill"]
    assert code == 0 and killed["status"] == "passed", json.dumps(result["scenarios"], indent=1) + stderr
    assert "Celery worker" in killed["detail"]
    worker = {r["service"]: r for r in box.status()["services"]}["airflow-worker-1"]
    assert worker["restarts"] >= 1 and worker["state"] == "running", worker


def test_logs_come_from_the_containers(box):
    done = box.run("logs", "dagsync", "-n", "500", "--json", check=True)
    payload = json.loads(done.stdout)
    assert payload["runtime"] == "compose"
    assert any(line.startswith("dagsync: every 30 s") for line in payload["lines"]), payload["lines"]
    last = json.loads(box.run("logs", "dagsync", "-n", "3", "--json", check=True).stdout)["lines"]
    assert last == payload["lines"][-3:]
    unknown = box.run("logs", "nosuch")
    assert unknown.returncode != 0 and "no service named 'nosuch'" in unknown.stderr


def test_component_logs_reach_their_cloudwatch_groups(box):
    logs = boto3.client("logs", endpoint_url=f"http://127.0.0.1:{box.ports['aws_port']}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")
    wanted = {"Scheduler": "scheduler_", "WebServer": "webserver_", "DAGProcessing": ""}
    deadline = time.monotonic() + 90
    while True:
        missing = {}
        for suffix, prefix in wanted.items():
            streams = logs.describe_log_streams(logGroupName=f"airflow-compose-env-{suffix}")["logStreams"]
            names = [s["logStreamName"] for s in streams if s["logStreamName"].startswith(prefix)
                     and not s["logStreamName"].startswith("startup_script_execution")]
            shipped = [n for n in names if logs.get_log_events(logGroupName=f"airflow-compose-env-{suffix}",
                                                               logStreamName=n, limit=1)["events"]]
            if not shipped:
                missing[suffix] = [s["logStreamName"] for s in streams]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert not missing, f"no shipped component log in {missing}"


def test_requirements_check_and_parse_work_beside_the_containers(box):
    done = box.run("requirements", "check", "--json", timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    logs = boto3.client("logs", endpoint_url=f"http://127.0.0.1:{box.ports['aws_port']}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")
    streams = logs.describe_log_streams(logGroupName="airflow-compose-env-Worker",
                                        logStreamNamePrefix="requirements_install_")["logStreams"]
    assert streams, "the check's log did not reach the running sandbox's CloudWatch"
    parsed = box.run("parse", "--json", timeout=900)
    payload = json.loads(parsed.stdout)
    assert parsed.returncode == 0 and payload["import_errors"] == [], parsed.stdout + parsed.stderr
    assert {"log_producer", "log_consumer"} <= set(payload["dags"])


def test_a_killed_worker_container_is_replaced_and_status_says_why(box):
    """MWAA replaces a failed container: Docker's restart policy does, and `status` shows the
    restart with the exit code and the last log line, as the native supervisor's does."""
    container = f"{project_of(box)}-airflow-worker-1-1"
    pid = int(subprocess.run(["docker", "inspect", "--format", "{{.State.Pid}}", container],
                             capture_output=True, text=True, check=True, timeout=30).stdout)
    os.kill(pid, signal.SIGKILL)  # from the host: the container dies as on a crash
    deadline = time.monotonic() + 120
    row: dict = {}
    while time.monotonic() < deadline:
        row = {r["service"]: r for r in box.status()["services"]}["airflow-worker-1"]
        if row["restarts"] >= 1 and row["state"] == "running":
            break
        time.sleep(3)
    assert row["restarts"] >= 1 and row["state"] == "running", row
    assert "last restart: exit code 137" in row["detail"] and "last log line:" in row["detail"], row


def test_a_second_up_reports_the_running_sandbox(box):
    done = box.run("up", timeout=600)
    assert done.returncode == 0, done.stderr
    assert "already running" in done.stdout


def test_a_changed_requirements_txt_is_applied_by_running_up_again(box):
    requirements = box.project / "requirements.txt"
    requirements.write_text(requirements.read_text() + "pyjokes==0.6.0\n")  # tiny, not in MWAA's set
    done = box.run("up", timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already running" not in done.stdout  # a new project image, Airflow's containers recreated
    name = project_of(box)
    container = docker("ps", "--quiet", "--filter", f"label=com.docker.compose.project={name}",
                       "--filter", "label=com.docker.compose.service=airflow-scheduler").stdout.split()[0]
    assert docker("exec", container, "python", "-c", "import pyjokes; print(pyjokes.__version__)").stdout.strip() \
        == "0.6.0"
    assert box.status()["environment"]["state"] == "AVAILABLE"


def test_down_keeps_data_and_reset_leaves_nothing_behind(box):
    name = project_of(box)
    label = f"label=com.docker.compose.project={name}"
    box.run("down", check=True, timeout=300)
    assert docker("ps", "--quiet", "--filter", label).stdout.strip() == ""  # nothing running
    assert docker("volume", "ls", "--quiet", "--filter", label).stdout.strip() != ""  # data kept
    box.run("reset", "--yes", check=True, timeout=300)
    for kind in ("ps", "volume", "network"):
        args = [kind, "--all"] if kind == "ps" else [kind, "ls"]
        left = docker(*args, "--quiet", "--filter", label).stdout.strip()
        assert left == "", f"{kind} left behind: {left}"
