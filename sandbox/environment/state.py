"""The project's `.sandbox/` folder: layout, the process registry, secrets kept for the user."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Callable, Iterator

from sandbox.proc import ProcessRecord, is_alive


class StateDir:
    def __init__(self, root: Path):
        self.root = root

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def dags_folder(self) -> Path:
        return self.airflow_home / "dags"

    @property
    def plugins_folder(self) -> Path:
        return self.airflow_home / "plugins"

    @property
    def registry_file(self) -> Path:
        return self.root / "processes.json"

    @property
    def password_file(self) -> Path:
        return self.root / "admin-password"

    @property
    def aws_state(self) -> Path:
        """The AWS emulator's state kept by `down` for the next `up` (moto keeps nothing)."""
        return self.root / "aws-state"

    def log_file(self, process: str) -> Path:
        return self.logs / f"{process}.log"

    def ensure(self) -> None:
        # airflow/logs: the compose runtime mounts over it; created by us, not as root by Docker
        for folder in (self.root, self.logs, self.data, self.airflow_home, self.dags_folder,
                       self.airflow_home / "logs"):
            folder.mkdir(parents=True, exist_ok=True)
        gitignore = self.root / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("*\n")  # keep state out of the user's repository

    # -- process registry -------------------------------------------------------------------
    def load_registry(self) -> dict[str, ProcessRecord]:
        try:
            raw = json.loads(self.registry_file.read_text())
            entries = raw.get("processes", {}).items()
        except (OSError, ValueError, AttributeError):
            return {}
        known = {f.name for f in fields(ProcessRecord)}
        records = {}
        for name, rec in entries:
            try:  # a registry from another version may carry other fields
                records[name] = ProcessRecord(**{k: v for k, v in rec.items() if k in known})
            except (TypeError, AttributeError):
                continue
        return records

    @contextmanager
    def registry_lock(self) -> Iterator[None]:
        """Held across every read-modify-write of the registry: `up`, `down` and an environment
        update (a process of its own) change it at the same time, and a lost write would leave a
        running process nobody stops. flock: released by the kernel if the holder dies."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "processes.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    @contextmanager
    def up_lock(self, on_wait: Callable[[int | None], None]) -> Iterator[None]:
        """One `up` at a time per project: a second one waits for the first (on_wait is told the
        holder's pid), then finds the sandbox running. flock: released if the holder dies."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "up.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip()
                on_wait(int(holder) if holder.isdigit() else None)
                fcntl.flock(handle, fcntl.LOCK_EX)
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield

    @property
    def runtime_file(self) -> Path:
        """The runtime this sandbox was started with: later commands use it, whatever `auto`
        would choose now."""
        return self.root / "runtime"

    def _write_registry(self, records: dict[str, ProcessRecord]) -> None:
        payload = {"processes": {n: asdict(r) for n, r in records.items()}}
        tmp = self.registry_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2))
        tmp.replace(self.registry_file)  # atomic: readers need no lock

    def save_registry(self, records: dict[str, ProcessRecord]) -> None:
        with self.registry_lock():
            self._write_registry(records)

    def update_registry(self, change: Callable[[dict[str, ProcessRecord]], None]) -> dict[str, ProcessRecord]:
        """Apply `change` to the registry as it is now, under the lock; returns the result."""
        with self.registry_lock():
            records = self.load_registry()
            change(records)
            self._write_registry(records)
            return records

    def record_process(self, name: str, record: ProcessRecord) -> None:
        self.update_registry(lambda records: records.__setitem__(name, record))
        self.update_sessions(lambda sessions: sessions.__setitem__(record.pid, record.start_ticks))

    # -- sessions: every process we spawned leads one; its descendants stay in it ----------------
    @property
    def sessions_file(self) -> Path:
        return self.root / "sessions.json"

    def load_sessions(self) -> dict[int, int]:
        """Session id (the leader's pid) -> the leader's start ticks, for every session a process
        of this sandbox led, alive or not: orphans of a killed leader keep its session id."""
        try:
            raw = json.loads(self.sessions_file.read_text())
            return {int(k): int(v) for k, v in raw.items()}
        except (OSError, ValueError, AttributeError, TypeError):
            return {}

    def update_sessions(self, change: Callable[[dict[int, int]], None]) -> None:
        with self.registry_lock():
            sessions = self.load_sessions()
            change(sessions)
            tmp = self.sessions_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({str(k): v for k, v in sessions.items()}))
            tmp.replace(self.sessions_file)

    def forget_process(self, name: str) -> None:
        self.update_registry(lambda records: records.pop(name, None))

    def prune_stale(self) -> list[str]:
        """Forget records whose process is gone or whose pid now belongs to someone else."""
        stale: list[str] = []

        def drop(records: dict[str, ProcessRecord]) -> None:
            stale.extend(name for name, rec in records.items() if not is_alive(rec))
            for name in stale:
                del records[name]

        if self.registry_file.exists():
            self.update_registry(drop)
        return stale

    # -- what the running Airflow was started with ----------------------------------------------
    @property
    def exports_file(self) -> Path:
        return self.root / "airflow-exports.json"

    def save_exports(self, exports: dict[str, str]) -> None:
        """The startup script's exports Airflow's processes run with: an environment update that
        fails restarts Airflow on these again. 0600, as exports may carry credentials."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.exports_file.with_name(f".{self.exports_file.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(exports, indent=2))
        tmp.replace(self.exports_file)

    def load_exports(self) -> dict[str, str]:
        """{} when Airflow was started without exports (or before they were recorded)."""
        try:
            raw = json.loads(self.exports_file.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    # -- secrets kept for the project (0600, generated once) -----------------------------------
    def stored_secret(self, name: str, make) -> str:
        """The value in .sandbox/<name>, generated by make() on first use; never a well-known
        default, and kept so restarts keep logins, sessions and encrypted connections."""
        path = self.root / name
        if path.exists():
            return path.read_text().strip()
        self.root.mkdir(parents=True, exist_ok=True)
        value = make()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value + "\n")
        return value

    def admin_password(self) -> str:
        return self.stored_secret(self.password_file.name, lambda: secrets.token_urlsafe(18))
