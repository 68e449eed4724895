"""MWAA's S3 -> Airflow delivery: mirror the bucket's DAG prefix into Airflow's dags folder.

One pass lists the latest object versions under the prefix, downloads new and changed ones
(changed: another version id, or the local copy no longer matches what was downloaded), writes
them atomically (Airflow never parses half a file) and deletes local files whose object is gone.
`run_loop` repeats passes every `interval` seconds and records each in a status JSON that
`sandbox` reads (probe, e2e); SIGUSR1 (see `request_pass`) asks for a pass right away.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from sandbox.delivery.deploy import SKIP_PARTS, dag_prefix, s3_client, sha256_bytes, sha256_file
from sandbox.errors import ConfigError, SandboxError
from sandbox.proc import start_ticks
from sandbox.settings import Settings

DEFAULT_INTERVAL = 30.0  # MWAA syncs the DAG folder from S3 about every 30 s
STATUS_FILE = "dagsync.json"
_TMP_SUFFIX = ".s3sync"


class SyncTimeout(SandboxError):
    """The S3 -> dags sync did not complete a pass in time."""


def status_file(settings: Settings) -> Path:
    return settings.state_dir / STATUS_FILE


@dataclass
class PassResult:
    copied: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.copied or self.deleted)


# -- one pass ---------------------------------------------------------------------------------------
def _token(version: dict) -> str:
    """What identifies an object's content: its version id, or ETag+time in an unversioned bucket."""
    vid = version.get("VersionId")
    if vid and vid != "null":
        return vid
    return f"{version.get('ETag')}@{version.get('LastModified')}"


def remote_latest(s3, bucket: str, prefix: str) -> dict[str, str]:
    """The DAG folder as the bucket holds it now: relative path -> version token."""
    latest: dict[str, str] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):  # delete markers leave their key out
            rel = version["Key"][len(prefix):]
            if version.get("IsLatest") and rel and not rel.endswith("/") and not _skipped(rel):
                latest[rel] = _token(version)
    return latest


def _skipped(rel: str) -> bool:
    return bool(SKIP_PARTS.intersection(rel.split("/")))


def local_files(target: Path) -> dict[str, Path]:
    """Files in the dags folder, except Airflow's caches and our own temporary files."""
    if not target.is_dir():
        return {}
    found = {}
    for path in target.rglob("*"):
        rel = path.relative_to(target).as_posix()
        if path.is_file() and not _skipped(rel) and not path.name.endswith(_TMP_SUFFIX):
            found[rel] = path
    return found


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{_TMP_SUFFIX}")
    tmp.write_bytes(data)
    tmp.replace(path)


def _prune_empty(path: Path, root: Path) -> None:
    parent = path.parent
    while parent != root and root in parent.parents:
        try:
            parent.rmdir()  # only succeeds when empty
        except OSError:
            return
        parent = parent.parent


def sync_once(s3, bucket: str, prefix: str, target: Path, known: dict[str, tuple[str, str]]) -> PassResult:
    """Mirror s3://bucket/prefix into target. `known` (rel -> (version token, sha256) of what
    was written) carries over between passes so unchanged objects are not downloaded again."""
    result = PassResult()
    target.mkdir(parents=True, exist_ok=True)
    remote = remote_latest(s3, bucket, prefix)
    local = local_files(target)
    for rel, token in sorted(remote.items()):
        path = target / rel
        have = known.get(rel)
        local_sha = sha256_file(path) if rel in local else None
        if have is not None and have[0] == token and local_sha == have[1]:
            result.unchanged += 1
            continue
        kwargs = {} if "@" in token else {"VersionId": token}
        body = s3.get_object(Bucket=bucket, Key=prefix + rel, **kwargs)["Body"].read()
        digest = sha256_bytes(body)
        known[rel] = (token, digest)
        if local_sha == digest:
            result.unchanged += 1
            continue
        atomic_write(path, body)
        result.copied.append(rel)
    for rel in sorted(set(local) - set(remote)):
        local[rel].unlink(missing_ok=True)
        known.pop(rel, None)
        _prune_empty(local[rel], target)
        result.deleted.append(rel)
    for leftover in target.rglob(f"*{_TMP_SUFFIX}"):  # a pass killed mid-write
        leftover.unlink(missing_ok=True)
    return result


# -- the loop and its status --------------------------------------------------------------------
@dataclass
class SyncStatus:
    pid: int
    start_ticks: int
    started_at: float
    interval: float
    bucket: str
    prefix: str
    target: str
    passes: int = 0  # completed passes
    last_pass_started: float | None = None
    last_pass_at: float | None = None
    last_copied: list[str] = field(default_factory=list)
    last_deleted: list[str] = field(default_factory=list)
    files: int = 0
    total_copied: int = 0
    total_deleted: int = 0
    errors: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    # Written by the compose runtime's sidecar: its pid means nothing on the host, so clients ask
    # for a pass through the request file instead of a signal.
    container: bool = False


def write_status(path: Path, status: SyncStatus) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(status), indent=2))
    tmp.replace(path)


