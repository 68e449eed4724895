"""The AWS emulator's state across a restart, against real moto servers (one process each, on a
free port): write versions, delete markers, log events and secrets, export, start a fresh server,
bootstrap it as `up` does, restore, read everything back."""

from __future__ import annotations

import json
import socket
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from sandbox.probes import wait_for
from sandbox.proc import is_alive, runner, stop
from sandbox.services import aws, aws_state
from sandbox.settings import load_settings

SPEC = """\
Secrets:
  app/config:
    Region: eu-west-1
    Value: "from mwaa.yaml"
"""
TASK_GROUP = "airflow-mwaa-sandbox-Task"
HOUR_MS = 3600 * 1000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def emulator(project: Path, log: Path):
    """The native runtime's moto server (aws.process) on a free port, ready; always stopped."""
    settings = load_settings(project, environ={"SANDBOX_AWS_PORT": str(_free_port())})
    spec = aws.process(settings)
    record = runner.spawn(spec.command, log)
    try:
        if wait_for(spec.probe, timeout=30, still_running=lambda: is_alive(record)) < 0:
            pytest.fail(f"moto server exited:\n{log.read_text()[-2000:]}")
        yield settings
    finally:
        stop(record, grace=10)


@pytest.fixture
def emulators(project, tmp_path):
    """`with emulators() as settings:` a fresh, bootstrapped emulator (as `up` leaves it) and the
    project's settings pointing at it."""
    (project / "mwaa.yaml").write_text(SPEC)

    @contextmanager
    def start():
        with emulator(project, tmp_path / "moto.log") as settings:
            aws.bootstrap(settings)
            yield settings

    return start


def _s3(settings, region=None):
    return aws.client(settings, "s3", region)


def history(s3, bucket: str) -> list[tuple]:
    """(key, delete marker?, body, content type, metadata) per version, oldest first per key, read
    one entry a page (exact order even within one LastModified second)."""
    entries, kwargs = [], {}
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=1, **kwargs)
        for marker in page.get("DeleteMarkers", []):
            entries.append((marker["Key"], True, None, None, None))
        for version in page.get("Versions", []):
            got = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
            entries.append((version["Key"], False, got["Body"].read(), got["ContentType"], got["Metadata"]))
        if not page.get("IsTruncated"):
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    keys = sorted({e[0] for e in entries})
    return [e for key in keys for e in reversed([e for e in entries if e[0] == key])]


def events(settings, group: str, stream: str, region=None) -> list[tuple[int, str]]:
    logs = aws.client(settings, "logs", region)
    found, token = [], None
    while True:
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True,
                                   **({"nextToken": token} if token else {}))
        found += [(e["timestamp"], e["message"]) for e in page["events"]]
        if not page["events"] or page["nextForwardToken"] == token:
            return found
        token = page["nextForwardToken"]


def put_events(settings, group: str, stream: str, rows: list[tuple[int, str]], region=None) -> None:
    logs = aws.client(settings, "logs", region)
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    for start in range(0, len(rows), 5000):
        logs.put_log_events(logGroupName=group, logStreamName=stream,
                            logEvents=[{"timestamp": t, "message": m} for t, m in rows[start:start + 5000]])


