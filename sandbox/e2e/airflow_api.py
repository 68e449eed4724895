"""A small client for Airflow 2.9's stable REST API (basic auth), for the e2e harness."""

from __future__ import annotations

import ast
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from typing import Any, Callable

from sandbox.errors import SandboxError

FINISHED = ("success", "failed")
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


class AirflowApiError(SandboxError):
    """The Airflow REST API answered with an error."""


@dataclass(frozen=True)
class AirflowApi:
    base_url: str  # http://host:port
    user: str
    password: str
    timeout: float = 15.0

    def _send(self, method: str, path: str, body: Any = None, accept: str = "application/json") -> str:
        request = urllib.request.Request(f"{self.base_url}/api/v1{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None)
        token = b64encode(f"{self.user}:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        request.add_header("Content-Type", "application/json")
        request.add_header("Accept", accept)
        with _LOCAL.open(request, timeout=self.timeout) as response:
            return response.read().decode(errors="replace")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            text = self._send(method, path, body)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("detail") or detail
            except ValueError:
                pass
            raise AirflowApiError(f"Airflow API {method} {path} answered {exc.code}: {str(detail)[:300]}") from exc
        except OSError as exc:
            raise AirflowApiError(f"Airflow API at {self.base_url} is not answering ({exc})",
                                  hint="check `sandbox status`") from exc
        return json.loads(text) if text else None

    def dag(self, dag_id: str) -> dict | None:
        try:
            return self.call("GET", f"/dags/{urllib.parse.quote(dag_id)}")
        except AirflowApiError as exc:
            if " 404:" in exc.message:
                return None
            raise

    def dag_ids(self) -> list[str]:
        return sorted(d["dag_id"] for d in self.call("GET", "/dags?limit=1000").get("dags", []))

    def dag_runs(self, dag_id: str) -> list[dict]:
        """The DAG's newest runs (up to 100), newest first."""
        path = f"/dags/{urllib.parse.quote(dag_id)}/dagRuns?order_by=-execution_date&limit=100"
        return self.call("GET", path).get("dag_runs", [])

    def import_errors(self) -> list[dict]:
        return self.call("GET", "/importErrors?limit=100").get("import_errors", [])

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.call("PATCH", f"/dags/{urllib.parse.quote(dag_id)}", {"is_paused": paused})

    def trigger(self, dag_id: str, conf: dict) -> str:
        run = self.call("POST", f"/dags/{urllib.parse.quote(dag_id)}/dagRuns", {"conf": conf})
        return run["dag_run_id"]

    def clear_failed(self, dag_id: str, run_id: str) -> None:
        """Clear the run's failed task instances (and set the run running again), as an operator's
        "Clear" in the UI does."""
        self.call("POST", f"/dags/{urllib.parse.quote(dag_id)}/clearTaskInstances",
                  {"dry_run": False, "dag_run_id": run_id, "only_failed": True, "reset_dag_runs": True,
                   "include_downstream": True})

    def run_state(self, dag_id: str, run_id: str) -> str:
        path = f"/dags/{urllib.parse.quote(dag_id)}/dagRuns/{urllib.parse.quote(run_id)}"
        return self.call("GET", path)["state"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float, interval: float = 1.0,
                 during: Callable[[], None] | None = None) -> str:
        """Poll until the run finished (calling `during` between polls); returns its state, or
        'timeout'."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            if state in FINISHED:
                return state
            if during is not None:
                during()
            time.sleep(interval)
        return "timeout"

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/dags/{urllib.parse.quote(dag_id)}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances"
        return self.call("GET", path).get("task_instances", [])

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        path = (f"/dags/{urllib.parse.quote(dag_id)}/dagRuns/{urllib.parse.quote(run_id)}"
                f"/taskInstances/{urllib.parse.quote(task_id)}/logs/{try_number}?full_content=true")
        try:
            return self._send("GET", path, accept="text/plain")
        except urllib.error.HTTPError as exc:
            return f"(log not available: HTTP {exc.code})"

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = (f"/dags/{urllib.parse.quote(dag_id)}/dagRuns/{urllib.parse.quote(run_id)}"
                f"/taskInstances/{urllib.parse.quote(task_id)}/xcomEntries/{key}")
        try:
            value = self.call("GET", path).get("value")
        except AirflowApiError:
            return None
        if isinstance(value, str):  # Airflow 2.9 returns the Python repr of the value
            try:
                return ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return value
        return value
