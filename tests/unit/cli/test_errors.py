"""Every error reaches the user as one "Error: ..." line and an exit code; tracebacks only with --debug."""

from __future__ import annotations

import pytest

from sandbox.errors import ConfigError, SandboxError


@pytest.fixture
def broken_project(project):
    (project / "mwaa.yaml").write_text("Name: x\nSchedulers: 2\n  MaxWorkers: 3\n")
    return project


def test_malformed_mwaa_yaml_is_one_error_line(sandbox, broken_project, no_subprocesses):
    result = sandbox("--project", str(broken_project), "config", "show")
    assert result.code == 2
    assert len(result.error_lines) == 1
    line = result.error_lines[0]
    assert line.startswith("Error: mwaa.yaml: not valid YAML at line 3")
    assert line.endswith("(fix the syntax; nothing was started)")
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err + result.out
    assert result.out == ""


def test_debug_shows_the_traceback(sandbox, broken_project):
    result = sandbox("--debug", "--project", str(broken_project), "config", "show")
    assert result.code == 2
    assert "Traceback (most recent call last)" in result.err
    assert "SpecError" in result.err
    assert result.err.rstrip().splitlines()[-1].startswith("Error: mwaa.yaml: not valid YAML")


def test_invalid_environment_class(sandbox, project, no_subprocesses):
    (project / "mwaa.yaml").write_text("EnvironmentClass: mw1.tiny\n")
    result = sandbox("--project", str(project), "status")
    assert result.code == 2
    assert result.error_lines == [
        "Error: mwaa.yaml: EnvironmentClass: 'mw1.tiny' is not one of mw1.micro, mw1.small, "
        "mw1.medium, mw1.large, mw1.xlarge, mw1.2xlarge"]


def test_unknown_runtime_fails_before_starting_anything(sandbox, project, monkeypatch, no_subprocesses):
    def no_runtime(*args, **kwargs):
        raise AssertionError("a runtime was created for an invalid --runtime")

    monkeypatch.setattr("sandbox.cli.context.make_runtime", no_runtime)
    result = sandbox("--project", str(project), "up", "--runtime", "bogus")
    assert result.code == 2
    assert len(result.error_lines) == 1
    assert result.error_lines[0].startswith("Error: runtime 'bogus' is not one of auto, native, compose")
    assert "Traceback" not in result.err
    assert not (project / ".sandbox").exists()


def test_bad_env_setting(sandbox, project, monkeypatch, no_subprocesses):
    monkeypatch.setenv("SANDBOX_AIRFLOW_PORT", "http")
    result = sandbox("--project", str(project), "status", "--json")
    assert result.code == ConfigError.exit_code == 2
    assert result.error_lines == ["Error: SANDBOX_AIRFLOW_PORT: 'http' is not a whole number"]
    assert result.out == ""


def test_missing_project(sandbox, tmp_path):
    result = sandbox("--project", str(tmp_path / "nowhere"), "status")
    assert result.code == 2
    assert result.error_lines[0].startswith(f"Error: project directory {tmp_path / 'nowhere'} does not exist")


def test_compose_runtime_without_an_engine_names_the_remedy(sandbox, project, monkeypatch):
    from sandbox.runtime.compose import engine

    monkeypatch.setattr(engine, "engine_version", lambda timeout=10: None)
    result = sandbox("--project", str(project), "up", "--runtime", "compose")
    assert result.code == SandboxError.exit_code == 1
    assert len(result.error_lines) == 1
    assert "no Docker engine answers" in result.error_lines[0]
    assert "--runtime native" in result.error_lines[0]


# typer >= 0.2x vendors click as typer._click; sandbox/cli/__init__.py catches the separate `click`
# package's ClickException/Abort, so usage errors escape as tracebacks. Strict: fixing it fails these.


def test_unknown_command_is_a_usage_error(sandbox, project):
    result = sandbox("--project", str(project), "launch")
    assert result.code == 2
    assert len(result.error_lines) == 1
    assert "launch" in result.error_lines[0]
    assert result.error_lines[0].endswith("(see `sandbox --help`)")
    assert "Traceback" not in result.err


def test_unknown_option_is_a_usage_error(sandbox, project):
    result = sandbox("--project", str(project), "status", "--colour")
    assert result.code == 2
    assert "--colour" in result.error_lines[0]


def _interrupt(self, **overrides):
    raise KeyboardInterrupt


def test_keyboard_interrupt_exits_130(sandbox, project, monkeypatch):
    monkeypatch.setattr("sandbox.cli.context.CliContext.settings", _interrupt)
    result = sandbox("--project", str(project), "config", "show")
    assert result.code == 130
    assert "Traceback" not in result.err


def test_keyboard_interrupt_says_so(sandbox, project, monkeypatch):
    monkeypatch.setattr("sandbox.cli.context.CliContext.settings", _interrupt)
    result = sandbox("--project", str(project), "config", "show")
    assert result.error_lines == ["Error: interrupted; everything this command started was stopped"]


def test_error_details_are_shown_under_the_line(sandbox, project, monkeypatch):
    def failing(self, **overrides):
        raise SandboxError("postgres exited while starting", hint="see `sandbox logs postgres`",
                           details="FATAL: data directory has wrong ownership")

    monkeypatch.setattr("sandbox.cli.context.CliContext.settings", failing)
    result = sandbox("--project", str(project), "config", "show")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert lines == ["Error: postgres exited while starting (see `sandbox logs postgres`)",
                     "FATAL: data directory has wrong ownership"]


def _bug(self, **overrides):
    raise AttributeError("'Thing' object has no attribute 'frob'")


def test_an_unexpected_exception_is_one_line_without_traceback(sandbox, project, monkeypatch):
    monkeypatch.setattr("sandbox.cli.context.CliContext.settings", _bug)
    result = sandbox("--project", str(project), "config", "show")
    assert result.code == 1
    assert result.error_lines == ["Error: unexpected AttributeError: 'Thing' object has no attribute 'frob'"]
    assert "Traceback" not in result.err and "--debug" in result.err


def test_an_unexpected_exception_shows_its_traceback_with_debug(sandbox, project, monkeypatch):
    monkeypatch.setattr("sandbox.cli.context.CliContext.settings", _bug)
    result = sandbox("--debug", "--project", str(project), "config", "show")
    assert result.code == 1 and "Traceback (most recent call last)" in result.err
