"""The environment's MWAA state (.sandbox/environment.json) and the change detection that starts an
update, as MWAA's control plane does: a new version of requirements.txt, plugins.zip or the startup
script at mwaa.yaml's keys moves AVAILABLE (or UPDATE_FAILED) -> UPDATING -> AVAILABLE | UPDATE_FAILED.

The dagsync loop calls `Watcher.check` after every pass; the update itself runs in its own process
(sandbox.runtime.updates) so DAG syncing carries on while requirements install.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

from sandbox.errors import SandboxError
from sandbox.proc import ProcessRecord, is_alive, reap
from sandbox.settings import Settings

STATE_FILE = "environment.json"
UPDATE_LOG = "environment-update.log"
CREATING, AVAILABLE, UPDATING = "CREATING", "AVAILABLE", "UPDATING"
UPDATE_FAILED, CREATE_FAILED = "UPDATE_FAILED", "CREATE_FAILED"
# Which mwaa.yaml key feeds which part of an update, and how messages name it.
PARTS = {"requirements": "requirements_s3_path", "plugins": "plugins_s3_path",
         "startup": "startup_script_s3_path"}


@dataclass
class EnvironmentState:
    state: str
    reason: str = ""
    since: float = 0.0
    versions: dict[str, str | None] = field(default_factory=dict)  # what the running Airflow uses
    target: dict[str, str | None] | None = None  # what the update in progress (or failed) installs
    updater: dict | None = None  # the ProcessRecord of the update process

    def summary(self) -> dict:
        return {"state": self.state, "reason": self.reason, "since": self.since}


def state_file(settings: Settings) -> Path:
    return settings.state_dir / STATE_FILE


def read(path: Path) -> EnvironmentState | None:
    try:
        raw = json.loads(path.read_text())
        known = {f.name for f in fields(EnvironmentState)}
        return EnvironmentState(**{k: v for k, v in raw.items() if k in known})
    except (OSError, ValueError, TypeError):
        return None


def write(path: Path, state: EnvironmentState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    tmp.replace(path)


def transition(path: Path, new_state: str, reason: str = "", *, clock: Callable[[], float] = time.time,
               **changes) -> EnvironmentState:
    """Move to `new_state` (keeping versions/target unless changed) and write the file."""
    current = read(path) or EnvironmentState(new_state)
    updated = replace(current, state=new_state, reason=reason, since=clock(), **changes)
    write(path, updated)
    return updated


# -- what the bucket holds ------------------------------------------------------------------------
def watched_keys(settings: Settings) -> dict[str, str]:
    """part -> S3 key, for the keys mwaa.yaml sets (MWAA only reads those)."""
    return {part: getattr(settings.spec, attr) for part, attr in PARTS.items() if getattr(settings.spec, attr)}


def current_versions(s3, bucket: str, keys: dict[str, str]) -> dict[str, str | None]:
    """part -> the latest version id of its key (None when the object does not exist)."""
    from botocore.exceptions import ClientError

    found: dict[str, str | None] = {}
    for part, key in sorted(keys.items()):
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                found[part] = None
                continue
            raise
        vid = head.get("VersionId")
        found[part] = vid if vid and vid != "null" else f"{head.get('ETag')}@{head.get('LastModified')}"
    return found


def baseline(state: EnvironmentState) -> dict[str, str | None]:
    """What a change is measured against: the failed attempt after UPDATE_FAILED (so a failed
    version is not retried every pass), else the versions in use."""
    if state.state == UPDATE_FAILED and state.target is not None:
        return state.target
    return state.versions


def changed_parts(state: EnvironmentState | None, current: dict[str, str | None]) -> list[str]:
    """The parts whose version differs, when the state allows an update; [] otherwise."""
    if state is None or state.state not in (AVAILABLE, UPDATE_FAILED):
        return []
    base = baseline(state)
    return sorted(p for p in set(current) | set(base) if current.get(p) != base.get(p))


def describe(parts: list[str], keys: dict[str, str]) -> str:
    return ", ".join(keys.get(p, p) for p in parts)


# -- `sandbox up` and `down` -----------------------------------------------------------------------
def mark_creating(settings: Settings) -> None:
    write(state_file(settings), EnvironmentState(CREATING, since=time.time()))


def mark_available(settings: Settings, s3) -> None:
    """After `up`: AVAILABLE with the versions of the objects it deployed."""
    keys = watched_keys(settings)
    versions = current_versions(s3, settings.spec.bucket_name, keys) if keys else {}
    write(state_file(settings), EnvironmentState(AVAILABLE, since=time.time(), versions=versions))


def mark_create_failed(settings: Settings, exc: BaseException) -> None:
    reason = exc.message if isinstance(exc, SandboxError) else f"{type(exc).__name__}: {exc}"
    transition(state_file(settings), CREATE_FAILED, reason)


def forget(settings: Settings) -> None:
    """`down`: a stopped sandbox has no environment state."""
    state_file(settings).unlink(missing_ok=True)


# -- the watcher the sync loop runs --------------------------------------------------------------
class Watcher:
    """After each sync pass: start an update when a watched object changed; notice a dead updater."""

    def __init__(self, settings: Settings, spawn: Callable[[Settings], ProcessRecord],
                 log: Callable[[str], None] = print, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.spawn = spawn
        self.log = log
        self.clock = clock
        self.path = state_file(settings)

    def check(self, s3) -> str | None:
        """Returns the state it moved the environment to, or None."""
        state = read(self.path)
        if state is None:
            return None  # `up` has not finished (or this is not a native sandbox)
        if state.state == UPDATING:
            return self._check_updater(state)
        if state.updater:
            reap(int(state.updater["pid"]))  # the finished update process (our child)
        keys = watched_keys(self.settings)
        if not keys:
            return None
        current = current_versions(s3, self.settings.spec.bucket_name, keys)
        parts = changed_parts(state, current)
        if not parts:
            return None
        reason = f"{describe(parts, keys)} changed"
        self.log(f"environment: {reason}: updating")
        transition(self.path, UPDATING, reason, clock=self.clock, target=current, updater=None)
        try:
            record = self.spawn(self.settings)
        except Exception as exc:  # noqa: BLE001 - any failure to start is the update's failure
            transition(self.path, UPDATE_FAILED, f"could not start the update: {exc}", clock=self.clock)
            return UPDATE_FAILED
        state = read(self.path) or state
        state.updater = asdict(record)
        write(self.path, state)
        return UPDATING

    def _check_updater(self, state: EnvironmentState) -> str | None:
        if not state.updater:
            return None
        record = ProcessRecord(**state.updater)
        if is_alive(record):
            return None
        reap(record.pid)
        latest = read(self.path)
        if latest is None or latest.state != UPDATING:
            return None  # it finished and wrote its outcome between our reads
        self.log("environment: the update process exited without an outcome")
        transition(self.path, UPDATE_FAILED, "the update process exited unexpectedly "
                   f"(see {self.settings.state_dir / 'logs' / UPDATE_LOG})", clock=self.clock)
        return UPDATE_FAILED
