"""Running startup scripts as MWAA does, with real bash (fast), and the startup_* corpus cases."""

from __future__ import annotations

from dataclasses import replace

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
import yaml

from sandbox import cli
from sandbox.errors import ConfigError
from sandbox.runtime.base import SilentProgress
from sandbox.environment.state import StateDir
from sandbox.settings import load_settings
from sandbox.startup import (StartupScriptError, find_script, publish, script_to_test, run_for_project, run_for_up,
                             run_script)

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "mwaa_failures"
STARTUP_CASES = sorted(p.name for p in CORPUS.glob("startup_*"))
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run(tmp_path: Path, body: str, *, limit: float = 10.0, env: dict | None = None):
    script = tmp_path / "startup.sh"
    script.write_text(body)
    base = {"PATH": os.environ["PATH"], "AIRFLOW_HOME": "/usr/local/airflow", "KEEP": "same"}
    return run_script(script, {**base, **(env or {})}, cwd=tmp_path, limit=limit)


def test_exports_are_captured_and_protected_ones_rejected(tmp_path):
    result = _run(tmp_path, "export FOO=bar\nexport KEEP=same\nexport AIRFLOW_HOME=/x\n"
                            "export MWAA__CORE__X=1\nPLAIN=not-exported\n")
    assert result.exported == {"FOO": "bar"}
    assert result.rejected == ["AIRFLOW_HOME", "MWAA__CORE__X"]
    assert result.env_captured and result.exit_code == 0 and not result.timed_out
    assert not result.ok and "AIRFLOW_HOME, MWAA__CORE__X" in result.problems()[0]


def test_output_is_one_stream_between_mwaas_lines(tmp_path):
    result = _run(tmp_path, "echo out\necho err >&2\necho out2\n")
    messages = [line.message for line in result.log_lines]
    assert messages[:5] == ["Executing customer startup script", "out", "err", "out2",
                            "Exiting customer startup script"]
    assert messages[-1].startswith("Startup script execution time:")
    assert result.ok


def test_script_runs_in_cwd_with_the_given_environment(tmp_path):
    result = _run(tmp_path, 'echo "cwd=$(pwd) home=$AIRFLOW_HOME"\n')
    assert f"cwd={tmp_path} home=/usr/local/airflow" in [l.message for l in result.log_lines]


def test_exit_with_a_status_is_recorded_but_the_environment_still_captured(tmp_path):
    result = _run(tmp_path, "export A=1\nexit 3\necho unreachable\n")
    assert result.exit_code == 3 and result.env_captured and result.exported == {"A": "1"}
    assert "unreachable" not in result.text()
    assert "exited with status 3" in result.problems()[0]


def test_set_e_failure_leaves_no_environment_as_on_mwaa(tmp_path):
    result = _run(tmp_path, "set -e\nexport A=1\nfalse\n")
    assert not result.env_captured and result.exported == {}
    assert "Failed to locate environment variables file" in result.text()
    assert "before MWAA's wrapper could record its environment" in result.problems()[0]


def test_over_the_limit_is_stopped_and_reported(tmp_path):
    started = time.monotonic()
    result = _run(tmp_path, "echo begin\nsleep 30\necho never\n", limit=1.0)
    assert time.monotonic() - started < 5
    assert result.timed_out and not result.env_captured
    assert "Process timed out after running for more than" in result.text()
    assert "did not finish within 1 s" in result.problems()[0]


def test_a_crlf_script_runs_as_it_is_and_its_values_keep_the_carriage_return(tmp_path):
    script = tmp_path / "startup.sh"
    script.write_bytes(b"export FOO=bar\r\nexport URL=http://x\r\necho hi\r\n")
    result = run_script(script, {"PATH": os.environ["PATH"]}, cwd=tmp_path, limit=10.0)
    assert result.exported == {"FOO": "bar\r", "URL": "http://x\r"}  # as bash on MWAA leaves them
    assert result.ok and len(result.warnings()) == 1  # MWAA carries on: a warning, not a failure
    assert "CRLF" in result.warnings()[0] and "(here FOO, URL:" in result.warnings()[0]


