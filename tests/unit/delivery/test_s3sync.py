"""The bucket -> dags folder sync: one pass against moto's in-process mock, the loop, its status
file and the helpers the probe and e2e use."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from sandbox.delivery import s3sync
from sandbox.errors import ConfigError
from sandbox.proc import start_ticks
from sandbox.services import dagsync
from sandbox.settings import load_settings

BUCKET = "sync-bucket"


@pytest.fixture
def s3(versioned_bucket):
    with versioned_bucket(BUCKET) as client:
        yield client


class Counting:
    """Wraps a client to count downloads."""

    def __init__(self, client):
        self.client = client
        self.gets = 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def get_object(self, **kwargs):
        self.gets += 1
        return self.client.get_object(**kwargs)


def put(s3, key: str, text: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode())


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_interval_is_a_setting(tmp_path, monkeypatch):
    from sandbox.settings import load_settings

    assert load_settings(tmp_path).dag_sync_interval == 30.0
    monkeypatch.setenv("SANDBOX_DAG_SYNC_INTERVAL", "1.5")
    assert load_settings(tmp_path).dag_sync_interval == 1.5
    for bad in ("0", "-2", "soon", "inf"):
        monkeypatch.setenv("SANDBOX_DAG_SYNC_INTERVAL", bad)
        with pytest.raises(ConfigError):
            load_settings(tmp_path)


def test_first_pass_copies_the_prefix_only(s3, tmp_path):
    put(s3, "dags/a.py", "a")
    put(s3, "dags/sub/b.py", "b")
    put(s3, "dags/", "")  # a console "folder" marker
    put(s3, "requirements.txt", "pandas")
    put(s3, "dagsother/x.py", "x")
    result = s3sync.sync_once(s3, BUCKET, "dags/", tmp_path / "dags", {})
    assert result.copied == ["a.py", "sub/b.py"]
    assert tree(tmp_path / "dags") == {"a.py": "a", "sub/b.py": "b"}


def test_unchanged_objects_are_not_downloaded_again(s3, tmp_path):
    put(s3, "dags/a.py", "a")
    counting, known = Counting(s3), {}
    s3sync.sync_once(counting, BUCKET, "dags/", tmp_path, known)
    again = s3sync.sync_once(counting, BUCKET, "dags/", tmp_path, known)
    assert (again.copied, again.deleted, again.unchanged, counting.gets) == ([], [], 1, 1)


def test_new_version_is_copied_and_deleted_object_removed(s3, tmp_path):
    put(s3, "dags/a.py", "v1")
    put(s3, "dags/sub/gone.py", "bye")
    known = {}
    s3sync.sync_once(s3, BUCKET, "dags/", tmp_path, known)
    put(s3, "dags/a.py", "v2")
    s3.delete_object(Bucket=BUCKET, Key="dags/sub/gone.py")  # leaves a delete marker
    result = s3sync.sync_once(s3, BUCKET, "dags/", tmp_path, known)
    assert (result.copied, result.deleted) == (["a.py"], ["sub/gone.py"])
    assert tree(tmp_path) == {"a.py": "v2"}
    assert not (tmp_path / "sub").exists()  # emptied folders go too


def test_local_edit_in_the_dags_folder_is_overwritten(s3, tmp_path):
    put(s3, "dags/a.py", "from s3")
    known = {}
    s3sync.sync_once(s3, BUCKET, "dags/", tmp_path, known)
    (tmp_path / "a.py").write_text("edited by hand")
    assert s3sync.sync_once(s3, BUCKET, "dags/", tmp_path, known).copied == ["a.py"]
    assert (tmp_path / "a.py").read_text() == "from s3"


def test_restart_does_not_rewrite_identical_files(s3, tmp_path):
    put(s3, "dags/a.py", "a")
    s3sync.sync_once(s3, BUCKET, "dags/", tmp_path, {})
    stamp = (tmp_path / "a.py").stat().st_mtime_ns
    result = s3sync.sync_once(s3, BUCKET, "dags/", tmp_path, {})  # a new process knows nothing
    assert result.copied == [] and (tmp_path / "a.py").stat().st_mtime_ns == stamp


def test_airflow_caches_and_leftover_temp_files(s3, tmp_path):
    put(s3, "dags/a.py", "a")
    (tmp_path / "__pycache__").mkdir(parents=True)
    (tmp_path / "__pycache__" / "a.cpython-311.pyc").write_text("airflow's")
    (tmp_path / ".a.py.999.s3sync").write_text("crash leftover")
    result = s3sync.sync_once(s3, BUCKET, "dags/", tmp_path, {})
    assert result.deleted == []
    assert (tmp_path / "__pycache__" / "a.cpython-311.pyc").exists()
    assert not (tmp_path / ".a.py.999.s3sync").exists()  # cleaned up, not reported as a DAG change
    assert tree(tmp_path) == {"a.py": "a", "__pycache__/a.cpython-311.pyc": "airflow's"}


@pytest.fixture
def proj(project) -> Path:
    (project / "mwaa.yaml").write_text(f"SourceBucketArn: arn:aws:s3:::{BUCKET}\nDagS3Path: dags\n")
    return project


def _run(settings, s3, target, **kw):
    stop, wake = threading.Event(), threading.Event()
    thread = threading.Thread(target=s3sync.run_loop, args=(settings, kw.pop("interval", 60.0), stop),
                              kwargs={"wake": wake, "target": target, "log": lambda line: None, "s3": s3},
                              daemon=True)
    thread.start()
    return stop, wake, thread


def _wait(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_loop_writes_status_and_wakes_on_request(proj, s3, tmp_path):
    settings = load_settings(proj)
    put(s3, "dags/a.py", "a")
    stop, wake, thread = _run(settings, s3, tmp_path / "out")
    path = s3sync.status_file(settings)
    try:
        assert _wait(lambda: (s3sync.read_status(path) or {}).get("passes") == 1)
        status = s3sync.read_status(path)
        assert status["last_copied"] == ["a.py"] and status["files"] == 1 and status["last_error"] is None
        assert s3sync.is_live(status)  # written by this very process
        put(s3, "dags/b.py", "b")
        wake.set()  # what SIGUSR1 does in syncd; the interval is 60 s
        assert _wait(lambda: (s3sync.read_status(path) or {}).get("passes") == 2)
        assert s3sync.read_status(path)["last_copied"] == ["b.py"]
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_loop_survives_a_failing_pass(proj, s3, tmp_path):
    settings = load_settings(proj)
    from dataclasses import replace
    from sandbox.mwaa.spec import parse_spec

    missing = replace(settings, spec=parse_spec({"SourceBucketArn": "arn:aws:s3:::not-there"}))
    stop, _, thread = _run(missing, s3, tmp_path / "out", interval=0.05)
    try:
        assert _wait(lambda: ((s3sync.read_status(s3sync.status_file(settings)) or {}).get("errors") or 0) >= 2)
        status = s3sync.read_status(s3sync.status_file(settings))
        assert status["passes"] == 0 and "NoSuchBucket" in status["last_error"]
    finally:
        stop.set()
        thread.join(5)


def _status(tmp_path, **fields) -> Path:
    base = {"pid": os.getpid(), "start_ticks": start_ticks(os.getpid()), "passes": 0}
    path = tmp_path / "dagsync.json"
    s3sync.write_status(path, s3sync.SyncStatus(**{**base, "started_at": 0, "interval": 1, "bucket": "b",
                                                    "prefix": "dags/", "target": "t", **fields}))
    return path


def test_stale_status_is_not_live_and_gets_no_signal(tmp_path):
    path = _status(tmp_path, start_ticks=(start_ticks(os.getpid()) or 0) + 1)  # a reused pid
    assert not s3sync.is_live(s3sync.read_status(path))
    assert s3sync.request_pass(path) is False
    assert s3sync.request_pass(tmp_path / "none.json") is False


def test_wait_for_pass_returns_a_pass_started_after_the_deploy(tmp_path):
    path = _status(tmp_path, passes=3, last_pass_started=100.0, last_pass_at=101.0)
    assert s3sync.wait_for_pass(path, after=99.0, timeout=1)["passes"] == 3
    clock = iter(range(100)).__next__
    with pytest.raises(s3sync.SyncTimeout, match="within 5 s"):
        s3sync.wait_for_pass(path, after=150.0, timeout=5, sleep=lambda s: None, clock=clock)


def test_wait_for_pass_timeout_names_the_last_error(tmp_path):
    path = _status(tmp_path, last_error="EndpointConnectionError: boom")
    clock = iter(range(100)).__next__
    with pytest.raises(s3sync.SyncTimeout, match="boom"):
        s3sync.wait_for_pass(path, after=0, timeout=2, sleep=lambda s: None, clock=clock)


def test_process_spec_pins_the_emulator_and_probes_the_status(proj, tmp_path, monkeypatch):
    monkeypatch.setenv("SANDBOX_AWS_PORT", "45123")
    monkeypatch.setenv("AWS_PROFILE", "someone")
    settings = load_settings(proj)
    spec = dagsync.process(settings, interval=2)
    argv = spec.command.argv
    assert argv[1:4] == ("-m", "sandbox.delivery.syncd", "--project") and argv[-2:] == ("--interval", "2")
    assert spec.command.env["SANDBOX_AWS_PORT"] == "45123" and "AWS_PROFILE" not in spec.command.env
    assert not spec.probe.check().ready  # no status file yet
    path = s3sync.status_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_status(tmp_path, passes=0, last_error="NoSuchBucket").read_text())
    outcome = spec.probe.check()
    assert not outcome.ready and "NoSuchBucket" in outcome.detail
    path.write_text(_status(tmp_path, passes=1).read_text())
    assert spec.probe.check().ready


def test_the_after_pass_hook_runs_each_pass_and_its_errors_do_not_stop_the_loop(proj, s3, tmp_path):
    settings = load_settings(proj)
    calls, lines = [], []

    def hook(client):
        calls.append(client)
        raise RuntimeError("watcher broke")

    stop = threading.Event()
    thread = threading.Thread(target=s3sync.run_loop, args=(settings, 0.05, stop), daemon=True,
                              kwargs={"target": tmp_path / "out", "log": lines.append, "s3": s3,
                                      "after_pass": hook})
    thread.start()
    try:
        assert _wait(lambda: len(calls) >= 2)
    finally:
        stop.set()
        thread.join(5)
    assert calls[0] is s3
    assert any("environment check failed: RuntimeError: watcher broke" in line for line in lines)


def test_process_spec_pins_every_setting_for_the_update_process(proj, monkeypatch):
    monkeypatch.setenv("SANDBOX_AIRFLOW_PORT", "18123")
    settings = load_settings(proj)
    env = dagsync.process(settings).command.env
    assert env["SANDBOX_AIRFLOW_PORT"] == "18123"
    assert env["SANDBOX_CACHE_DIR"] == str(settings.cache_dir) and env["SANDBOX_OFFLINE"] == "false"
    assert load_settings(proj, environ=env) == settings  # the child resolves the same settings


def test_a_container_loop_is_asked_through_the_request_file(proj, s3, tmp_path):
    settings = load_settings(proj)
    stop, wake = threading.Event(), threading.Event()
    thread = threading.Thread(target=s3sync.run_loop, args=(settings, 60.0, stop),
                              kwargs={"wake": wake, "target": tmp_path / "out", "log": lambda line: None,
                                      "s3": s3, "container": True}, daemon=True)
    thread.start()
    path = s3sync.status_file(settings)
    try:
        assert _wait(lambda: (s3sync.read_status(path) or {}).get("passes") == 1)
        assert s3sync.read_status(path)["container"] is True
        put(s3, "dags/c.py", "c")
        assert s3sync.request_pass(path) is True  # no signal: the pid is the container's
        assert _wait(lambda: (s3sync.read_status(path) or {}).get("passes") == 2)
        assert s3sync.read_status(path)["last_copied"] == ["c.py"]
        assert not s3sync.request_file(path).exists()  # consumed
    finally:
        stop.set()
        thread.join(5)


def test_a_silent_container_loop_counts_as_gone(tmp_path):
    path = _status(tmp_path, container=True, started_at=time.time() - 600, last_pass_at=time.time() - 500)
    assert s3sync.request_pass(path) is False  # no stale request left for a dead sidecar
    assert not s3sync.request_file(path).exists()
    fresh = _status(tmp_path, container=True, started_at=time.time(), interval=30)
    assert s3sync.request_pass(fresh) is True
