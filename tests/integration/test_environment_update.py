"""An MWAA environment update on the real native sandbox: a new requirements.txt version in the
bucket moves the environment AVAILABLE -> UPDATING -> AVAILABLE with Airflow restarted on the new
environment; a conflicting one ends in UPDATE_FAILED with the resolver's reason while Airflow keeps
running on the old environment."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from conftest import make_sandbox

pytestmark = pytest.mark.integration

SPEC = """\
Name: it-update
AirflowVersion: "2.9.2"
EnvironmentClass: mw1.small
SourceBucketArn: arn:aws:s3:::it-update-bucket
DagS3Path: dags
RequirementsS3Path: requirements.txt
"""
NEW_PACKAGE = "elasticsearch"  # in MWAA's constraints and the uv cache, not in the base environment
UPDATE_WAIT = 240.0


@pytest.fixture(scope="module")
def box(module_scratch):
    sandbox = make_sandbox(module_scratch / "update", spec=SPEC,
                           extra_env={"SANDBOX_DAG_SYNC_INTERVAL": "2"})
    done = sandbox.run("up", "--runtime", "native")
    try:
        assert done.returncode == 0, f"up failed:\n{done.stdout}\n{done.stderr}"
        yield sandbox
    finally:
        sandbox.run("down", timeout=180)


def deploy_requirements(box, text: str) -> None:
    (box.project / "requirements.txt").write_text(text)
    box.run("deploy", check=True, timeout=120)


def wait_for_state(box, final: str, timeout: float = UPDATE_WAIT) -> tuple[list[str], dict]:
    """Poll `status --json` until the environment is `final` after having been UPDATING."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        env = box.status()["environment"] or {}
        if not seen or seen[-1] != env.get("state"):
            seen.append(env.get("state"))
        if env.get("state") == final and "UPDATING" in seen:
            return seen, env
        time.sleep(0.5)
    log = box.project / ".sandbox" / "logs" / "environment-update.log"
    pytest.fail(f"not {final} within {timeout:.0f} s (states seen: {seen})\n"
                + (log.read_text()[-3000:] if log.exists() else "no update log"))


def env_python(box) -> Path:
    return (box.project / ".sandbox" / "airflow-env").resolve() / "bin" / "python"


def can_import(box, module: str) -> bool:
    return subprocess.run([str(env_python(box)), "-c", f"import {module}"], capture_output=True).returncode == 0


def airflow_healthy(box) -> bool:
    rows = {r["service"]: r for r in box.status()["services"]}
    return all(r["state"] == "running" for name, r in rows.items() if name.startswith("airflow"))


def test_up_reports_the_environment_available(box):
    env = box.status()["environment"]
    assert env["state"] == "AVAILABLE" and env["reason"] == ""
    assert not can_import(box, NEW_PACKAGE)  # the update below is what brings it
    assert "Environment it-update: AVAILABLE since" in box.run("status", check=True).stdout


def test_a_new_requirements_version_updates_and_restarts_airflow(box):
    pids = {r["service"]: r["pid"] for r in box.status()["services"]}
    started = time.monotonic()
    deploy_requirements(box, f"{NEW_PACKAGE}\n")
    seen, env = wait_for_state(box, "AVAILABLE")
    print(f"update to AVAILABLE in {time.monotonic() - started:.0f} s, states {seen}")
    assert seen[-2:] == ["UPDATING", "AVAILABLE"], seen
    assert can_import(box, NEW_PACKAGE)  # .sandbox/airflow-env now points at the new environment
    assert airflow_healthy(box)
    after = {r["service"]: r["pid"] for r in box.status()["services"]}
    assert after["airflow-scheduler"] != pids["airflow-scheduler"]  # restarted
    assert after["postgres"] == pids["postgres"] and after["dagsync"] == pids["dagsync"]  # not restarted


def test_a_conflicting_requirements_version_fails_and_keeps_the_old_environment(box):
    before = env_python(box)
    pids = {r["service"]: r["pid"] for r in box.status()["services"]}
    deploy_requirements(box, f"{NEW_PACKAGE}\npandas==1.3.0\n")
    seen, env = wait_for_state(box, "UPDATE_FAILED")
    print(f"UPDATE_FAILED reason: {env['reason']}")
    assert env["reason"].startswith("requirements.txt: ") and "pandas" in env["reason"], env
    assert "\n" not in env["reason"] and env["reason"].startswith("requirements.txt: Because ")  # uv's key line
    assert env_python(box) == before and can_import(box, NEW_PACKAGE)
    assert airflow_healthy(box)
    after = {r["service"]: r["pid"] for r in box.status()["services"]}
    assert after["airflow-scheduler"] == pids["airflow-scheduler"]  # never stopped
    assert "UPDATE_FAILED since" in box.run("status", check=True).stdout
    state = json.loads((box.project / ".sandbox" / "environment.json").read_text())
    assert state["versions"] != state["target"]  # it remembers what failed, so no retry loop