def write_everything(settings) -> dict:
    """Versions with delete markers in between (all within a second or two), an unversioned bucket
    in another region, log events in two regions, secrets (string and binary)."""
    s3, bucket, written = _s3(settings), settings.spec.bucket_name, {}
    for body in (b"v1", b"v2", None, b"v3"):
        if body is None:
            answer = s3.delete_object(Bucket=bucket, Key="dags/a.py")
        else:
            answer = s3.put_object(Bucket=bucket, Key="dags/a.py", Body=body, ContentType="text/x-python",
                                   Metadata={"sha256": body.decode() * 4})
        written[answer["VersionId"]] = body
    s3.put_object(Bucket=bucket, Key="dags/b.py", Body=b"gone soon")
    s3.delete_object(Bucket=bucket, Key="dags/b.py")
    other = _s3(settings, "eu-west-1")
    other.create_bucket(Bucket="user-data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    other.put_object(Bucket="user-data", Key="k.bin", Body=bytes(range(256)) * 10)
    now = int(time.time() * 1000)
    put_events(settings, TASK_GROUP, "dag_id=d/run_id=r/task_id=t/attempt=1.log",
               [(now - 3000, "first"), (now - 3000, "same millisecond"), (now - 1000, "é ü ✓ last")])
    logs = aws.client(settings, "logs", "eu-west-1")
    logs.create_log_group(logGroupName="user/app")
    logs.put_retention_policy(logGroupName="user/app", retentionInDays=7)
    put_events(settings, "user/app", "s1", [(now - 10, "in eu-west-1")], "eu-west-1")
    sm = aws.client(settings, "secretsmanager")
    sm.create_secret(Name="user/token", SecretString="s3cr3t", Description="made by a DAG")
    aws.client(settings, "secretsmanager", "eu-west-1").create_secret(Name="user/blob", SecretBinary=b"\x00\xff")
    return written


def secrets(settings) -> dict[tuple[str, str], tuple]:
    found = {}
    for region in ("us-east-1", "eu-west-1"):
        sm = aws.client(settings, "secretsmanager", region)
        for entry in sm.list_secrets()["SecretList"]:
            value = sm.get_secret_value(SecretId=entry["Name"])
            found[(region, entry["Name"])] = (value.get("SecretString"), value.get("SecretBinary"),
                                              entry.get("Description", ""))
    return found


def test_down_then_up_gives_back_versions_log_events_and_secrets(emulators, project):
    folder = project / ".sandbox" / "aws-state"
    with emulators() as before:
        written = write_everything(before)
        expected = {b: history(_s3(before), b) for b in (before.spec.bucket_name, "user-data")}
        logged = [events(before, TASK_GROUP, "dag_id=d/run_id=r/task_id=t/attempt=1.log"),
                  events(before, "user/app", "s1", "eu-west-1")]
        kept_secrets = secrets(before)
        kept = aws_state.export(before, folder)
    assert (kept.versions, kept.delete_markers, kept.secrets) == (7, 2, 3)  # app/config is mwaa.yaml's
    assert kept.log_events == 4 and "7 S3 object versions (2 delete markers)" in kept.kept_line(folder)
    with emulators() as after:
        restored = aws_state.restore(after, folder)
        assert {b: history(_s3(after), b) for b in expected} == expected
        assert [events(after, TASK_GROUP, "dag_id=d/run_id=r/task_id=t/attempt=1.log"),
                events(after, "user/app", "s1", "eu-west-1")] == logged
        group = aws.client(after, "logs", "eu-west-1").describe_log_groups(logGroupNamePrefix="user/app")
        assert group["logGroups"][0]["retentionInDays"] == 7
        assert secrets(after) == kept_secrets
        assert _s3(after).get_object(Bucket=after.spec.bucket_name, Key="dags/a.py")["Body"].read() == b"v3"
        renamed = aws_state.read_manifest(folder)["restored_version_ids"][after.spec.bucket_name]
        assert set(written) <= set(renamed) and not set(written) & set(renamed.values())
        for old, body in written.items():
            if body is not None:
                got = _s3(after).get_object(Bucket=after.spec.bucket_name, Key="dags/a.py", VersionId=renamed[old])
                assert got["Body"].read() == body
    assert (restored.versions, restored.delete_markers, restored.log_events, restored.secrets) == (7, 2, 4, 2)
    assert restored.refused == {} and "version ids" in restored.restored_line()


def test_mwaa_yaml_wins_over_a_kept_secret(emulators, project):
    folder = project / ".sandbox" / "aws-state"
    with emulators() as before:
        aws.client(before, "secretsmanager", "eu-west-1").put_secret_value(SecretId="app/config",
                                                                           SecretString="changed by hand")
        aws_state.export(before, folder)
    with emulators() as after:
        assert aws_state.restore(after, folder).secrets == 0
        value = aws.client(after, "secretsmanager", "eu-west-1").get_secret_value(SecretId="app/config")
        assert value["SecretString"] == "from mwaa.yaml"


def test_25000_events_over_two_days_come_back_in_order(emulators, project):
    folder = project / ".sandbox" / "aws-state"
    start = int(time.time() * 1000) - 72 * HOUR_MS
    rows = [(start + i * 7_200, f"event {i:05d} " + "x" * (i % 50)) for i in range(25_000)]  # 50 h
    with emulators() as before:
        put_events(before, TASK_GROUP, "big", rows)
        started = time.monotonic()
        assert aws_state.export(before, folder).log_events == 25_000
        exported_in = time.monotonic() - started
    with emulators() as after:
        started = time.monotonic()
        restored = aws_state.restore(after, folder)
        restored_in = time.monotonic() - started
        assert events(after, TASK_GROUP, "big") == rows
    assert restored.log_events == 25_000 and not restored.refused
    print(f"25,000 events: export {exported_in:.1f} s, restore {restored_in:.1f} s")


def test_batches_keep_putlogevents_limits():
    hour = HOUR_MS
    many = [{"timestamp": i * 7_200, "message": "m"} for i in range(25_000)]  # 50 hours
    wide = [{"timestamp": i, "message": "x" * 10_000} for i in range(300)]  # 3 MB
    sparse = [{"timestamp": i * hour, "message": "hourly"} for i in range(100)]
    for events_ in (many, wide, sparse):
        cut = list(aws_state.batches(events_))
        assert [e for batch in cut for e in batch] == events_
        for batch in cut:
            assert len(batch) <= 10_000
            assert sum(len(e["message"].encode()) + 26 for e in batch) <= 1_048_576
            assert batch[-1]["timestamp"] - batch[0]["timestamp"] < 24 * hour
    assert max(len(b) for b in aws_state.batches(wide)) == 1_048_576 // 10_026
    assert [len(b) for b in aws_state.batches(many)] == [10_000, 10_000, 5_000]
    assert [len(b) for b in aws_state.batches(sparse)] == [24, 24, 24, 24, 4]  # < 24 h each


def test_events_too_old_for_putlogevents_are_counted_not_dropped_silently(emulators, project):
    """A snapshot kept for a while: its oldest events are now past the 14 days moto (like AWS)
    accepts. Simulated by moving three events of the snapshot 15 days back."""
    folder = project / ".sandbox" / "aws-state"
    now = int(time.time() * 1000)
    with emulators() as before:
        put_events(before, TASK_GROUP, "s", [(now - 5000 + i, f"e{i}") for i in range(5)])
        aws_state.export(before, folder)
    manifest = aws_state.read_manifest(folder)
    path = folder / next(s for g in manifest["log_groups"] if g["name"] == TASK_GROUP for s in g["streams"])["events"]
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps([ts - (15 * 24 * HOUR_MS if i < 3 else 0), m]) + "\n"
                            for i, (ts, m) in enumerate(rows)))
    with emulators() as after:
        restored = aws_state.restore(after, folder)
        assert [m for _, m in events(after, TASK_GROUP, "s")] == ["e3", "e4"]
    assert restored.log_events == 2
    assert restored.refused == {"older than 14 days (PutLogEvents refuses them, in moto as in AWS)": 3}
    assert restored.refused_notes() == ["not restored: 3 log events older than 14 days (PutLogEvents "
                                        "refuses them, in moto as in AWS)"]


