"""The update executor: inputs come from the bucket, a failed install leaves Airflow alone, a good
one restarts it on the new environment (the runtime and the install are faked here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.errors import EnvironmentBuildError, ReadinessTimeout
from sandbox.environment import envstate
from sandbox.runtime import updates
from sandbox.environment.envstate import AVAILABLE, UPDATE_FAILED, UPDATING, EnvironmentState
from sandbox.environment.state import StateDir
from sandbox.runtime.base import SilentProgress

from ..environment.test_envstate import BUCKET, put, s3, settings  # noqa: F401 - fixtures

UV_CONFLICT = """\
  × No solution found when resolving dependencies:
  ╰─▶ Caused by: Because you require pandas==1.3.0 and pandas==2.1.4, we can conclude that your requirements are unsatisfiable.
"""


class FakeRuntime:
    def __init__(self, state: StateDir, fail_on: set[str] = frozenset()):
        self.state = state
        self.restarts: list[tuple[Path, object]] = []
        self.fail_on = fail_on
        self.rollbacks = 0

    def restart_airflow(self, venv, startup, before_start=None):
        self.restarts.append((venv, startup))
        if before_start:
            before_start()
        if str(venv) in self.fail_on:
            raise ReadinessTimeout("airflow-webserver did not become ready")

    def roll_back(self):
        self.rollbacks += 1
        return True


class FakeEnv:
    def __init__(self, path):
        self.path = Path(path)


@pytest.fixture
def installs(monkeypatch):
    """Records what install_environment was asked for; set .error to make it fail."""
    class Installs(list):
        error = None

    calls = Installs()

    def install(settings, state, progress, inputs):
        calls.append(inputs)
        if calls.error:
            raise calls.error
        return FakeEnv("/envs/new"), "startup-result"

    monkeypatch.setattr(updates, "install_environment", install)
    return calls


def updating(settings, target) -> None:
    envstate.write(envstate.state_file(settings), EnvironmentState(
        UPDATING, "requirements.txt changed", versions={"requirements": "old"}, target=target))


def test_a_successful_update_restarts_airflow_and_records_the_versions(s3, settings, installs):
    (settings.project_dir / "requirements.txt").write_text("from-the-working-tree\n")
    version = put(s3, "requirements.txt", "wcwidth\n")
    target = {"requirements": version, "startup": None}
    updating(settings, target)
    rt = FakeRuntime(StateDir(settings.state_dir))
    result = updates.run_update(settings, runtime=rt, s3=s3, progress=SilentProgress())
    assert installs[0].requirements == "wcwidth\n"  # the bucket's version, never the working tree's
    assert rt.restarts == [(Path("/envs/new"), "startup-result")]
    assert (result.state, result.versions, result.target) == (AVAILABLE, target, None)
    assert envstate.read(envstate.state_file(settings)) == result


def test_the_target_version_is_installed_not_the_latest(s3, settings, installs):
    first = put(s3, "requirements.txt", "first\n")
    put(s3, "requirements.txt", "second\n")
    updating(settings, {"requirements": first, "startup": None})
    updates.run_update(settings, runtime=FakeRuntime(StateDir(settings.state_dir)), s3=s3,
                       progress=SilentProgress())
    assert installs[0].requirements == "first\n"


def test_the_startup_script_comes_from_the_bucket(s3, settings, installs):
    script = put(s3, "startup.sh", "export FROM=bucket\n")
    updating(settings, {"requirements": None, "startup": script})
    updates.run_update(settings, runtime=FakeRuntime(StateDir(settings.state_dir)), s3=s3,
                       progress=SilentProgress())
    assert installs[0].requirements == ""  # deleted from the bucket
    assert installs[0].script.read_text() == "export FROM=bucket\n"


def test_a_conflict_fails_the_update_and_leaves_airflow_running(s3, settings, installs):
    version = put(s3, "requirements.txt", "pandas==1.3.0\n")
    updating(settings, {"requirements": version, "startup": None})
    installs.error = EnvironmentBuildError("building the Airflow environment failed: hint: ...",
                                           details=UV_CONFLICT)
    rt = FakeRuntime(StateDir(settings.state_dir))
    result = updates.run_update(settings, runtime=rt, s3=s3, progress=SilentProgress())
    assert rt.restarts == []
    assert result.state == UPDATE_FAILED
    assert result.reason == ("requirements.txt: Because you require pandas==1.3.0 and pandas==2.1.4, "
                             "we can conclude that your requirements are unsatisfiable.")
    assert result.versions == {"requirements": "old"} and result.target["requirements"] == version


def test_a_restart_that_fails_is_rolled_back(s3, settings, installs):
    version = put(s3, "requirements.txt", "wcwidth\n")
    updating(settings, {"requirements": version, "startup": None})
    rt = FakeRuntime(StateDir(settings.state_dir), fail_on={"/envs/new"})
    result = updates.run_update(settings, runtime=rt, s3=s3, progress=SilentProgress())
    assert [venv for venv, _ in rt.restarts] == [Path("/envs/new")]
    assert rt.rollbacks == 1  # what it restores: tests/unit/runtime/test_native_update.py
    assert result.state == UPDATE_FAILED and "rolled back" in result.reason


def test_failure_reason_without_a_resolver_line_uses_the_message():
    error = EnvironmentBuildError("building the Airflow environment failed: network down", details="x\ny")
    assert updates.failure_reason(error, {}) == "requirements.txt: building the Airflow environment failed: network down"
