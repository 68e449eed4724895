"""`sandbox e2e` on users' own pipelines (native runtime): a scheduled Apache combined-log pipeline
proved by a derived fingerprint with the reference queries computed from the parsed lines, its
own schedule held or accounted for; an unreadable record format proved by Kafka coordinates with
the queries SKIPPED; a DAG id that does not exist failing at once; the fresh-group and retry
scenarios catching a `latest` offset reset and non-idempotent writes."""

from __future__ import annotations

import json
import shutil
import time
from base64 import b64encode
from urllib.request import Request, urlopen

import pytest

from conftest import REPO, make_sandbox, native_up

pytestmark = pytest.mark.integration

SPEC = """\
Name: pipelines-env
AirflowVersion: "2.9.2"
EnvironmentClass: mw1.small
Schedulers: 2
MinWorkers: 2
MaxWorkers: 2
SourceBucketArn: arn:aws:s3:::pipelines-bucket
DagS3Path: dags
RequirementsS3Path: requirements.txt
AirflowConfigurationOptions:
  # a killed worker's task is found a zombie after 60 s instead of 300 s: the worker-kill scenario
  scheduler.scheduler_zombie_task_threshold: "60"
"""
APACHE = ("--producer", "apache_producer", "--consumer", "apache_consumer",
          "--topic", "apache-weblogs", "--index", "apache-weblogs")
QUERIES = ("query_errors_on_endpoint", "query_top_endpoints", "query_per_minute")


@pytest.fixture(scope="module")
def box(module_scratch):
    sandbox = make_sandbox(module_scratch / "pipelines", spec=SPEC)
    for name in ("apache_pipeline.py", "pipe_pipeline.py", "latest_consumer.py"):
        shutil.copy(REPO / "tests" / "fixtures" / "pipelines" / name, sandbox.project / "dags")
    shutil.copytree(REPO / "tests" / "fixtures" / "pipelines" / "parsers", sandbox.project / "parsers")
    for name in ("log_producer.py", "log_consumer.py"):  # the reference pair, for the worker-kill scenario
        shutil.copy(REPO / "dags" / name, sandbox.project / "dags")
    shutil.copytree(REPO / "dags" / "weblogs", sandbox.project / "dags" / "weblogs",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "requirements.txt", sandbox.project / "requirements.txt")
    with native_up(sandbox):
        yield sandbox


def e2e(box, *args: str) -> tuple[int, dict, str]:
    return box.e2e(*args)


def api(box, path: str) -> dict:
    password = box.status()["admin_password"]
    request = Request(f"http://127.0.0.1:{box.ports['airflow_port']}/api/v1{path}",
                      headers={"Authorization": "Basic " + b64encode(f"admin:{password}".encode()).decode()})
    return json.loads(urlopen(request, timeout=10).read())


def details(result: dict) -> dict:
    return {c["name"]: c for c in result["check_details"]}


def test_with_schedule_every_scheduled_run_is_accounted_for(box):
    """Unpausing a cron DAG with catchup=False starts a scheduled run at once: both DAGs' runs
    interleave with the proof's, and identity accounting reports no false duplicates."""
    code, result, stderr = e2e(box, *APACHE, "--count", "2000", "--seed", "7", "--with-schedule")
    assert code == 0, json.dumps(result["check_details"], indent=1) + stderr
    assert (result["lost"], result["duplicates"]) == (0, 0)
    assert result["produced"] >= 2000  # the scheduled producer run's records are in the range too
    kinds = {(r["dag_id"], r["run_type"]) for r in result["runs"]}
    assert ("apache_producer", "scheduled") in kinds and ("apache_producer", "manual") in kinds
    assert all(r["state"] == "success" for r in result["runs"])


def test_held_schedule_lets_only_the_proof_run_and_queries_come_from_apache_lines(box):
    deadline = time.monotonic() + 120
    while not all(api(box, f"/dags/{d}").get("next_dagrun_create_after") for d in ("apache_producer", "apache_consumer")):
        assert time.monotonic() < deadline, "Airflow never scheduled the next runs again"
        time.sleep(3)
    code, result, stderr = e2e(box, *APACHE, "--count", "2000", "--seed", "11")
    assert code == 0, json.dumps(result["check_details"], indent=1) + stderr
    assert (result["produced"], result["indexed"], result["lost"], result["duplicates"]) == (2000, 2000, 0, 0)
    assert sorted((r["dag_id"], r["run_type"]) for r in result["runs"]) == [
        ("apache_consumer", "manual"), ("apache_producer", "manual")]
    assert result["identity"].startswith("fingerprint") and "timestamp" in result["identity"]
    assert result["record_format"] == "apache-combined"
    checks = details(result)
    assert all(checks[q]["status"] == "OK" for q in QUERIES), checks
    assert result["per_minute"] and sum(m["expected"] for m in result["per_minute"]) > 0
    assert api(box, "/dags/apache_producer")["is_paused"] is True  # paused again, as it was


