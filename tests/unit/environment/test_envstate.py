"""The environment state file and the change detection the sync loop runs after each pass."""

from __future__ import annotations

import pytest

from sandbox.proc import ProcessRecord, runner, Command
from sandbox.environment import envstate
from sandbox.environment.envstate import AVAILABLE, UPDATE_FAILED, UPDATING, EnvironmentState
from sandbox.settings import load_settings

BUCKET = "env-bucket"
SPEC = f"""\
Name: env-test
SourceBucketArn: arn:aws:s3:::{BUCKET}
DagS3Path: dags
RequirementsS3Path: requirements.txt
StartupScriptS3Path: startup.sh
"""


@pytest.fixture
def s3(versioned_bucket):
    with versioned_bucket(BUCKET) as client:
        yield client


@pytest.fixture
def settings(project):
    (project / "mwaa.yaml").write_text(SPEC)
    return load_settings(project)


def put(s3, key: str, body: str) -> str:
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())["VersionId"]


class FakeSpawn:
    def __init__(self, record: ProcessRecord | None = None, error: Exception | None = None):
        self.calls, self.record, self.error = 0, record, error

    def __call__(self, settings):
        self.calls += 1
        if self.error:
            raise self.error
        return self.record


# -- the file -------------------------------------------------------------------------------------
def test_state_round_trips_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "environment.json"
    envstate.write(path, EnvironmentState(AVAILABLE, since=5.0, versions={"requirements": "v1"}))
    assert envstate.read(path) == EnvironmentState(AVAILABLE, since=5.0, versions={"requirements": "v1"})
    assert [p.name for p in tmp_path.iterdir()] == ["environment.json"]


def test_a_transition_keeps_the_versions_and_stamps_the_time(tmp_path):
    path = tmp_path / "environment.json"
    envstate.write(path, EnvironmentState(AVAILABLE, versions={"requirements": "v1"}))
    moved = envstate.transition(path, UPDATE_FAILED, "requirements.txt: Because x", clock=lambda: 42.0)
    assert envstate.read(path) == moved
    assert (moved.state, moved.reason, moved.since, moved.versions) == (
        UPDATE_FAILED, "requirements.txt: Because x", 42.0, {"requirements": "v1"})


def test_an_unreadable_file_is_no_state(tmp_path):
    path = tmp_path / "environment.json"
    assert envstate.read(path) is None
    path.write_text("{not json")
    assert envstate.read(path) is None


# -- detection -----------------------------------------------------------------------------------
@pytest.mark.parametrize("state, current, expected", [
    (EnvironmentState(AVAILABLE, versions={"requirements": "v1"}), {"requirements": "v1"}, []),
    (EnvironmentState(AVAILABLE, versions={"requirements": "v1"}), {"requirements": "v2"}, ["requirements"]),
    (EnvironmentState(AVAILABLE, versions={"requirements": "v1", "startup": "s1"}),
     {"requirements": "v1", "startup": None}, ["startup"]),  # deleted from the bucket
    (EnvironmentState(UPDATING, versions={"requirements": "v1"}), {"requirements": "v2"}, []),
    (EnvironmentState("CREATING"), {"requirements": "v2"}, []),
    # after a failure, the failed version is not retried; a newer one is
    (EnvironmentState(UPDATE_FAILED, versions={"requirements": "v1"}, target={"requirements": "v2"}),
     {"requirements": "v2"}, []),
    (EnvironmentState(UPDATE_FAILED, versions={"requirements": "v1"}, target={"requirements": "v2"}),
     {"requirements": "v3"}, ["requirements"]),
    (EnvironmentState(UPDATE_FAILED, versions={"requirements": "v1"}, target={"requirements": "v2"}),
     {"requirements": "v1"}, ["requirements"]),  # reverting to the running version also updates
])
def test_changed_parts(state, current, expected):
    assert envstate.changed_parts(state, current) == expected


def test_watched_keys_are_the_ones_mwaa_yaml_sets(settings):
    assert envstate.watched_keys(settings) == {"requirements": "requirements.txt", "startup": "startup.sh"}


def test_current_versions_reads_the_latest_version_ids(s3, settings):
    put(s3, "requirements.txt", "a\n")
    latest = put(s3, "requirements.txt", "b\n")
    assert envstate.current_versions(s3, BUCKET, envstate.watched_keys(settings)) == {
        "requirements": latest, "startup": None}


# -- the watcher ---------------------------------------------------------------------------------
def available(settings, s3) -> dict:
    versions = envstate.current_versions(s3, BUCKET, envstate.watched_keys(settings))
    envstate.write(envstate.state_file(settings), EnvironmentState(AVAILABLE, since=1.0, versions=versions))
    return versions


def test_a_new_requirements_version_starts_one_update(s3, settings, tmp_path):
    put(s3, "requirements.txt", "a\n")
    before = available(settings, s3)
    sleeper = runner.spawn(Command.of("sleep", "30"), tmp_path / "sleep.log")
    spawn = FakeSpawn(sleeper)
    watcher = envstate.Watcher(settings, spawn, log=lambda _: None, clock=lambda: 7.0)
    try:
        assert watcher.check(s3) is None and spawn.calls == 0  # nothing changed yet
        new = put(s3, "requirements.txt", "b\n")
        assert watcher.check(s3) == UPDATING
        state = envstate.read(envstate.state_file(settings))
        assert (state.state, state.reason, state.since) == (UPDATING, "requirements.txt changed", 7.0)
        assert state.target == {"requirements": new, "startup": None} and state.versions == before
        assert state.updater["pid"] == sleeper.pid
        assert watcher.check(s3) is None and spawn.calls == 1  # the update is running: no second one
    finally:
        from sandbox.proc import stop
        stop(sleeper, grace=2)


def test_an_updater_that_died_without_an_outcome_fails_the_update(s3, settings, tmp_path):
    dead = runner.spawn(Command.of("true"), tmp_path / "true.log")
    envstate.write(envstate.state_file(settings), EnvironmentState(
        UPDATING, versions={}, target={"requirements": "v2"}, updater=dead.__dict__))
    import time
    time.sleep(0.3)
    watcher = envstate.Watcher(settings, FakeSpawn(), log=lambda _: None)
    assert watcher.check(s3) == UPDATE_FAILED
    state = envstate.read(envstate.state_file(settings))
    assert state.state == UPDATE_FAILED and "exited unexpectedly" in state.reason


def test_an_update_that_cannot_start_is_a_failed_update(s3, settings):
    available(settings, s3)
    put(s3, "startup.sh", "echo hi\n")
    watcher = envstate.Watcher(settings, FakeSpawn(error=OSError("no python")), log=lambda _: None)
    assert watcher.check(s3) == UPDATE_FAILED
    assert "no python" in envstate.read(envstate.state_file(settings)).reason


def test_no_state_file_means_no_update(s3, settings):
    put(s3, "requirements.txt", "a\n")
    spawn = FakeSpawn()
    assert envstate.Watcher(settings, spawn, log=lambda _: None).check(s3) is None and spawn.calls == 0
