"""The log shipper: MWAA's groups and streams, levels per LoggingConfiguration, no re-sends."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sandbox.logship import Shipper, parse_lines, sources
from sandbox.mwaa.spec import LogSetting
from sandbox.settings import load_settings


class FakeLogs:
    class exceptions:
        class ResourceAlreadyExistsException(Exception):
            pass

    def __init__(self):
        self.streams: set[tuple[str, str]] = set()
        self.events: dict[tuple[str, str], list[dict]] = {}

    def create_log_stream(self, logGroupName, logStreamName):
        if (logGroupName, logStreamName) in self.streams:
            raise self.exceptions.ResourceAlreadyExistsException()
        self.streams.add((logGroupName, logStreamName))

    def put_log_events(self, logGroupName, logStreamName, logEvents):
        assert (logGroupName, logStreamName) in self.streams
        assert logEvents == sorted(logEvents, key=lambda e: e["timestamp"])
        self.events.setdefault((logGroupName, logStreamName), []).extend(logEvents)


SCHEDULER = (
    "[2026-11-22T12:00:01.250+0000] {scheduler_job_runner.py:796} INFO - Starting the scheduler\n"
    "[2026-11-22T12:00:02.000+0000] {dagbag.py:1} DEBUG - noisy detail\n"
    "[2026-11-22T12:00:03.000+0000] {scheduler_job_runner.py:9} ERROR - something broke\n"
    "Traceback (most recent call last):\n"
    "  File \"x.py\", line 1\n"
)


@pytest.fixture
def settings(project):
    s = load_settings(project)
    logs = s.state_dir / "logs"
    logs.mkdir(parents=True)
    (logs / "airflow-scheduler.log").write_text(SCHEDULER)
    (logs / "airflow-triggerer.log").write_text("[2026-11-22T12:00:05.000+0000] {t.py:1} INFO - triggerer up\n")
    (logs / "airflow-webserver.log").write_text("[2026-11-22T12:00:06.000+0000] {w.py:1} INFO - web up\n")
    (logs / "airflow-worker-2.log").write_text("[2026-11-22T12:00:08.000+0000] {w.py:1} INFO - celery ready.\n")
    (logs / "postgres.log").write_text("not an Airflow log\n")
    per_file = s.state_dir / "airflow" / "logs" / "scheduler" / "latest"
    per_file.mkdir(parents=True)
    (per_file / "my_dag.py.log").write_text("[2026-11-22T12:00:07.000+0000] {processor.py:1} INFO - Processing my_dag.py\n")
    return s


def test_sources_follow_mwaa_names(settings):
    found = {(s.path.name, s.log_type, s.stream) for s in sources(settings, "vm", 1700000000)}
    assert found == {
        ("airflow-scheduler.log", "SchedulerLogs", "scheduler_vm_1700000000.log"),
        ("airflow-triggerer.log", "SchedulerLogs", "triggerer_vm_1700000000.log"),
        ("airflow-webserver.log", "WebserverLogs", "webserver_vm_1700000000.log"),
        ("airflow-worker-2.log", "WorkerLogs", "worker_airflow-worker-2.vm_1700000000.log"),
        ("my_dag.py.log", "DagProcessingLogs", "scheduler_my_dag.py.log"),
    }


def test_levels_filter_and_tracebacks_follow_their_line():
    events, last = parse_lines(SCHEDULER, minimum=20, now_ms=0)
    assert [e["message"].split(" - ")[-1] for e in events] == [
        "Starting the scheduler", "something broke", "Traceback (most recent call last):", '  File "x.py", line 1']
    assert events[0]["timestamp"] == 1795348801250  # 2026-11-22T12:00:01.250Z
    assert last == 40
    errors_only, _ = parse_lines(SCHEDULER, minimum=40, now_ms=0)
    assert len(errors_only) == 3


def test_a_pass_ships_each_group_once_and_never_resends(settings):
    logs = FakeLogs()
    shipper = Shipper(settings, logs, host="vm", epoch=1700000000)
    assert shipper.pass_once() == 8  # scheduler 4 (DEBUG dropped), triggerer 1, webserver 1, worker 1, per-file 1
    env = settings.spec.name
    assert len(logs.events[(f"airflow-{env}-Scheduler", "scheduler_vm_1700000000.log")]) == 4
    assert len(logs.events[(f"airflow-{env}-Scheduler", "triggerer_vm_1700000000.log")]) == 1
    assert len(logs.events[(f"airflow-{env}-WebServer", "webserver_vm_1700000000.log")]) == 1
    assert len(logs.events[(f"airflow-{env}-DAGProcessing", "scheduler_my_dag.py.log")]) == 1
    assert len(logs.events[(f"airflow-{env}-Worker", "worker_airflow-worker-2.vm_1700000000.log")]) == 1
    assert shipper.pass_once() == 0
    with open(settings.state_dir / "logs" / "airflow-webserver.log", "a") as fh:
        fh.write("[2026-11-22T12:00:09.000+0000] {w.py:1} INFO - second line\npartial without newline")
    again = Shipper(settings, logs, host="vm", epoch=1700000000)  # a restarted shipper keeps offsets
    assert again.pass_once() == 1
    assert logs.events[(f"airflow-{env}-WebServer", "webserver_vm_1700000000.log")][-1]["message"].endswith("second line")


def test_disabled_types_ship_nothing(settings):
    logging = dict(settings.spec.logging, SchedulerLogs=LogSetting(False, "INFO"))
    settings = replace(settings, spec=replace(settings.spec, logging=logging))
    logs = FakeLogs()
    Shipper(settings, logs, host="vm", epoch=1).pass_once()
    assert not any(group.endswith("-Scheduler") for group, _ in logs.events)
    assert any(group.endswith("-WebServer") for group, _ in logs.events)
