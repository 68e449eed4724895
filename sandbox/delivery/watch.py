"""`sandbox deploy --watch`: redeploy whenever a local file that deploy uploads changes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from sandbox.delivery.deploy import DeployOptions, DeployReport, deploy_project, layout, walk
from sandbox.errors import SandboxError
from sandbox.settings import Settings


def fingerprint(settings: Settings, options: DeployOptions) -> tuple:
    """Path, size and mtime of every file deploy would consider: cheap to poll every second."""
    lay = layout(settings, options.dags_dir)
    paths = list(walk(lay.dags_dir).values())
    paths += [settings.project_dir / key for key in lay.extras.values() if key]
    marks = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue  # vanished between listing and stat, or a named file that is absent
        marks.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(marks))


def watch(settings: Settings, options: DeployOptions, stop: threading.Event,
          on_deploy: Callable[[DeployReport | None, SandboxError | None], None], *,
          interval: float = 1.0,
          deploy: Callable[[Settings, DeployOptions], DeployReport] = deploy_project) -> int:
    """Deploy now, then again after each local change, until `stop` is set. The first deploy's
    error is raised (nothing to watch against); later ones are reported and watching goes on.
    Returns the number of deploys."""
    last: tuple | None = None
    deploys = 0
    while not stop.is_set():
        mark = fingerprint(settings, options)
        if mark != last:
            try:
                report = deploy(settings, options)
            except SandboxError as exc:
                if deploys == 0:
                    raise
                on_deploy(None, exc)
            else:
                on_deploy(report, None)
            deploys += 1
            last = mark
        stop.wait(interval)
    return deploys
