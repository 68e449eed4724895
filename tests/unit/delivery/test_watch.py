"""deploy --watch: a deploy at start and after each local change, errors handled."""

from __future__ import annotations

import os
import threading

import pytest

from sandbox.delivery.deploy import DeployOptions, DeployReport, Plan
from sandbox.delivery.watch import fingerprint, watch
from sandbox.errors import NotRunningError
from sandbox.settings import load_settings


@pytest.fixture
def settings(project):
    (project / "mwaa.yaml").write_text("RequirementsS3Path: requirements.txt\n")
    (project / "dags").mkdir()
    (project / "dags" / "a.py").write_text("a")
    return load_settings(project)


def test_fingerprint_follows_dags_and_mwaa_files(settings):
    options = DeployOptions()
    first = fingerprint(settings, options)
    (settings.project_dir / "dags" / "__pycache__").mkdir()
    (settings.project_dir / "dags" / "__pycache__" / "a.pyc").write_text("cache")
    assert fingerprint(settings, options) == first  # caches are not deployed, so not watched
    (settings.project_dir / "requirements.txt").write_text("pandas")
    second = fingerprint(settings, options)
    assert second != first
    path = settings.project_dir / "dags" / "a.py"
    stat = path.stat()
    path.write_text("b")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert fingerprint(settings, options) != second


def _fake_deploys(settings, edits: list, errors: dict | None = None):
    """A deploy function that edits a file after each call (driving the next round)."""
    calls = []

    def deploy(s, options):
        calls.append(len(calls))
        if errors and len(calls) in errors:
            raise errors[len(calls)]
        if edits:
            edits.pop(0)()
        return DeployReport("b", "dags/", Plan())

    return deploy, calls


def test_watch_deploys_at_start_and_after_each_change(settings):
    stop = threading.Event()
    path = settings.project_dir / "dags" / "new.py"
    edits = [lambda: path.write_text("1"), lambda: stop.set()]
    deploy, calls = _fake_deploys(settings, edits)
    seen = []
    count = watch(settings, DeployOptions(), stop, lambda r, e: seen.append((r is not None, e)),
                  interval=0.01, deploy=deploy)
    assert count == 2 and len(calls) == 2 and seen == [(True, None), (True, None)]


def test_watch_first_error_raises_later_errors_are_reported(settings):
    stop = threading.Event()
    with pytest.raises(NotRunningError):
        deploy, _ = _fake_deploys(settings, [], {1: NotRunningError("down")})
        watch(settings, DeployOptions(), stop, lambda r, e: None, interval=0.01, deploy=deploy)
    path = settings.project_dir / "dags" / "b.py"
    edits = [lambda: path.write_text("x"), lambda: stop.set()]
    deploy, calls = _fake_deploys(settings, edits, {2: NotRunningError("emulator restarting")})
    seen = []

    def edit_again(report, error):
        seen.append(error.message if error else "ok")
        if error:
            path.write_text("y")  # the next change is deployed again

    watch(settings, DeployOptions(), stop, edit_again, interval=0.01, deploy=deploy)
    assert seen == ["ok", "emulator restarting", "ok"]
