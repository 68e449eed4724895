"""The requirements sub-app: option wiring, output, exit codes (the check itself faked)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from sandbox.cli import requirements as cli
from sandbox.cli.context import CliContext
from sandbox.deps.check import CheckResult


def _app():
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context, project: str = typer.Option(".", "--project")):
        ctx.obj = CliContext.create(project, False)

    cli.register(app)
    return app


@pytest.fixture
def fake_check(monkeypatch):
    calls = []

    def install(verdict):
        def run_check(settings, options, progress=None):
            calls.append((settings, options))
            return CheckResult(verdict, True, None if verdict == "install" else "Cannot install x==1",
                               [], {"x": "1"} if verdict == "install" else {},
                               ["Forcing local constraints", "pip says hi"], "online")
        monkeypatch.setattr(cli, "run_check", run_check)
        return calls

    return install


def test_fail_exits_1_and_prints_log_then_verdict(fake_check, project):
    fake_check("fail")
    result = CliRunner().invoke(_app(), ["--project", str(project), "requirements", "check", "--public"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-3:] == ["Forcing local constraints", "pip says hi",
                                               "MWAA would fail: Cannot install x==1"]


def test_install_json(fake_check, project):
    calls = fake_check("install")
    result = CliRunner().invoke(_app(), ["--project", str(project), "requirements", "check", "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["verdict"] == "install" and payload["resolved"] == {"x": "1"}
    assert payload["conflict"] is None and payload["forced_constraints"] is True
    options = calls[0][1]
    assert options.requirements == project.resolve() / "requirements.txt"
    assert options.private is False  # no mwaa.yaml: public


@pytest.mark.parametrize("spec,flag,private", [
    ("WebserverAccessMode: PRIVATE_ONLY\n", [], True),
    ("WebserverAccessMode: PUBLIC_ONLY\n", [], False),
    ("WebserverAccessMode: PRIVATE_ONLY\n", ["--public"], False),
    ("", ["--private"], True),
])
def test_private_mode_from_flag_or_mwaa_yaml(fake_check, project, spec, flag, private):
    calls = fake_check("install")
    (project / "mwaa.yaml").write_text(spec)
    CliRunner().invoke(_app(), ["--project", str(project), "requirements", "check", *flag])
    assert calls[0][1].private is private


def test_offline_flag_sets_the_setting(fake_check, project):
    calls = fake_check("install")
    CliRunner().invoke(_app(), ["--project", str(project), "requirements", "check", "--offline",
                                "--requirements", str(project / "other.txt")])
    settings, options = calls[0]
    assert settings.offline is True and options.requirements == project / "other.txt"


LINE = ("requirements.txt constrains to Airflow 2.8.1 / Python 3.11 constraints, but the environment "
        "runs Airflow 2.9.2 on Python 3.11")


@pytest.fixture
def unknown_check(monkeypatch):
    def run_check(settings, options, progress=None):
        return CheckResult("unknown", False, None, [], {}, ["pip says hi"], "online",
                           reason="the constraints URL https://x/c.txt is unreachable from here (refused)",
                           constraints={"source": "https://x/c.txt", "airflow_version": "2.8.1",
                                        "python_version": "3.11", "matches_environment": False,
                                        "line": LINE})
    monkeypatch.setattr(cli, "run_check", run_check)


def test_unknown_exits_3_with_the_constraints_line_first(unknown_check, project):
    result = CliRunner().invoke(_app(), ["--project", str(project), "requirements", "check", "--public"])
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert lines[0] == LINE
    assert lines[-1] == ("Cannot tell whether MWAA would install these requirements: the constraints URL "
                         "https://x/c.txt is unreachable from here (refused)")
    assert "MWAA would fail" not in result.stdout


def test_unknown_json(unknown_check, project):
    result = CliRunner().invoke(_app(), ["--project", str(project), "requirements", "check", "--json"])
    assert result.exit_code == 3
    payload = json.loads(result.stdout)
    assert payload["verdict"] == "unknown" and payload["reason"].startswith("the constraints URL")
    assert payload["constraints"]["line"] == LINE and payload["conflict"] is None


def test_install_json_has_null_reason_and_constraints(fake_check, project):
    fake_check("install")
    payload = json.loads(CliRunner().invoke(_app(), ["--project", str(project), "requirements", "check",
                                                     "--json"]).stdout)
    assert payload["reason"] is None and payload["constraints"] is None


def test_verdict_line_is_not_markup(monkeypatch, project):
    def run_check(settings, options, progress=None):
        return CheckResult("fail", True, "Cannot install apache-airflow[celery]==2.10.0", [], {}, [], "online")
    monkeypatch.setattr(cli, "run_check", run_check)
    result = CliRunner().invoke(_app(), ["--project", str(project), "requirements", "check", "--public"])
    assert result.stdout.splitlines()[-1] == "MWAA would fail: Cannot install apache-airflow[celery]==2.10.0"
