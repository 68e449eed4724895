"""The project's `.sandbox/` folder: layout, the process registry, secrets kept for the user."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, fields
from pathlib import Path

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
    def registry_file(self) -> Path:
        return self.root / "processes.json"

    @property
    def password_file(self) -> Path:
        return self.root / "admin-password"

    def log_file(self, process: str) -> Path:
        return self.logs / f"{process}.log"

    def ensure(self) -> None:
        for folder in (self.root, self.logs, self.data, self.airflow_home, self.dags_folder):
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

    def save_registry(self, records: dict[str, ProcessRecord]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        payload = {"processes": {n: asdict(r) for n, r in records.items()}}
        tmp = self.registry_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2))
        tmp.replace(self.registry_file)

    def prune_stale(self) -> list[str]:
        """Forget records whose process is gone or whose pid now belongs to someone else."""
        records = self.load_registry()
        stale = [name for name, rec in records.items() if not is_alive(rec)]
        if stale:
            self.save_registry({n: r for n, r in records.items() if n not in stale})
        return stale

    # -- the admin password -----------------------------------------------------------------
    def admin_password(self) -> str:
        """Generated once, stored with mode 0600; never a well-known default."""
        if self.password_file.exists():
            return self.password_file.read_text().strip()
        self.root.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(18)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        return password
