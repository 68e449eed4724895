"""`sandbox logs insights` / `tail` against a real moto server holding MWAA-named log groups.

The twenty events of tests/unit/logsearch/sample_events.py are shifted to start on the hour
before now (so 5-minute bins stay aligned and moto accepts them); the answers are worked out by
hand from that table.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from sandbox.cli import logs as service_logs
from sandbox.cli import logsearch
from sandbox.cli.context import CliContext
from sandbox.logsearch.fetch import read_groups
from sandbox.logsearch.insights_eval import evaluate
from sandbox.mwaa.logs import log_groups
from sandbox.services import aws

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "unit" / "logsearch"))
from sample_events import ROWS  # noqa: E402  (the same hand-checked table)

ENV = "test"
HOUR_MS = 3_600_000
START_MS = (int(time.time() * 1000) // HOUR_MS - 1) * HOUR_MS  # the last whole hour but one


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    settings = SimpleNamespace(host="127.0.0.1", aws_port=port, aws_region="us-east-1")
    try:
        client = aws.client(settings, "logs")
        deadline = time.monotonic() + 30
        while True:
            try:
                client.describe_log_groups()
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto server did not answer on port {port}:\n{log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield SimpleNamespace(port=port, client=client, settings=settings)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="module")
def loaded(moto_server):
    """The five MWAA groups, and the sample events put into them (shifted to START_MS)."""
    client = moto_server.client
    for group in log_groups(ENV):
        client.create_log_group(logGroupName=group)
    streams: dict[tuple[str, str], list[dict]] = {}
    for _, mm_ss, suffix, stream, message in ROWS:
        minutes, seconds = mm_ss.split(":")
        ts = START_MS + (int(minutes) * 60 + int(seconds)) * 1000
        streams.setdefault((f"airflow-{ENV}-{suffix}", stream), []).append({"timestamp": ts, "message": message})
    for (group, stream), events in streams.items():
        client.create_log_stream(logGroupName=group, logStreamName=stream)
        client.put_log_events(logGroupName=group, logStreamName=stream,
                              logEvents=sorted(events, key=lambda e: e["timestamp"]))
    return moto_server


def _query(loaded, query: str, suffixes=("DAGProcessing", "Scheduler", "Task", "WebServer", "Worker")):
    groups = [f"airflow-{ENV}-{s}" for s in suffixes]
    return evaluate(query, read_groups(loaded.client, groups, START_MS - 60_000)).rows


def test_filter_query_over_the_real_emulator(loaded):
    rows = _query(loaded, "filter @message like /ERROR/ | fields @timestamp, @logStream")
    # E5 14:59, E18 14:00, E10 09:00, E15 08:20, E8 07:45, E13 02:30, E7 02:00
    offsets = [(14, 59), (14, 0), (9, 0), (8, 20), (7, 45), (2, 30), (2, 0)]
    assert [r["@timestamp"] for r in rows] == [_stamp(START_MS + (m * 60 + s) * 1000) for m, s in offsets]
    assert rows[0]["@logStream"] == "scheduler-1" and rows[1]["@logStream"] == "worker-b"


def test_stats_by_bin_over_the_real_emulator(loaded):
    rows = _query(loaded, "stats count(*) as n by bin(5m)")
    assert rows == [{"bin(5m)": _stamp(START_MS + k * 300_000), "n": n} for k, n in enumerate(["7", "7", "6"])]


def test_json_fields_and_group_choice(loaded):
    rows = _query(loaded, "filter level = 'ERROR' | stats avg(latency) as mean, count(*) as n", ("Worker",))
    assert rows == [{"mean": "510", "n": "3"}]  # (450 + 80 + 1000) / 3
    assert _query(loaded, "filter level = 'ERROR' | stats count(*) as n", ("Task",)) == []


def test_moto_start_query_ignores_filter_which_is_why_we_evaluate(loaded):
    """moto 5.2.5 applies only fields/sort/limit: its answer to a filter query is every event."""
    client = loaded.client
    query = "filter @message like /ERROR/ | fields @message"
    query_id = client.start_query(logGroupNames=log_groups(ENV), startTime=START_MS // 1000 - 60,
                                  endTime=int(time.time()) + 60, queryString=query)["queryId"]
    deadline = time.monotonic() + 10
    while (response := client.get_query_results(queryId=query_id))["status"] in ("Scheduled", "Running"):
        assert time.monotonic() < deadline, "moto's query never completed"
        time.sleep(0.2)
    moto_messages = [{f["field"]: f["value"] for f in row}.get("@message") for row in response["results"]]
    ours = _query(loaded, query)
    assert len(moto_messages) == 20 and any("ERROR" not in m for m in moto_messages)
    assert len(ours) == 7 and all("ERROR" in r["@message"] for r in ours)


@pytest.fixture
def cli(loaded, tmp_path):
    (tmp_path / "mwaa.yaml").write_text(f"Name: {ENV}\n")
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context):
        ctx.obj = CliContext(tmp_path, overrides={"aws_port": loaded.port, "host": "127.0.0.1"})

    logsearch.register(app, service_logs.logs)
    return lambda *args: CliRunner().invoke(app, list(args))


def test_cli_insights_json(cli):
    result = cli("logs", "insights", "stats count(*) as n by @log", "--since", "3h", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["results"] == [
        {"@log": "airflow-test-Scheduler", "n": "5"}, {"@log": "airflow-test-Task", "n": "6"},
        {"@log": "airflow-test-WebServer", "n": "2"}, {"@log": "airflow-test-Worker", "n": "7"}]


def test_cli_tail_with_a_json_filter_pattern(cli):
    result = cli("logs", "tail", "Worker", "--since", "3h", "--filter", '{ $.latency >= 450 }')
    assert result.exit_code == 0, result.output
    # E13 (worker-a, 02:30, 450) then E18 (worker-b, 14:00, 1000), oldest first
    assert result.output.splitlines() == [
        f"worker-a {_stamp(START_MS + 150_000)} {ROWS[12][4]}",
        f"worker-b {_stamp(START_MS + 840_000)} {ROWS[17][4]}",
    ]

