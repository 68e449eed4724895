"""Reading events with boto3 (moto in-process), --since, group names, and tail -f polling."""

from __future__ import annotations

import time

import boto3
import pytest
from moto import mock_aws

from sandbox.errors import SandboxError
from sandbox.logsearch.errors import FilterPatternError, LogSearchError
from sandbox.logsearch.fetch import Follower, group_names, parse_since, read_events, read_groups

GROUP = "airflow-test-Task"


@pytest.fixture
def logs(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("logs", region_name="us-east-1", aws_access_key_id="test",
                              aws_secret_access_key="test")
        client.create_log_group(logGroupName=GROUP)
        for stream in ("a", "b"):
            client.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        yield client


NOW = int(time.time() * 1000) - 60_000  # a minute ago: moto refuses events in the future


def put(logs, stream: str, *events: tuple[int, str]) -> None:
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream,
                        logEvents=[{"timestamp": t, "message": m} for t, m in events])


@pytest.mark.parametrize("text, ms", [("30s", 30_000), ("15m", 900_000), ("1h", 3_600_000), ("2d", 172_800_000)])
def test_parse_since(text, ms):
    assert parse_since(text) == ms


@pytest.mark.parametrize("text", ["", "1w", "h", "-5m", "5 minutes"])
def test_parse_since_rejects_other_text(text):
    with pytest.raises(LogSearchError, match="is not a duration"):
        parse_since(text)


def test_group_names():
    assert group_names("test", ["task", "Scheduler"]) == ["airflow-test-Task", "airflow-test-Scheduler"]
    assert group_names("x", None) == ["airflow-x-DAGProcessing", "airflow-x-Scheduler", "airflow-x-Task",
                                      "airflow-x-WebServer", "airflow-x-Worker"]
    assert group_names("x", ["airflow-other-Task"]) == ["airflow-other-Task"]
    with pytest.raises(LogSearchError, match="unknown log group 'Tasks'"):
        group_names("x", ["Tasks"])


def test_read_events_merges_streams_oldest_first_within_the_window(logs):
    put(logs, "a", (NOW - 5000, "a-old"), (NOW - 1000, "a-new"))
    put(logs, "b", (NOW - 3000, "b-mid"))
    events = read_events(logs, GROUP, start_ms=NOW - 4000)
    assert [(e["@message"], e["@logStream"], e["@log"]) for e in events] == [
        ("b-mid", "b", GROUP), ("a-new", "a", GROUP)]
    assert events[0]["@timestamp"] == NOW - 3000


def test_read_events_applies_our_filter_pattern(logs):
    put(logs, "a", (NOW - 3000, '{"level": "ERROR"}'), (NOW - 2000, '{"level": "INFO"}'), (NOW - 1000, "ERROR x"))
    assert [e["@message"] for e in read_events(logs, GROUP, pattern='{ $.level = "ERROR" }')] == ['{"level": "ERROR"}']
    with pytest.raises(FilterPatternError):
        read_events(logs, GROUP, pattern="[a, b]")


def test_read_events_reads_every_page(logs):
    # 10,000 is one page of FilterLogEvents; 10,050 events need two
    batch = [(NOW - 20_000 + i, f"line {i}") for i in range(10_050)]
    for start in range(0, len(batch), 5000):
        put(logs, "a", *batch[start:start + 5000])
    events = read_events(logs, GROUP)
    assert len(events) == 10_050 and events[-1]["@message"] == "line 10049"


def test_missing_group_is_an_error(logs):
    with pytest.raises(SandboxError, match="log group airflow-test-Nope does not exist"):
        read_groups(logs, ["airflow-test-Nope"], None)


def test_follower_returns_each_event_once(logs):
    put(logs, "a", (NOW - 5000, "one"), (NOW - 4000, "two"))
    follower = Follower(logs, GROUP, NOW - 10_000)
    assert [e["@message"] for e in follower.poll()] == ["one", "two"]
    assert follower.poll() == []
    put(logs, "b", (NOW - 4000, "two-again-same-ms"), (NOW - 3000, "three"))
    assert [e["@message"] for e in follower.poll()] == ["two-again-same-ms", "three"]
    assert follower.poll() == []


def test_follow_polls_with_the_interval_and_a_bound(logs):
    put(logs, "a", (NOW - 5000, "ERROR first"), (NOW - 4500, "INFO skip"))
    naps = []

    def nap(seconds):
        naps.append(seconds)
        put(logs, "a", (NOW - 4000 + len(naps), f"ERROR after nap {len(naps)}"))

    follower = Follower(logs, GROUP, NOW - 10_000, pattern="ERROR", sleep=nap)
    seen = [e["@message"] for e in follower.follow(polls=3)]
    assert seen == ["ERROR first", "ERROR after nap 1", "ERROR after nap 2"]
    assert naps == [2.0, 2.0]
