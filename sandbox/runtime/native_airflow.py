"""Airflow's one-time set-up and health on the native runtime: database, admin user, env."""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.probes import http_get
from sandbox.proc import runner
from sandbox.runtime.base import Progress
from sandbox.environment.state import StateDir
from sandbox.services import airflow as airflow_service
from sandbox.services import postgres, workers
from sandbox.settings import Settings

# Which /health key answers for which process.
HEALTH_KEY = {"airflow-scheduler": "scheduler", "airflow-dag-processor": "dag_processor",
              "airflow-triggerer": "triggerer", "airflow-webserver": "metadatabase"}


class AirflowSetup:
    def __init__(self, settings: Settings, state: StateDir, progress: Progress):
        self.settings = settings
        self.state = state
        self.progress = progress

    @property
    def stamp(self) -> Path:
        return self.state.data / "airflow-db.initialised"

    def process_env(self, venv: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        return airflow_service.environment(self.settings, self.state, venv, extra=extra)

    def initialise(self, venv: Path, env: dict[str, str]) -> None:
        """Create the database, migrate it and add the admin user, once per state dir."""
        if self.stamp.exists():
            return
        self.progress.step("airflow-db", "creating the metadata database")
        created = runner.run(postgres.createdb_command(self.settings))
        if not created.ok and "already exists" not in created.stderr:
            created.check("createdb")
        self.progress.step("airflow-db", "airflow db migrate")
        runner.run(airflow_service.airflow_command(venv, env, "db", "migrate", timeout=900)).check(
            "airflow db migrate")
        self.progress.step("airflow-db", "creating the admin user")
        password = self.state.admin_password()
        runner.run(airflow_service.airflow_command(venv, env, *airflow_service.users_create_args(password),
                                                   timeout=300)).check("airflow users create")
        self.stamp.write_text("migrated\n")
        self.progress.done("airflow-db", "migrated, admin user created")

    def health(self) -> dict:
        try:
            status, body = http_get(f"{airflow_service.url(self.settings)}/health")
            return json.loads(body) if status == 200 else {}
        except (OSError, ValueError):
            return {}

    def component_state(self, process: str, body: dict) -> tuple[str, str]:
        if workers.is_worker(process):
            return "running", ""  # no /health entry: Celery workers answer through the queue
        key = HEALTH_KEY.get(process) or ("scheduler" if process.startswith("airflow-scheduler") else None)
        if not body:
            return "starting", "web server not answering"
        status = (body.get(key) or {}).get("status", "unknown")
        return ("running", "") if status == "healthy" else ("unhealthy", f"{key} {status}")