def test_refused_counts_follow_the_rejected_info():
    assert aws_state.refused_events({}, 10) == {}
    assert aws_state.refused_events({"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 8}, 10) == {
        "older than 14 days (PutLogEvents refuses them, in moto as in AWS)": 3,
        "more than 2 hours ahead of the clock (PutLogEvents refuses them)": 2}
    assert aws_state.refused_events({"expiredLogEventEndIndex": 1, "tooOldLogEventEndIndex": 4}, 10) == {
        "past the log group's retention": 2, "older than 14 days (PutLogEvents refuses them, in moto as in AWS)": 3}


def test_an_emulator_that_kept_running_is_not_restored_over(emulators, project):
    folder = project / ".sandbox" / "aws-state"
    with emulators() as settings:
        write_everything(settings)
        aws_state.export(settings, folder)
        again = aws_state.restore(settings, folder)
        assert again.empty and "kept running" in again.notes[0]
        assert len(history(_s3(settings), settings.spec.bucket_name)) == 6  # nothing twice


def test_a_snapshot_of_another_format_is_ignored_with_one_note(tmp_path, project):
    folder = tmp_path / "aws-state"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"format": 0}))
    settings = load_settings(project, environ={"SANDBOX_AWS_PORT": "1"})  # never reached
    summary = aws_state.restore(settings, folder)
    assert summary.empty and len(summary.notes) == 1 and "format 0" in summary.notes[0]
    assert aws_state.restore(settings, tmp_path / "none").empty  # no snapshot: nothing to say


def test_a_failed_export_leaves_the_previous_snapshot_whole(emulators, project, monkeypatch):
    folder = project / ".sandbox" / "aws-state"
    with emulators() as settings:
        write_everything(settings)
        aws_state.export(settings, folder)
        first = aws_state.read_manifest(folder)

        def broken(*args):
            raise RuntimeError("emulator went away")

        monkeypatch.setattr(aws_state, "_export_secrets", broken)
        with pytest.raises(RuntimeError):
            aws_state.export(settings, folder)
    assert aws_state.read_manifest(folder) == first
    assert sorted(p.name for p in folder.parent.iterdir() if p.name.startswith("aws-state")) == [
        "aws-state", folder.resolve().name]
    assert oct(folder.resolve().stat().st_mode & 0o777) == "0o700"  # secrets are in it


def test_answers_is_false_quickly_when_nothing_listens(project):
    settings = load_settings(project, environ={"SANDBOX_AWS_PORT": str(_free_port())})
    started = time.monotonic()
    assert aws_state.answers(settings) is False
    assert time.monotonic() - started < 5
