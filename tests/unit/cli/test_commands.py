"""status, down, logs and config show on a project where nothing runs: they never start anything."""

from __future__ import annotations

import json

import pytest

SERVICES = ["postgres", "kafka", "elasticsearch", "aws", "dagsync", "airflow-scheduler", "airflow-scheduler-2",
            "airflow-dag-processor", "airflow-triggerer", "airflow-worker-1", "airflow-webserver", "logship",
            "supervisor"]


@pytest.fixture(autouse=True)
def _quiet(no_subprocesses):
    """None of these commands may run a program."""


def test_status_json_on_empty_project(sandbox, project):
    result = sandbox("--project", str(project), "status", "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert payload["runtime"] == "native"
    assert payload["project"] == str(project.resolve())
    assert [row["service"] for row in payload["services"]] == SERVICES
    assert {row["state"] for row in payload["services"]} == {"stopped"}
    assert all(row["pid"] is None for row in payload["services"])
    assert not (project / ".sandbox").exists()  # status creates nothing


def test_status_follows_settings_and_spec(sandbox, project, monkeypatch):
    (project / "mwaa.yaml").write_text("Schedulers: 3\n")
    monkeypatch.setenv("SANDBOX_AIRFLOW_PORT", "18080")
    payload = json.loads(sandbox("--project", str(project), "status", "--json").out)
    services = {row["service"]: row for row in payload["services"]}
    assert "airflow-scheduler-3" in services
    assert services["airflow-webserver"]["url"] == "http://127.0.0.1:18080"


def test_status_table(sandbox, project):
    result = sandbox("--project", str(project), "status")
    assert result.code == 0
    text = " ".join(result.out.split())  # rich wraps at the console width
    assert f"Project {project.resolve()} · runtime native" in text
    assert result.out.count("stopped") == len(SERVICES)


def test_status_show_password_before_first_up(sandbox, project):
    result = sandbox("--project", str(project), "status", "--json", "--show-password")
    assert json.loads(result.out)["admin_password"] is None
    result = sandbox("--project", str(project), "status", "--show-password")
    assert "No admin password yet" in result.out


def test_status_show_password_after_up(sandbox, project):
    from sandbox.environment.state import StateDir

    password = StateDir(project / ".sandbox").admin_password()
    result = sandbox("--project", str(project), "status", "--json", "--show-password")
    assert json.loads(result.out)["admin_password"] == password


def test_down_on_empty_project(sandbox, project):
    result = sandbox("--project", str(project), "down")
    assert result.code == 0, result.err
    assert f"Nothing is running for {project.resolve()}." in " ".join(result.out.split())
    assert not (project / ".sandbox").exists()


def test_logs_without_a_log_yet(sandbox, project):
    result = sandbox("--project", str(project), "logs", "postgres")
    assert result.code == 0
    assert "No log yet for postgres" in result.out


def test_logs_prints_the_tail(sandbox, project):
    log = project / ".sandbox" / "logs" / "noida.log"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"line {i}\n" for i in range(1, 11)))
    result = sandbox("--project", str(project), "logs", "kafka", "-n", "2")
    assert result.code == 0
    assert result.out == "line 9\nline 10\n"


def test_logs_of_unknown_service(sandbox, project):
    result = sandbox("--project", str(project), "logs", "redis")
    assert result.code == 1
    assert result.error_lines[0].startswith("Error: no service named 'redis'")
    assert "postgres" in result.error_lines[0]


def test_config_show_json_names_sources(sandbox, project, monkeypatch):
    (project / "mwaa.yaml").write_text(
        "Name: team-env\nSandbox:\n  kafka_port: 19092\n"
        "AirflowConfigurationOptions:\n  core.load_examples: 'True'\n  core.dag_concurrency: '4'\n")
    monkeypatch.setenv("SANDBOX_AIRFLOW_PORT", "18080")
    result = sandbox("--project", str(project), "config", "show", "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    settings = payload["settings"]
    assert settings["airflow_port"] == {"value": 18080, "source": "env SANDBOX_AIRFLOW_PORT"}
    assert settings["kafka_port"] == {"value": 19092, "source": "mwaa.yaml"}
    assert settings["postgres_port"] == {"value": 5432, "source": "default"}
    assert payload["project"] == str(project.resolve())
    assert payload["state_dir"] == str(project.resolve() / ".sandbox")
    assert payload["spec"]["name"] == "team-env"
    assert payload["airflow_config"]["core.load_examples"] == "False"
    assert payload["airflow_config"]["core.dag_concurrency"] == "4"
    assert payload["ignored_airflow_options"] == ["core.load_examples"]


def test_config_show_table(sandbox, project, monkeypatch):
    (project / "mwaa.yaml").write_text("AirflowConfigurationOptions:\n  webserver.cookie_secure: 'False'\n")
    monkeypatch.setenv("SANDBOX_AIRFLOW_PORT", "18080")
    result = sandbox("--project", str(project), "config", "show")
    assert result.code == 0, result.err
    text = " ".join(result.out.split())
    assert "env SANDBOX_AIRFLOW_PORT" in text
    assert "Environment mwaa-sandbox: Airflow 2.9.2, mw1.small" in text
    assert "AirflowConfigurationOptions.webserver.cookie_secure is set by MWAA" in text


def test_help_lists_commands(sandbox):
    result = sandbox("--help")
    assert result.code == 0
    for command in ("up", "status", "down", "reset", "logs", "config"):
        assert command in result.out


def test_status_shows_the_environment_state_and_reason(sandbox, project):
    import time

    from sandbox.environment import envstate

    (project / "mwaa.yaml").write_text("Name: dsai-dev-mwaa\n")
    since = time.mktime((2026, 1, 1, 12, 1, 2, 0, 0, -1))
    envstate.write(project / ".sandbox" / "environment.json", envstate.EnvironmentState(
        envstate.UPDATE_FAILED, "requirements.txt: Because pandas==1.3.0 conflicts", since))
    payload = json.loads(sandbox("--project", str(project), "status", "--json").out)
    assert payload["environment"] == {"state": "UPDATE_FAILED", "since": since,
                                      "reason": "requirements.txt: Because pandas==1.3.0 conflicts"}
    text = " ".join(sandbox("--project", str(project), "status").out.split())
    assert ("Environment dsai-dev-mwaa: UPDATE_FAILED since 12:01:02 "
            "(requirements.txt: Because pandas==1.3.0 conflicts)") in text


def test_status_json_without_an_environment(sandbox, project):
    assert json.loads(sandbox("--project", str(project), "status", "--json").out)["environment"] is None
