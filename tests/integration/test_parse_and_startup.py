"""`sandbox parse` on the dag_* corpus cases with the real Airflow 2.9.2 environment.

Uses the default cache (~/.cache/mwaa-sandbox), so the environments `sandbox up` built are
reused: a case with no requirements.txt parses in the base environment, dag_missing_package
uses this repository's requirements (the same environment as the reference project).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from sandbox import cli

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("SANDBOX_MWAA_DATA_DIR") or REPO.parent / "shared" / "mwaa" / "2.9.2")
CORPUS = REPO / "tests" / "fixtures" / "mwaa_failures"
DAG_CASES = sorted(p.name for p in CORPUS.glob("dag_*"))
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(autouse=True)
def mwaa_data(monkeypatch):
    for name in ("SANDBOX_CACHE_DIR", "SANDBOX_AWS_PORT", "SANDBOX_STARTUP_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SANDBOX_MWAA_DATA_DIR", str(SHARED_DATA))


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        cli.main(list(args))
    out, err = capsys.readouterr()
    return info.value.code or 0, _ANSI.sub("", out), _ANSI.sub("", err)


def _copy(case: str, tmp_path: Path) -> Path:
    project = tmp_path / case
    shutil.copytree(CORPUS / case, project)
    return project


def test_corpus_has_the_dag_cases():
    assert {"dag_airflow3_import", "dag_missing_package", "dag_syntax_error",
            "dag_import_timeout"} <= set(DAG_CASES)


@pytest.mark.parametrize("case", DAG_CASES)
def test_dag_corpus_case(case, tmp_path, capsys):
    expected = yaml.safe_load((CORPUS / case / "expected.yaml").read_text())
    project = _copy(case, tmp_path)
    code, out, err = _cli(capsys, "--project", str(project), "parse", "--json")
    assert code == expected["exit_code"], err
    payload = json.loads(out)
    assert [e["file"] for e in payload["import_errors"]] == expected["import_errors"]
    assert any(expected["key_line"] in e["error"] for e in payload["import_errors"]), payload
    assert payload["dags"] == expected.get("dags", [])
    assert payload["timeouts"] == expected.get("timeouts", [])
    assert not list(project.rglob("__pycache__")), "parsing must leave the project untouched"
    code, out, err = _cli(capsys, "--project", str(project), "parse")
    assert code == expected["exit_code"]
    for file in expected["import_errors"]:
        assert f"Broken DAG: [{project / file}]" in out
        assert f"scheduler_{Path(file).name}.log" in out
    assert "failed to import" in err


def test_the_reference_dags_parse_cleanly(capsys):
    code, out, err = _cli(capsys, "--project", str(REPO), "parse", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert {"log_producer", "log_consumer"} <= set(payload["dags"])
    assert payload["import_errors"] == []


def test_parse_writes_each_file_to_the_dag_processing_group(tmp_path, capsys, monkeypatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        monkeypatch.setenv("SANDBOX_AWS_PORT", str(server.get_host_and_port()[1]))
        project = _copy("dag_missing_package", tmp_path)
        code, out, _ = _cli(capsys, "--project", str(project), "parse", "--json")
        assert code == 1 and json.loads(out)["log_group"] == "airflow-mwaa-sandbox-DAGProcessing"
        from sandbox.services import aws
        from sandbox.settings import load_settings

        logs = aws.client(load_settings(project), "logs")
        group = "airflow-mwaa-sandbox-DAGProcessing"
        streams = {s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]}
        assert streams == {"scheduler_kafka_python_consumer.py.log", "scheduler_fine.py.log"}
        events = logs.get_log_events(logGroupName=group,
                                     logStreamName="scheduler_kafka_python_consumer.py.log")["events"]
        text = "\n".join(e["message"] for e in events)
        assert "Failed to import:" in text and "No module named 'kafka'" in text
        assert "No viable dags retrieved from" in text
    finally:
        server.stop()


def staged_project(tmp_path, named: bool):
    """A DAG whose id comes from startup.sh's export; the script named by mwaa.yaml or not."""
    project = tmp_path / "project"
    (project / "dags").mkdir(parents=True)
    (project / "startup.sh").write_text("export ENVIRONMENT_STAGE=dev\n")
    if named:
        (project / "mwaa.yaml").write_text("StartupScriptS3Path: startup.sh\n")
    (project / "dags" / "staged.py").write_text(
        "import os\nfrom datetime import datetime\nfrom airflow import DAG\n\n"
        "with DAG(dag_id='staged_' + os.environ['ENVIRONMENT_STAGE'], start_date=datetime(2024, 1, 1),\n"
        "         schedule=None, catchup=False):\n    pass\n")
    return project


def test_parse_sees_what_the_startup_script_exports(tmp_path, capsys):
    project = staged_project(tmp_path, named=True)
    code, out, err = _cli(capsys, "--project", str(project), "parse", "--json")
    assert code == 0, out + err
    assert json.loads(out)["dags"] == ["staged_dev"]
    code, out, _ = _cli(capsys, "--project", str(project), "parse", "--json", "--skip-startup-script")
    assert code == 1
    assert "KeyError: 'ENVIRONMENT_STAGE'" in json.loads(out)["import_errors"][0]["error"]


def test_parse_ignores_a_startup_script_the_spec_does_not_name(tmp_path, capsys):
    """MWAA runs neither: a DAG that needs the script's export fails to import, as it would there."""
    project = staged_project(tmp_path, named=False)
    code, out, _ = _cli(capsys, "--project", str(project), "parse", "--json")
    assert code == 1
    assert "KeyError: 'ENVIRONMENT_STAGE'" in json.loads(out)["import_errors"][0]["error"]
