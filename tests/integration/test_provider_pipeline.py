"""A pipeline on Airflow's own Kafka provider (ProduceToTopicOperator, ConsumeFromTopicOperator)
proved by `sandbox e2e` (native runtime), its connection `kafka_pipeline` declared as MWAA users
declare it: a nested Secrets Manager secret read through SecretsManagerBackend. The connection is
shown to come from that backend alone (the task's backends, Airflow's metadata database), and
the same DAGs fail with the provider's connection-not-found error once the secret is gone. The
seeded connections work with the providers' hooks, and the reference pipeline still passes."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from conftest import REPO, make_sandbox, native_up
from sandbox.e2e.airflow_api import AirflowApi, AirflowApiError
from sandbox.services import aws
from sandbox.settings import load_settings

pytestmark = pytest.mark.integration

FIXTURE = REPO / "tests" / "fixtures" / "pipelines" / "provider"
SECRET = "airflow/connections/kafka_pipeline"
PAIR = ("--producer", "provider_producer", "--consumer", "provider_consumer",
        "--topic", "provider-events", "--index", "provider-events", "--identity", "event_id")
NOT_DEFINED = "The conn_id `kafka_pipeline` isn't defined"


@pytest.fixture(scope="module")
def box(module_scratch):
    sandbox = make_sandbox(module_scratch / "provider", spec=(FIXTURE / "mwaa.yaml").read_text())
    shutil.copytree(FIXTURE / "dags", sandbox.project / "dags", dirs_exist_ok=True)
    # the reference pipeline beside it: its producer gets kafka_default's group.id too
    shutil.copytree(REPO / "dags", sandbox.project / "dags", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(FIXTURE / "requirements.txt", sandbox.project / "requirements.txt")
    with native_up(sandbox):
        yield sandbox


def api(box) -> AirflowApi:
    return AirflowApi(f"http://127.0.0.1:{box.ports['airflow_port']}", "admin", box.status()["admin_password"])


def secrets_client(box):
    return aws.client(load_settings(box.project, environ=box.env), "secretsmanager")


def test_the_provider_pipeline_passes_with_its_connection_from_secrets_manager(box):
    code, result, stderr = box.e2e(*PAIR, "--count", "1000")
    assert code == 0, json.dumps(result["check_details"], indent=1) + stderr
    assert (result["produced"], result["indexed"], result["lost"], result["duplicates"]) == (1000, 1000, 0, 0)
    statuses = {c["name"]: c["status"] for c in result["check_details"]}
    # the producer's own count is compared for the reference pair only (ProduceToTopicOperator
    # returns none): a user pipeline's checks are the truth's, each OK
    assert "producer_acknowledged" not in statuses and {"no_loss", "no_duplicates"} <= set(statuses)
    assert set(statuses.values()) == {"OK"}, result["check_details"]
    with pytest.raises(AirflowApiError, match=" 404:"):  # not in Airflow's metadata database
        api(box).call("GET", "/connections/kafka_pipeline")


def test_a_task_finds_kafka_pipeline_only_in_secrets_manager_and_the_seeded_ones_work_with_the_hooks(box):
    client = api(box)
    client.set_paused("connections_check", False)
    run_id = client.trigger("connections_check", {})
    state = client.wait_run("connections_check", run_id, timeout=300, interval=2)
    assert state == "success", client.task_log("connections_check", run_id, "report", 1)[-3000:]
    facts = client.xcom("connections_check", run_id, "report")
    assert facts["kafka_pipeline_from"] == ["SecretsManagerBackend"], facts
    assert facts["consumer_topics"] >= 1 and facts["producer_topics"] >= 1, facts
    assert "provider-pipeline-bucket" in facts["buckets"], facts
    assert facts["aws_region"] == load_settings(box.project, environ=box.env).aws_region


@pytest.mark.slow  # ~70 s; the reference pair runs on the seeded kafka_default in test_e2e.py too
def test_the_reference_pipeline_still_passes_with_the_group_in_kafka_default(box):
    """Its producer and admin client get kafka_default's group.id, which librdkafka ignores with a
    warning; its consumer sets its own group."""
    code, result, stderr = box.e2e("--count", "1000")
    assert code == 0, json.dumps(result["check_details"], indent=1) + stderr
    assert (result["produced"], result["lost"], result["duplicates"]) == (1000, 0, 0)


@pytest.mark.slow  # ~50 s; the connection's source is proven by the task that asks each backend
def test_without_the_secret_the_same_dags_fail_with_the_connection_not_found(box):
    client = secrets_client(box)
    value = client.get_secret_value(SecretId=SECRET)["SecretString"]
    client.delete_secret(SecretId=SECRET, ForceDeleteWithoutRecovery=True)
    try:
        done = box.run("e2e", *PAIR, "--count", "10", timeout=600)
        assert done.returncode != 0, done.stdout
        assert "provider_producer run" in done.stderr and "ended failed" in done.stderr, done.stderr
        # the e2e shows the failed task's log tail; the Task log group has it in any case
        assert NOT_DEFINED in done.stderr or NOT_DEFINED in _task_log_lines(box, NOT_DEFINED), done.stderr
    finally:
        client.create_secret(Name=SECRET, SecretString=value)


def _task_log_lines(box, text: str, timeout: float = 60) -> str:
    """The Task log group's lines naming kafka_pipeline, once `text` has been shipped there."""
    deadline = time.monotonic() + timeout
    while True:
        found = box.run("logs", "tail", "Task", "--filter", "kafka_pipeline", "--since", "15m").stdout
        if text in found or time.monotonic() > deadline:
            return found
        time.sleep(5)