def read_status(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def is_live(status: dict | None) -> bool:
    """The status was written by a syncd process that is still running (not a reused pid)."""
    if not status or not status.get("pid"):
        return False
    return start_ticks(int(status["pid"])) == status.get("start_ticks")


def _stamp(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when))


def _one_pass(s3, status: SyncStatus, known: dict, log: Callable[[str], None]) -> None:
    began = time.time()
    try:
        result = sync_once(s3, status.bucket, status.prefix, Path(status.target), known)
    except Exception as exc:  # keep looping: the emulator may be restarting
        status.errors += 1
        status.last_error, status.last_error_at = f"{type(exc).__name__}: {exc}", time.time()
        log(f"{_stamp(began)} pass failed: {status.last_error}")
        return
    status.passes += 1
    status.last_pass_started, status.last_pass_at = began, time.time()
    status.last_copied, status.last_deleted = result.copied, result.deleted
    status.files = result.unchanged + len(result.copied)
    status.total_copied += len(result.copied)
    status.total_deleted += len(result.deleted)
    status.last_error = None
    if result.changed or status.passes == 1:
        log(f"{_stamp(began)} pass {status.passes}: {len(result.copied)} copied, "
            f"{len(result.deleted)} deleted, {result.unchanged} unchanged "
            f"(s3://{status.bucket}/{status.prefix} -> {status.target})")
        for rel in result.copied:
            log(f"  + {rel}")
        for rel in result.deleted:
            log(f"  - {rel}")


def _run_hook(hook: Callable[[object], object], s3, log: Callable[[str], None]) -> None:
    try:
        hook(s3)
    except Exception as exc:  # keep syncing DAGs whatever the watcher hits
        log(f"{_stamp(time.time())} environment check failed: {type(exc).__name__}: {exc}")


def container_fresh(status: dict, now: float | None = None) -> bool:
    """A sidecar's pid cannot be checked from the host: it counts as running while it keeps
    writing its status (after every pass, failed or not)."""
    last = max(status.get("last_pass_at") or 0, status.get("last_error_at") or 0, status.get("started_at") or 0)
    return (now or time.time()) - last < 2 * float(status.get("interval") or 30) + 15


def request_file(status_path: Path) -> Path:
    return status_path.with_suffix(".request")


def _requested(status_path: Path) -> bool:
    """A client left a request file (the container case): consume it."""
    try:
        request_file(status_path).unlink()
        return True
    except FileNotFoundError:
        return False


def run_loop(settings: Settings, interval: float, stop_event: threading.Event, *,
             wake: threading.Event | None = None, target: Path | None = None,
             status_path: Path | None = None, log: Callable[[str], None] = print, s3=None,
             after_pass: Callable[[object], object] | None = None, container: bool = False) -> SyncStatus:
    """Pass, sleep `interval` (cut short by `wake`), repeat until stop_event is set.
    `after_pass(s3)` runs after each pass (the environment update watcher); its errors are logged."""
    from sandbox.environment.state import StateDir

    spec = settings.spec
    status = SyncStatus(os.getpid(), start_ticks(os.getpid()) or 0, time.time(), interval, spec.bucket_name,
                        dag_prefix(spec.dag_s3_path), str(target or StateDir(settings.state_dir).dags_folder),
                        container=container)
    status_path = status_path or status_file(settings)
    s3 = s3 or s3_client(settings)
    known: dict[str, tuple[str, str]] = {}
    wake = wake or threading.Event()
    while not stop_event.is_set():
        wake.clear()
        _one_pass(s3, status, known, log)
        write_status(status_path, status)
        if after_pass is not None:
            _run_hook(after_pass, s3, log)
        deadline = time.monotonic() + interval
        while not (stop_event.is_set() or wake.is_set()) and time.monotonic() < deadline:
            wake.wait(min(0.2, max(deadline - time.monotonic(), 0)))  # short slices: signals land
            if _requested(status_path):
                wake.set()
    return status


# -- for clients (the probe, e2e) ---------------------------------------------------------------
def request_pass(status_path: Path) -> bool:
    """Ask the running sync loop for a pass now (SIGUSR1, or the request file for a loop in a
    container). False if none is running."""
    status = read_status(status_path)
    if status and status.get("container"):
        if not container_fresh(status):
            return False
        request_file(status_path).touch()
        return True
    if not is_live(status):
        return False
    try:
        os.kill(int(status["pid"]), signal.SIGUSR1)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def wait_for_pass(status_path: Path, after: float, timeout: float, *,
                  sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic) -> dict:
    """Wait for a pass that started at or after `after` (epoch seconds) to complete."""
    deadline = clock() + timeout
    while True:
        status = read_status(status_path) or {}
        if (status.get("last_pass_started") or 0) >= after and status.get("last_pass_at"):
            return status
        if clock() >= deadline:
            error = status.get("last_error")
            raise SyncTimeout(f"the S3 -> dags sync did not complete a pass within {timeout:.0f} s"
                              + (f" (last error: {error})" if error else ""),
                              hint="see `sandbox logs dagsync`")
        sleep(0.2)
