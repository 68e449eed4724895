"""`sandbox e2e` on the native runtime with the reference pipeline: the real DAGs, real Kafka and
Elasticsearch protocols, real Airflow."""

from __future__ import annotations

import json
import shutil

import boto3
import pytest

from conftest import REPO, make_sandbox, native_up

pytestmark = pytest.mark.integration

SPEC = """\
Name: e2e-env
AirflowVersion: "2.9.2"
EnvironmentClass: mw1.small
Schedulers: 2
MaxWorkers: 2
SourceBucketArn: arn:aws:s3:::e2e-bucket
DagS3Path: dags
RequirementsS3Path: requirements.txt
Secrets:
  MWAA_Secrets:
    Region: ap-southeast-2
    Value:
      kafka_bootstrap_server: "{{ kafka.bootstrap_servers }}"
      kafka_security_protocol: PLAINTEXT
      elasticsearch_URL: "{{ elasticsearch.url }}"
"""


@pytest.fixture(scope="module")
def box(module_scratch):
    sandbox = make_sandbox(module_scratch / "e2e", spec=SPEC)
    shutil.rmtree(sandbox.project / "dags")
    shutil.copytree(REPO / "dags", sandbox.project / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "tests" / "fixtures" / "e2e_dags" / "lossy_consumer.py", sandbox.project / "dags")
    shutil.copy(REPO / "requirements.txt", sandbox.project / "requirements.txt")
    with native_up(sandbox):
        yield sandbox


def e2e(box, *args: str) -> tuple[int, dict, str]:
    return box.e2e(*args)


def test_full_e2e_with_15000_records_passes(box):
    code, result, stderr = e2e(box, "--count", "15000", "--seed", "42")
    assert code == 0, json.dumps(result["check_details"], indent=1) + stderr
    assert result["passed"] is True
    assert (result["produced"], result["indexed"], result["lost"], result["duplicates"]) == (15000, 15000, 0, 0)
    assert set(result["checks"]) >= {"no_loss", "no_duplicates", "dead_letter", "producer_acknowledged",
                                     "query_errors_on_endpoint", "query_top_endpoints", "query_per_minute"}
    assert all(result["checks"].values())
    assert result["per_minute"], "the per-minute histogram had no buckets"
    junit = result["reports"]["junit"]
    assert 'failures="0"' in open(junit).read()
    assert "<svg" in open(result["reports"]["html"]).read()


def test_malformed_records_land_in_the_dead_letter_index(box):
    code, result, stderr = e2e(box, "--count", "500", "--malformed", "7")
    assert code == 0, json.dumps(result["check_details"], indent=1) + stderr
    assert (result["malformed"], result["dead_letter"]) == (7, 7)
    assert result["produced"] == result["indexed"] == 500


def test_a_consumer_that_loses_records_fails_naming_the_loss(box):
    code, result, _ = e2e(box, "--count", "15000", "--consumer", "lossy_consumer")
    assert code == 1
    assert result["passed"] is False and result["checks"]["no_loss"] is False
    loss = next(c for c in result["check_details"] if c["name"] == "no_loss")
    assert loss["detail"] == "lost 15000 of 15000"
    examples = result["examples"]["lost"]
    assert len(examples) == 5 and examples == sorted(examples, key=lambda e: (e["partition"], e["offset"]))
    assert all('"event_id"' in e["excerpt"] and e["count"] == 1 for e in examples)
    assert result["identity"].startswith("fingerprint of") and "event_id" in result["identity"]  # derived


def test_a_retry_after_indexing_before_commit_leaves_no_duplicates(box):
    code, result, stderr = e2e(box, "--count", "3000", "--consumer-conf", '{"fail_after_index_once": true}')
    assert code == 0, json.dumps(result["check_details"], indent=1) + stderr
    assert result["duplicates"] == 0 and result["lost"] == 0
    # The consumer really failed once and was retried.
    status = box.status()
    from urllib.request import Request, urlopen
    from base64 import b64encode

    url = f"http://127.0.0.1:{box.ports['airflow_port']}/api/v1/dags/log_consumer/dagRuns?order_by=-start_date&limit=1"
    request = Request(url, headers={"Authorization": "Basic " + b64encode(
        f"admin:{status['admin_password']}".encode()).decode()})
    run = json.loads(urlopen(request, timeout=10).read())["dag_runs"][0]
    tis = json.loads(urlopen(Request(url.split("?")[0] + f"/{run['dag_run_id']}/taskInstances",
                                     headers=request.headers), timeout=10).read())["task_instances"]
    assert max(ti["try_number"] for ti in tis) >= 2


def test_secrets_from_mwaa_yaml_exist_in_their_region(box):
    sm = boto3.client("secretsmanager", endpoint_url=f"http://127.0.0.1:{box.ports['aws_port']}",
                      region_name="ap-southeast-2", aws_access_key_id="test", aws_secret_access_key="test")
    value = json.loads(sm.get_secret_value(SecretId="MWAA_Secrets")["SecretString"])
    assert value == {"kafka_bootstrap_server": f"127.0.0.1:{box.ports['kafka_port']}",
                     "kafka_security_protocol": "PLAINTEXT",
                     "elasticsearch_URL": f"http://127.0.0.1:{box.ports['elasticsearch_port']}"}


def test_query_commands_answer_from_the_index(box):
    done = box.run("query", "top-endpoints", "--json", check=True)
    buckets = json.loads(done.stdout)["buckets"]
    assert 1 <= len(buckets) <= 3 and all(b["doc_count"] > 0 for b in buckets)
    done = box.run("query", "errors-on-endpoint", "--json", check=True)
    hits = json.loads(done.stdout)["hits"]
    assert hits and all(h["endpoint"] == "/services" and h["status"] == "500" for h in hits)


@pytest.mark.slow  # ~3 minutes; `make test` runs fresh-group and retry (pipelines), retry and broker-restart (compose)
def test_the_reference_pipeline_passes_every_scenario(box):
    from sandbox.e2e.faults import SCENARIOS

    code, result, stderr = e2e(box, "--count", "10000", "--scenarios", "all")
    verdicts = {s["name"]: (s["status"], s["detail"]) for s in result["scenarios"]}
    assert code == 0, json.dumps(verdicts, indent=1) + stderr
    assert {name: status for name, (status, _) in verdicts.items()} == {name: "passed" for name in SCENARIOS}
    assert [g["verdict"] for g in result["guarantees"]] == ["holds"] * 4
    assert "killed with SIGKILL" in verdicts["retry"][1]
    junit = open(result["reports"]["junit"]).read()
    assert 'name="retry/no_duplicates"' in junit and 'name="es-restart/no_loss"' in junit
