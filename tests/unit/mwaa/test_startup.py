"""MWAA's startup-script rules: protected variables, export capture, log names and lines."""

from __future__ import annotations

import pytest

from sandbox.mwaa import startup as rules


@pytest.mark.parametrize("name", [
    "MWAA__CORE__STARTUP_SCRIPT_PATH", "MWAA__ANYTHING", "AIRFLOW_HOME", "AIRFLOW_ENV_NAME",
    "AIRFLOW_ENV_ID", "AIRFLOW_VERSION", "AIRFLOW__WEBSERVER__BASE_URL", "AWS_REGION",
    "AWS_DEFAULT_REGION", "PYTHONPATH", "PYTHONUNBUFFERED", "AWS_EXECUTION_ENV", "WATCHTOWER_VERSION",
    "AIRFLOW__CORE__EXECUTOR", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__METRICS__STATSD_ON",
    "MWAA_AIRFLOW_COMPONENT",
])
def test_protected_variables(name):
    assert rules.is_protected(name)


@pytest.mark.parametrize("name", [
    "PATH", "LD_LIBRARY_PATH", "JAVA_HOME", "PIP_EXTRA_INDEX_URL", "MWAA_STAGE", "AIRFLOW_HOMEDIR",
    "AIRFLOW__CORE__DAG_CONCURRENCY", "AIRFLOW_CONN_MY_DB", "AWS_ACCESS_KEY_ID",
])
def test_unprotected_variables(name):
    assert not rules.is_protected(name)


def test_exported_changes_keeps_new_and_changed_values_only():
    before = {"KEEP": "same", "CHANGE": "old", "GONE": "x", "PWD": "/a", "SHLVL": "1"}
    after = {"KEEP": "same", "CHANGE": "new", "NEW": "1", "PWD": "/b", "SHLVL": "2", "_": "/bin/env"}
    assert rules.exported_changes(before, after) == {"CHANGE": "new", "NEW": "1"}


def test_split_protected_sorts_rejected_names():
    kept, rejected = rules.split_protected({"PYTHONPATH": "/x", "FOO": "1", "AIRFLOW_HOME": "/y"})
    assert kept == {"FOO": "1"}
    assert rejected == ["AIRFLOW_HOME", "PYTHONPATH"]


def test_parse_env0_keeps_equals_signs_and_newlines_in_values():
    data = b"A=1\0B=x=y\0MULTI=line1\nline2\0\0NOEQUALS\0"
    assert rules.parse_env0(data) == {"A": "1", "B": "x=y", "MULTI": "line1\nline2"}


@pytest.mark.parametrize("limit,term", [(300.0, 295.0), (1.0, 0.9), (20.0, 18.0)])
def test_sigterm_goes_out_a_patience_interval_before_the_limit(limit, term):
    assert rules.sigterm_after(limit) == pytest.approx(term)


def test_stream_and_group_names():
    assert rules.stream_name("ip-10-0-0-1", 1718000000.5) == \
        "startup_script_execution_ip-10-0-0-1_1718000000.5.log"
    assert rules.log_groups("dev") == ["airflow-dev-Scheduler", "airflow-dev-Worker", "airflow-dev-WebServer"]


def test_log_line_uses_airflow_log_format_in_utc():
    line = rules.LogLine(1718000000.25, "hello", "WARNING").format()
    assert line == "[2024-06-10T06:13:20.250+0000] {subprocess.py} WARNING - hello"


def test_wrapper_sources_the_script_with_exit_aliased(tmp_path):
    script = tmp_path / "my dir" / "startup.sh"
    text = rules.wrapper_script(script, tmp_path / "b", tmp_path / "a", tmp_path / "s")
    assert f"source '{script}'" in text  # quoted: the path has a space
    assert "alias exit=handle_exit" in text
    assert text.index("alias exit=") < text.index("source ")
    assert rules.STARTING_LINE in text and rules.EXITING_LINE in text


def test_protected_message_names_each_variable():
    message = rules.protected_message(["AIRFLOW_HOME", "PYTHONPATH"])
    assert "AIRFLOW_HOME, PYTHONPATH" in message and "MWAA protects" in message


def test_timeout_message_matches_mwaas_wording():
    assert rules.timeout_message(295.5, 300.0) == (
        "Process timed out after running for more than 295500 milliseconds when the maximum "
        "running time is 295000 milliseconds.")


def test_crlf_is_windows_line_endings_only():
    assert rules.has_crlf(b"export A=1\r\nexport B=2\r\n")
    assert not rules.has_crlf(b"export A=1\nexport B='a\rb'\n")


def test_crlf_message_names_the_affected_variables_never_their_values():
    names = rules.carriage_return_names({"URL": "http://x\r", "FOO": "secret\r", "OK": "fine"})
    assert names == ["FOO", "URL"]
    message = rules.crlf_message("startup.sh", names)
    assert message.startswith("startup.sh has Windows (CRLF) line endings: on MWAA bash runs it as it is")
    assert "(here FOO, URL: as if FOO='...\\r')" in message and "secret" not in message
    assert message.endswith("convert it with dos2unix") and "\n" not in message
    assert "(here" not in rules.crlf_message("boot.sh", [])
