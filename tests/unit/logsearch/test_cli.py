"""`sandbox logs` as a group: SERVICE still works, plus `insights` and `tail` (moto in-process)."""

from __future__ import annotations

import json
import re
import time
from types import SimpleNamespace

import boto3
import pytest
import typer
from moto import mock_aws
from typer.testing import CliRunner

from sandbox.cli import logs as service_logs
from sandbox.cli import logsearch
from sandbox.logsearch.errors import FilterPatternError, InsightsUnsupported

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class FakeContext:
    """What ctx.obj offers the commands: settings() with the env name, runtime() for SERVICE logs."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.settings_calls = 0

    def settings(self):
        self.settings_calls += 1
        return SimpleNamespace(spec=SimpleNamespace(name="test"))

    def runtime(self):
        def log_lines(service, lines):
            return (self.log_dir / f"{service}.log").read_text().splitlines()[-lines:]

        return SimpleNamespace(name="native", log_lines=log_lines), None


@pytest.fixture
def cli(tmp_path, monkeypatch):
    fake = FakeContext(tmp_path)
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context):
        ctx.obj = fake

    logsearch.register(app, service_logs.logs)
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(app, list(args))
        return SimpleNamespace(code=result.exit_code, out=_ANSI.sub("", result.output), exc=result.exception)
    run.fake = fake
    return run


@pytest.fixture
def emulator(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("logs", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        for suffix in ("DAGProcessing", "Scheduler", "Task", "WebServer", "Worker"):  # as `sandbox up` does
            client.create_log_group(logGroupName=f"airflow-test-{suffix}")
        monkeypatch.setattr(logsearch.aws, "client", lambda settings, service: client)
        yield client


def put(client, group, stream, events):
    client.create_log_stream(logGroupName=group, logStreamName=stream)
    client.put_log_events(logGroupName=group, logStreamName=stream,
                          logEvents=[{"timestamp": t, "message": m} for t, m in events])


def test_service_logs_still_work_without_a_subcommand(cli, tmp_path):
    (tmp_path / "postgres.log").write_text("one\ntwo\nthree\n")
    result = cli("logs", "postgres", "-n", "2")
    assert (result.code, result.out) == (0, "two\nthree\n")
    result = cli("logs", "-n", "1", "postgres", "--json")
    assert json.loads(result.out)["lines"] == ["three"]


def test_logs_help_lists_the_subcommands(cli):
    result = cli("logs", "--help")
    assert result.code == 0
    for name in ("service", "insights", "tail"):
        assert name in result.out


def test_insights_table_and_json(cli, emulator):
    now = int(time.time() * 1000) - 60_000
    put(emulator, "airflow-test-Task", "t1", [(now - 3000, "INFO start"), (now - 2000, "ERROR [boom]"),
                                               (now - 1000, "ERROR again")])
    put(emulator, "airflow-test-Worker", "w1", [(now - 1500, '{"level": "ERROR"}')])
    result = cli("logs", "insights", "filter @message like /ERROR/ | stats count(*) as n by @log", "--json")
    assert result.code == 0, result.exc
    payload = json.loads(result.out)
    assert payload["results"] == [{"@log": "airflow-test-Task", "n": "2"}, {"@log": "airflow-test-Worker", "n": "1"}]
    assert payload["recordsScanned"] == 4 and len(payload["groups"]) == 5

    result = cli("logs", "insights", "fields @message | sort @timestamp asc", "--group", "Task")
    assert result.code == 0, result.exc
    assert "3 rows from 3 events in airflow-test-Task" in result.out
    assert result.out.index("INFO start") < result.out.index("ERROR [boom]") < result.out.index("ERROR again")


def test_insights_since_window(cli, emulator):
    now = int(time.time() * 1000)
    put(emulator, "airflow-test-Task", "t1", [(now - 2 * 3_600_000, "old"), (now - 60_000, "recent")])
    result = cli("logs", "insights", "stats count(*) as n", "-g", "Task", "--since", "1h", "--json")
    assert json.loads(result.out)["results"] == [{"n": "1"}]


def test_bad_query_fails_before_reading_anything(cli):
    result = cli("logs", "insights", "dedup @message")
    assert isinstance(result.exc, InsightsUnsupported) and cli.fake.settings_calls == 0


def test_tail_prints_stream_time_message_filtered(cli, emulator):
    now = (int(time.time()) - 120) * 1000
    put(emulator, "airflow-test-Scheduler", "sched", [(now, "INFO tick"), (now + 1000, "ERROR stuck")])
    result = cli("logs", "tail", "scheduler", "--filter", "?ERROR ?WARN")
    assert result.code == 0, result.exc
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now / 1000 + 1))
    assert result.out == f"sched {stamp}.000 ERROR stuck\n"
    result = cli("logs", "tail", "Scheduler", "--json")
    assert [e["message"] for e in json.loads(result.out)["events"]] == ["INFO tick", "ERROR stuck"]


def test_tail_rejects_a_bad_pattern_before_reading(cli):
    result = cli("logs", "tail", "Task", "--filter", "[a, b]")
    assert isinstance(result.exc, FilterPatternError) and cli.fake.settings_calls == 0
