"""An MWAA environment update on the real native sandbox: a new requirements.txt, startup script or
plugins.zip version in the bucket moves the environment AVAILABLE -> UPDATING -> AVAILABLE with
Airflow restarted on the new environment, exports or plugins; a conflicting requirements.txt ends
in UPDATE_FAILED with the resolver's reason while Airflow keeps running on the old environment."""

from __future__ import annotations

import json
import subprocess
import time
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from sandbox.e2e.airflow_api import AirflowApi

from conftest import make_sandbox

pytestmark = pytest.mark.integration

SPEC = """\
Name: it-update
AirflowVersion: "2.9.2"
EnvironmentClass: mw1.small
SourceBucketArn: arn:aws:s3:::it-update-bucket
DagS3Path: dags
RequirementsS3Path: requirements.txt
PluginsS3Path: plugins.zip
StartupScriptS3Path: startup.sh
"""
# Parsed by Airflow's DAG processor: its description shows the environment Airflow runs with.
ENV_DAG = '''"""it_env: describes the startup script's IT_STAGE export. Expected outcome: parses."""
import os
import pendulum
from airflow import DAG

with DAG("it_env", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         description="IT_STAGE=" + os.environ.get("IT_STAGE", "unset")):
    pass
'''
PLUGIN = "from airflow.plugins_manager import AirflowPlugin\n\nclass ItPlugin(AirflowPlugin):\n    name = '{name}'\n"
NEW_PACKAGE = "elasticsearch"  # in MWAA's constraints and the uv cache, not in the base environment
UPDATE_WAIT = 240.0


@pytest.fixture(scope="module")
def box(module_scratch):
    sandbox = make_sandbox(module_scratch / "update", spec=SPEC, dags={"it_env.py": ENV_DAG},
                           extra_env={"SANDBOX_DAG_SYNC_INTERVAL": "2"})
    write_startup_script(sandbox, "one")
    write_plugins(sandbox, "it_plugin_one")
    done = sandbox.run("up", "--runtime", "native")
    try:
        assert done.returncode == 0, f"up failed:\n{done.stdout}\n{done.stderr}"
        yield sandbox
    finally:
        sandbox.run("down", timeout=180)


def write_startup_script(box, stage: str) -> None:
    (box.project / "startup.sh").write_text(f"#!/bin/bash\nexport IT_STAGE={stage}\n")


def write_plugins(box, name: str) -> None:
    with zipfile.ZipFile(box.project / "plugins.zip", "w") as zf:
        zf.writestr(f"{name}.py", PLUGIN.format(name=name))


def deploy_requirements(box, text: str) -> None:
    (box.project / "requirements.txt").write_text(text)
    box.run("deploy", check=True, timeout=120)


def api(box) -> AirflowApi:
    return AirflowApi(f"http://127.0.0.1:{box.ports['airflow_port']}", "admin", box.status()["admin_password"])


def stage_parsed(box, expected: str, after: float = 0.0, timeout: float = 120.0) -> str | None:
    """it_env's description from a parse after `after` (epoch seconds: the restarted DAG processor,
    with the exports it was given), once it says IT_STAGE=`expected` or after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        dag = api(box).dag("it_env") or {}
        parsed = datetime.fromisoformat(dag["last_parsed_time"]).timestamp() if dag.get("last_parsed_time") else 0
        description = dag.get("description") if parsed >= after else None
        if description == f"IT_STAGE={expected}" or time.monotonic() > deadline:
            return description
        time.sleep(1)


def plugins_seen(box) -> tuple[list[str], list[str]]:
    """(files in Airflow's plugins folder, plugins the web server's REST API reports)."""
    folder = box.project / ".sandbox" / "airflow" / "plugins"
    reported = api(box).call("GET", "/plugins")["plugins"]
    return sorted(p.name for p in folder.iterdir()), sorted(p["name"] for p in reported)


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


def deploy_and_update(box, what: str) -> dict:
    """Deploy the project: the environment must go UPDATING -> AVAILABLE. Returns its state."""
    started = time.monotonic()
    box.run("deploy", check=True, timeout=120)
    seen, env = wait_for_state(box, "AVAILABLE")
    print(f"{what} update to AVAILABLE in {time.monotonic() - started:.0f} s, states {seen}")
    assert seen[-2:] == ["UPDATING", "AVAILABLE"] and env["reason"] == "", (seen, env)
    return env


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


def test_up_unpacks_plugins_zip_and_passes_the_startup_scripts_exports(box):
    assert plugins_seen(box) == (["it_plugin_one.py"], ["it_plugin_one"])
    assert stage_parsed(box, "one") == "IT_STAGE=one"


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


def test_a_new_startup_script_version_updates_the_exports(box):
    write_startup_script(box, "two")
    env = deploy_and_update(box, "startup script")
    assert stage_parsed(box, "two", after=env["since"]) == "IT_STAGE=two"  # the new script's exports


def test_a_new_plugins_zip_version_updates_the_plugins(box):
    write_plugins(box, "it_plugin_two")
    env = deploy_and_update(box, "plugins.zip")
    assert plugins_seen(box) == (["it_plugin_two.py"], ["it_plugin_two"])  # the old one is gone
    assert stage_parsed(box, "two", after=env["since"]) == "IT_STAGE=two"  # kept by an update of plugins only


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
