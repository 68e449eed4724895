"""The MWAA delivery path against a real moto server: `sandbox deploy` into the versioned SSE-KMS
bucket, and the sync process bringing the DAG prefix into a local "Airflow dags" folder.
Airflow itself is not needed here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from sandbox.delivery import s3sync
from sandbox.delivery.deliver import deliver
from sandbox.delivery.deploy import DeployOptions, deploy_project, s3_client
from sandbox.probes import wait_for
from sandbox.proc import runner, stop
from sandbox.environment.state import StateDir
from sandbox.services import aws, dagsync
from sandbox.settings import load_settings

from conftest import free_ports

pytestmark = pytest.mark.integration

DAG = 'from airflow import DAG\nwith DAG("{name}", schedule=None):\n    pass\n'


@pytest.fixture(scope="module")
def moto_port():
    port = free_ports(1)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"moto server exited with {server.returncode}")
            try:
                import urllib.request
                urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                    f"http://127.0.0.1:{port}/moto-api/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("moto server did not answer within 60 s")
                time.sleep(0.2)
        yield port
    finally:
        server.kill()
        server.wait(10)


@pytest.fixture
def env(tmp_path, moto_port, monkeypatch):
    """A project on its own bucket in the shared moto server, bootstrapped as `sandbox up` does."""
    for name in [n for n in os.environ if n.startswith(("SANDBOX_", "AWS_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SANDBOX_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "project"
    (project / "dags").mkdir(parents=True)
    bucket = f"delivery-{uuid.uuid4().hex[:12]}"
    (project / "mwaa.yaml").write_text(f"Name: env{uuid.uuid4().hex[:8]}\nSourceBucketArn: arn:aws:s3:::{bucket}\n"
                                       "DagS3Path: dags\nRequirementsS3Path: requirements.txt\n")
    (project / "requirements.txt").write_text("confluent-kafka==2.4.0\n")
    for name in ("one", "two"):
        (project / "dags" / f"{name}.py").write_text(DAG.format(name=name))
    settings = replace(load_settings(project), aws_port=moto_port)
    made = aws.bootstrap(settings)
    return settings, made


def versions_of(settings, key: str) -> list[dict]:
    s3 = s3_client(settings)
    listing = s3.list_object_versions(Bucket=settings.spec.bucket_name, Prefix=key)
    return [v for v in listing.get("Versions", []) if v["Key"] == key]


def test_deploy_creates_encrypted_versions_and_syncs_like_aws_s3_sync(env):
    settings, made = env
    s3 = s3_client(settings)
    first = deploy_project(settings)
    assert first.uploaded == ["dags/one.py", "dags/two.py", "requirements.txt"]
    assert first.warnings == []
    for version in first.versions:
        assert version.version_id and version.encryption == "aws:kms"
        assert version.kms_key_id == made.kms_key_arn
        head = s3.head_object(Bucket=made.bucket, Key=version.key, VersionId=version.version_id)
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == made.kms_key_arn

    second = deploy_project(settings)
    assert (second.uploaded, second.deleted, second.versions) == ([], [], [])
    assert len(second.plan.unchanged) == 3

    (settings.project_dir / "dags" / "one.py").write_text(DAG.format(name="one") + "# edited\n")
    third = deploy_project(settings)
    assert third.uploaded == ["dags/one.py"]
    ids = [v["VersionId"] for v in versions_of(settings, "dags/one.py")]
    assert len(ids) == 2 and third.versions[0].version_id in ids and first.versions[0].version_id in ids

    (settings.project_dir / "dags" / "two.py").unlink()
    fourth = deploy_project(settings)
    assert fourth.deleted == ["dags/two.py"] and fourth.versions[0].delete_marker
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=made.bucket).get("Contents", [])]
    assert keys == ["dags/one.py", "requirements.txt"]


def test_whole_repository_sync_into_dags_warns_about_requirements(env):
    settings, made = env
    report = deploy_project(settings, DeployOptions(dags_dir=settings.project_dir, dry_run=True))
    misplaced = [w for w in report.warnings if w.code == "misplaced-mwaa-file"]
    assert len(misplaced) == 1 and misplaced[0].paths == ("requirements.txt",)
    assert "dags/requirements.txt" in misplaced[0].message and "RequirementsS3Path" in misplaced[0].message
    assert "dags/requirements.txt" in report.uploaded  # what such a CI job would upload


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


@pytest.fixture
def syncd(env):
    """The real sync process (1 s interval) as the native runtime starts it; always stopped."""
    settings, _ = env
    spec = dagsync.process(settings, interval=1.0)
    state = StateDir(settings.state_dir)
    record = runner.spawn(spec.command, state.log_file(spec.name))
    try:
        wait_for(spec.probe, timeout=30)
        yield settings, state.dags_folder, state.log_file(spec.name)
    finally:
        stop(record, grace=10)


def test_sync_process_mirrors_the_dag_prefix(syncd):
    settings, dags_folder, log = syncd
    assert s3sync.read_status(s3sync.status_file(settings))["passes"] >= 1
    deploy_project(settings)
    assert _wait_for(lambda: sorted(p.name for p in dags_folder.glob("*.py")) == ["one.py", "two.py"], 15), \
        log.read_text()
    assert not (dags_folder / "requirements.txt").exists()  # not under the DAG prefix

    edited = DAG.format(name="one") + "# edited\n"
    (settings.project_dir / "dags" / "one.py").write_text(edited)
    (settings.project_dir / "dags" / "two.py").unlink()
    deploy_project(settings)
    assert _wait_for(lambda: (dags_folder / "one.py").read_text() == edited
                     and not (dags_folder / "two.py").exists(), 15), log.read_text()
    text = log.read_text()
    assert "+ one.py" in text and "- two.py" in text


def test_deliver_nudges_the_sync_instead_of_waiting(syncd):
    settings, dags_folder, _ = syncd
    (settings.project_dir / "dags" / "three.py").write_text(DAG.format(name="three"))
    started = time.monotonic()
    delivered = deliver(settings, timeout=20)
    assert "three.py" in delivered.copied
    assert (dags_folder / "three.py").exists()
    assert time.monotonic() - started < 20


def test_cli_deploy_json(env):
    settings, made = env
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    run_env["SANDBOX_AWS_PORT"] = str(settings.aws_port)
    done = subprocess.run([sys.executable, "-m", "sandbox", "--project", str(settings.project_dir),
                           "deploy", "--json"], env=run_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["counts"] == {"uploaded": 3, "deleted": 0, "unchanged": 0}
    assert {v["kms_key_id"] for v in payload["versions"]} == {made.kms_key_arn}