def test_an_lf_script_has_no_line_ending_warning(tmp_path):
    assert _run(tmp_path, "export FOO=bar\n").warnings() == []


def test_carriage_returns_survive_the_exports_record(tmp_path):
    state = StateDir(tmp_path / ".sandbox")
    state.save_exports({"FOO": "bar\r"})  # what an update's rollback restarts Airflow with
    assert state.load_exports() == {"FOO": "bar\r"}


def test_up_notes_a_crlf_script_once(project):
    notes = []
    progress = SilentProgress()
    progress.note = notes.append
    (project / "startup.sh").write_bytes(b"export STAGE=dev\r\n")
    (project / "mwaa.yaml").write_text("StartupScriptS3Path: startup.sh\n")
    settings = load_settings(project, environ={})
    result = run_for_up(settings, StateDir(settings.state_dir), settings.cache_dir / "envs" / "x", progress)
    assert result.exported == {"STAGE": "dev\r"}
    assert [n for n in notes if "CRLF" in n] == [result.warnings()[0]] and len(notes) == 1


def test_startup_timeout_is_a_setting_defaulting_to_five_minutes(project, monkeypatch):
    assert load_settings(project).startup_timeout == 300.0
    monkeypatch.setenv("SANDBOX_STARTUP_TIMEOUT", "2.5")
    assert load_settings(project).startup_timeout == 2.5
    monkeypatch.setenv("SANDBOX_STARTUP_TIMEOUT", "-1")
    with pytest.raises(ConfigError, match="startup_timeout"):
        load_settings(project)


def test_find_script_is_only_the_script_the_spec_names(project):
    assert find_script(load_settings(project, environ={})) is None
    (project / "startup.sh").write_text("true\n")
    assert find_script(load_settings(project, environ={})) is None  # MWAA ignores it
    assert script_to_test(load_settings(project, environ={})) == project / "startup.sh"  # the test command tries it
    (project / "scripts").mkdir()
    (project / "scripts" / "boot.sh").write_text("true\n")
    (project / "mwaa.yaml").write_text("StartupScriptS3Path: scripts/boot.sh\n")
    assert find_script(load_settings(project, environ={})) == project / "scripts" / "boot.sh"
    (project / "mwaa.yaml").write_text("StartupScriptS3Path: scripts/missing.sh\n")
    with pytest.raises(ConfigError, match="scripts/missing.sh not found"):
        find_script(load_settings(project, environ={}))


def test_run_for_project_starts_from_airflows_environment_and_keeps_a_log(project):
    script = project / "startup.sh"
    script.write_text('echo "env=$AIRFLOW_ENV_NAME exec=$AWS_EXECUTION_ENV"\nexport STAGE=dev\n')
    settings = load_settings(project, environ={})
    result = run_for_project(settings, script)
    assert "env=mwaa-sandbox exec=Amazon_MWAA_292" in result.text()
    copy = StateDir(settings.state_dir).logs / result.stream
    assert copy.read_text() == result.text()
    assert result.stream.startswith("startup_script_execution_") and result.exported == {"STAGE": "dev"}


def test_publish_skips_when_the_emulator_is_not_running(project, monkeypatch):
    monkeypatch.setenv("SANDBOX_AWS_PORT", "1")  # nothing listens there
    settings = load_settings(project)
    result = _run(project, "true\n")
    assert publish(settings, result) == []