def test_an_unreadable_format_is_proved_by_coordinates_and_its_queries_skipped(box):
    code, result, stderr = e2e(box, "--producer", "pipe_producer", "--consumer", "pipe_consumer",
                               "--topic", "pipe-records", "--index", "pipe-records", "--count", "300")
    assert code == 0, json.dumps(result["check_details"], indent=1) + stderr
    assert (result["produced"], result["lost"], result["duplicates"]) == (300, 0, 0)
    assert result["identity"].startswith("Kafka coordinates")
    checks = details(result)
    for name in QUERIES:
        assert checks[name]["status"] == "SKIPPED" and "unknown record format" in checks[name]["detail"]
        assert result["checks"][name] is None
    assert 'skipped="3"' in open(result["reports"]["junit"]).read()


def test_a_parser_in_the_project_reads_the_records_and_names_what_the_queries_lack(box):
    code, result, stderr = e2e(box, "--producer", "pipe_producer", "--consumer", "pipe_consumer",
                               "--topic", "pipe-records", "--index", "pipe-records", "--count", "200",
                               "--format", "parsers.pipe.parse")
    assert code == 0, json.dumps(result["check_details"], indent=1) + stderr
    assert result["record_format"] == "parsers.pipe.parse" and (result["lost"], result["duplicates"]) == (0, 0)
    for check in (c for c in result["check_details"] if c["name"] in QUERIES):
        assert check["status"] == "SKIPPED" and "lack timestamp" in check["detail"], check


def test_a_dag_id_that_does_not_exist_fails_at_once_listing_the_ones_found(box):
    started = time.monotonic()
    done = box.run("e2e", "--producer", "no_such_producer", "--consumer", "apache_consumer",
                   "--topic", "apache-weblogs", "--index", "apache-weblogs", timeout=300)
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    assert "no DAG no_such_producer" in done.stderr and "apache_producer" in done.stderr, done.stderr
    assert elapsed < 90, f"took {elapsed:.0f} s: the parse timeout is 180 s"


# -- delivery-guarantee scenarios ----------------------------------------------------------------
def scenarios(result: dict) -> dict:
    return {s["name"]: s for s in result["scenarios"]}


def guarantee(result: dict, row: str) -> dict:
    return next(g for g in result["guarantees"] if g["guarantee"] == row)


def test_fresh_group_proves_a_latest_offset_consumer_loses_everything(box):
    code, result, stderr = e2e(box, "--producer", "apache_producer", "--consumer", "latest_consumer",
                               "--topic", "apache-weblogs", "--index", "latest-weblogs",
                               "--count", "1000", "--scenarios", "fresh-group")
    assert code == 1, stderr
    fresh = scenarios(result)["fresh-group"]
    assert fresh["status"] == "failed" and fresh["produced"] >= 1000 and fresh["lost"] == fresh["produced"]
    assert guarantee(result, "at-least-once delivery") == {
        "guarantee": "at-least-once delivery", "verdict": "broken", "scenarios": "fresh-group"}
    assert result["checks"]["fresh-group/no_loss"] is False


def test_the_apache_consumer_survives_a_fresh_group_but_duplicates_on_a_retry(box):
    """bulk `create` without ids and auto-commit: the killed task's uncommitted records are read
    and written again by the retry."""
    code, result, stderr = e2e(box, *APACHE, "--count", "20000", "--scenarios", "fresh-group,retry")
    assert code == 1, stderr
    found = scenarios(result)
    assert found["fresh-group"]["status"] == "passed", json.dumps(found["fresh-group"], indent=1)
    retry = found["retry"]
    assert retry["status"] == "failed" and retry["duplicates"] > 0 and retry["lost"] == 0, json.dumps(retry, indent=1)
    assert "killed with SIGKILL" in retry["detail"]
    assert guarantee(result, "no duplicates")["verdict"] == "broken"
    assert guarantee(result, "no duplicates")["scenarios"] == "retry"
    assert guarantee(result, "at-least-once delivery")["verdict"] == "holds"


@pytest.mark.slow  # ~100 s: the zombie threshold (60 s here) before the retry
def test_a_worker_killed_mid_batch_is_replaced_and_the_reference_pipeline_loses_nothing(box):
    """kill -9 of the Celery worker running the consumer (with its pool and the task): the
    supervisor replaces the worker, the scheduler finds the task a zombie and retries it, and the
    idempotent reference consumer re-indexes under the same ids: nothing lost, nothing doubled."""
    code, result, stderr = e2e(box, "--count", "20000", "--scenarios", "worker-kill")
    killed = scenarios(result)["worker-kill"]
    assert "Celery worker" in killed["detail"] and "killed with SIGKILL" in killed["detail"], json.dumps(killed)
    assert killed["status"] == "passed" and killed["lost"] == 0 and killed["duplicates"] == 0, json.dumps(killed)
    assert code == 0, stderr
    rows = {r["service"]: r for r in box.status()["services"]}
    assert sum(rows[w]["restarts"] for w in ("airflow-worker-1", "airflow-worker-2")) >= 1
    assert {rows[w]["state"] for w in ("airflow-worker-1", "airflow-worker-2")} == {"running"}
