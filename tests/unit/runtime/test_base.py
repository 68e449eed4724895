"""The lifecycle template: the base class owns the order and the one failure path."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sandbox.environment import envstate
from sandbox.errors import NotSupportedInRuntime, ServiceFailedError
from sandbox.runtime import base
from sandbox.settings import load_settings


class Recording(base.Runtime):
    """A backend whose primitives only record that they ran (one may fail)."""

    name = "recording"

    def __init__(self, settings, fail_in: str | None = None, up: bool = False):
        super().__init__(settings)
        self.calls: list[str] = []
        self.fail_in = fail_in
        self.up_already = up

    def _do(self, step: str) -> None:
        self.calls.append(step)
        if step == self.fail_in:
            raise ServiceFailedError(f"{step} broke")

    def is_up(self):
        return self.up_already

    def preflight(self):
        self._do("preflight")

    def prepare(self):
        self._do("prepare")

    def start_infrastructure(self):
        self._do("infrastructure")

    def start_airflow(self):
        self._do("airflow")

    def abort(self):
        self.calls.append("abort")

    def down(self):
        return []

    def reset(self):
        pass

    def status(self):
        return []

    def log_path(self, service):
        return self.state.log_file(service)


@pytest.fixture
def shared_steps(monkeypatch):
    """The shared bootstrap's outside calls, recorded instead of reaching an emulator."""
    seen = []
    monkeypatch.setattr(base.aws, "bootstrap", lambda s, v: seen.append("aws") or SimpleNamespace(
        bucket="b", log_groups=("g",), secrets=(), queue="q"))
    monkeypatch.setattr(base, "deploy_project", lambda s: seen.append("deploy") or SimpleNamespace(
        uploaded=[], deleted=[], plan=SimpleNamespace(unchanged=[]), warnings=[]))
    monkeypatch.setattr(base.kafka, "ensure_topics", lambda s: seen.append("topics"))
    monkeypatch.setattr(base, "s3_client", lambda s: None)
    monkeypatch.setattr(base.envstate, "current_versions", lambda s3, bucket, keys: {})
    return seen


def test_up_runs_the_primitives_in_mwaas_order_and_ends_available(project, shared_steps):
    rt = Recording(load_settings(project))
    report = rt.up()
    assert rt.calls == ["preflight", "prepare", "infrastructure", "airflow"]
    assert shared_steps == ["aws", "deploy", "topics"]  # between the infrastructure and Airflow
    assert not report.already_running and report.runtime == "recording"
    assert envstate.read(envstate.state_file(rt.settings)).state == envstate.AVAILABLE


@pytest.mark.parametrize("step", ["prepare", "infrastructure", "airflow"])
def test_any_failure_marks_create_failed_and_aborts_once(project, shared_steps, step):
    rt = Recording(load_settings(project), fail_in=step)
    with pytest.raises(ServiceFailedError):
        rt.up()
    assert rt.calls[-1] == "abort" and rt.calls.count("abort") == 1
    state = envstate.read(envstate.state_file(rt.settings))
    assert (state.state, state.reason) == (envstate.CREATE_FAILED, f"{step} broke")


def test_a_running_sandbox_is_reported_not_restarted(project, shared_steps):
    rt = Recording(load_settings(project), up=True)
    assert rt.up().already_running and rt.calls == []


def test_environment_updates_are_refused_by_a_backend_without_them(project):
    rt = Recording(load_settings(project))
    with pytest.raises(NotSupportedInRuntime, match="sandbox up"):
        rt.restart_airflow(project, None)
    with pytest.raises(NotSupportedInRuntime):
        rt.roll_back()


def test_a_second_up_waits_for_the_first_then_finds_it_running(project, shared_steps):
    import threading
    import time

    class Notes(base.SilentProgress):
        def __init__(self):
            self.notes = []

        def note(self, message):
            self.notes.append(message)

    first = Recording(load_settings(project))
    second = Recording(load_settings(project), up=False)
    second.progress = Notes()
    holding, release = threading.Event(), threading.Event()

    def hold():
        with first.state.up_lock(lambda pid: None):
            holding.set()
            release.wait(5)
            second.up_already = True  # what the first `up` leaves behind

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(5)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    report = second.up()
    thread.join(5)
    assert time.monotonic() - started >= 0.25
    assert report.already_running and second.calls == []
    assert any("another `sandbox up`" in n and "waiting" in n for n in second.progress.notes)


class Lines(base.SilentProgress):
    def __init__(self):
        self.lines = []

    def done(self, name, message):
        self.lines.append(f"done {message}")

    def note(self, message):
        self.lines.append(f"note {message}")


def test_the_kept_aws_state_is_restored_after_the_bootstrap_and_before_the_deploy(project, shared_steps,
                                                                                 monkeypatch):
    rt = Recording(load_settings(project))
    rt.state.aws_state.mkdir(parents=True)
    (rt.state.aws_state / "manifest.json").write_text("{}")
    restored = base.aws_state.Summary(versions=12, log_groups=3, log_events=4210, secrets=1)
    monkeypatch.setattr(base.aws_state, "restore", lambda s, folder: shared_steps.append("restore") or restored)
    rt.progress = Lines()
    rt.up()
    assert shared_steps == ["aws", "restore", "deploy", "topics"]
    assert any(line.startswith("done restored 12 S3 object versions, 3 log groups / 4,210 log events, "
                               "1 secret from the last `down` (S3 version ids and the KMS key id changed")
               for line in rt.progress.lines)


def test_a_snapshot_that_fails_to_restore_is_set_aside_and_up_goes_on(project, shared_steps, monkeypatch):
    rt = Recording(load_settings(project))
    rt.state.aws_state.mkdir(parents=True)
    (rt.state.aws_state / "manifest.json").write_text("{}")

    def broken(settings, folder):
        raise RuntimeError("NoSuchBucket")

    monkeypatch.setattr(base.aws_state, "restore", broken)
    rt.progress = Lines()
    assert not rt.up().already_running
    [note] = [line for line in rt.progress.lines if line.startswith("note")]
    assert "could not restore the AWS state (NoSuchBucket); kept in" in note
    assert not rt.state.aws_state.exists()
    assert [p.name.startswith("aws-state-unrestored-") for p in rt.state.root.glob("aws-state*")] == [True]


def test_keeping_the_aws_state_says_one_line_whatever_happens(project, monkeypatch):
    rt = Recording(load_settings(project))
    rt.progress = Lines()
    monkeypatch.setattr(base.aws_state, "answers", lambda s: False)
    rt.keep_aws_state()
    monkeypatch.setattr(base.aws_state, "answers", lambda s: True)

    def broken(settings, folder):
        raise OSError("No space left on device")

    monkeypatch.setattr(base.aws_state, "export", broken)
    rt.keep_aws_state()
    monkeypatch.setattr(base.aws_state, "export", lambda s, folder: base.aws_state.Summary(versions=1, seconds=0.5))
    rt.keep_aws_state()
    assert rt.progress.lines == [
        "note the AWS emulator does not answer: its state since `up` is not kept",
        "note could not keep the AWS emulator's state (No space left on device); the previous snapshot stays",
        f"done kept 1 S3 object version, 0 log groups / 0 log events, 0 secrets in {rt.state.aws_state} "
        "for the next `up` (0.5 s)"]