def test_publish_writes_the_stream_to_each_component_group(project, monkeypatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        monkeypatch.setenv("SANDBOX_AWS_PORT", str(server.get_host_and_port()[1]))
        settings = load_settings(project)
        result = _run(project, "echo hello-cloudwatch\n")
        groups = publish(settings, result)
        from sandbox.services import aws

        logs = aws.client(settings, "logs")
        assert groups == ["airflow-mwaa-sandbox-Scheduler", "airflow-mwaa-sandbox-Worker",
                          "airflow-mwaa-sandbox-WebServer"]
        for group in groups:
            events = logs.get_log_events(logGroupName=group, logStreamName=result.stream)["events"]
            assert any("hello-cloudwatch" in e["message"] for e in events)
    finally:
        server.stop()


def test_up_hook_returns_exports_or_raises_when_mwaa_would_not_start(project, monkeypatch):
    settings = load_settings(project, environ={})
    state = StateDir(settings.state_dir)
    venv = settings.cache_dir / "envs" / "x"
    assert run_for_up(settings, state, venv, SilentProgress()) is None
    (project / "startup.sh").write_text("export STAGE=dev\nexport PYTHONPATH=/x\n")
    assert run_for_up(settings, state, venv, SilentProgress()) is None  # not named by the spec: not run
    (project / "mwaa.yaml").write_text("StartupScriptS3Path: startup.sh\n")
    settings = load_settings(project, environ={})
    result = run_for_up(settings, state, venv, SilentProgress())
    assert result.exported == {"STAGE": "dev"} and result.rejected == ["PYTHONPATH"]
    (project / "startup.sh").write_text("sleep 30\n")
    with pytest.raises(StartupScriptError, match="did not finish within 1 s"):
        run_for_up(replace(settings, startup_timeout=1.0), state, venv, SilentProgress())


# -- the CLI and the startup_* corpus cases -------------------------------------------------------
def _cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        cli.main(list(args))
    out, err = capsys.readouterr()
    return info.value.code or 0, _ANSI.sub("", out), _ANSI.sub("", err)


def test_corpus_has_the_startup_cases():
    assert {"startup_protected_variable", "startup_over_time_limit", "startup_ok"} <= set(STARTUP_CASES)


@pytest.mark.parametrize("case", STARTUP_CASES)
def test_startup_corpus_case(case, tmp_path, capsys, monkeypatch):
    expected = yaml.safe_load((CORPUS / case / "expected.yaml").read_text())
    project = tmp_path / case
    shutil.copytree(CORPUS / case, project)
    for name, value in (expected.get("env") or {}).items():
        monkeypatch.setenv(name, str(value))
    code, out, err = _cli(capsys, "--project", str(project), "startup-script", "test")
    assert code == expected["exit_code"], out + err
    assert ("OK:" in out) == (expected["verdict"] == "pass")
    assert expected["key_line"] in out + err
    code, out, _ = _cli(capsys, "--project", str(project), "startup-script", "test", "--json")
    payload = json.loads(out)
    assert code == expected["exit_code"] and payload["ok"] == (expected["verdict"] == "pass")
    for key in ("rejected", "timed_out"):
        if key in expected:
            assert payload[key] == expected[key]
    if "exported" in expected:
        assert sorted(payload["exported"]) == expected["exported"]


def test_cli_names_a_missing_script(project, capsys):
    code, _, err = _cli(capsys, "--project", str(project), "startup-script", "test")
    assert code == 2 and "no startup script" in err
    code, _, err = _cli(capsys, "--project", str(project), "startup-script", "test", "nope.sh")
    assert code == 2 and "startup script nope.sh not found" in err


def test_cli_warns_once_about_a_crlf_script_and_still_passes(project, capsys):
    (project / "startup.sh").write_bytes(b"export FOO=bar\r\n")
    code, out, err = _cli(capsys, "--project", str(project), "startup-script", "test")
    assert code == 0 and "OK:" in out
    assert [line for line in out.splitlines() if line.startswith("Warning:")] == [
        "Warning: startup.sh has Windows (CRLF) line endings: on MWAA bash runs it as it is, so every "
        "exported value ends in a carriage return (here FOO: as if FOO='...\\r') and so does each "
        "command's last argument; convert it with dos2unix"]
    code, out, _ = _cli(capsys, "--project", str(project), "startup-script", "test", "--json")
    payload = json.loads(out)
    assert payload["ok"] and payload["exported"] == {"FOO": "bar\r"} and len(payload["warnings"]) == 1
