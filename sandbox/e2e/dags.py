"""The pipeline's DAGs during a proof: delivered through S3, parsed, isolated from their own
schedules, triggered and waited for, and every run that happened accounted for."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime, timezone
from typing import Callable, Iterator

from sandbox.delivery.deliver import deliver
from sandbox.e2e import hold
from sandbox.e2e.airflow_api import AirflowApi
from sandbox.errors import SandboxError
from sandbox.environment.state import StateDir
from sandbox.proc import tail
from sandbox.runtime.base import Progress
from sandbox.settings import Settings


class E2EError(SandboxError):
    """A step of the e2e scenario failed before the checks could run."""


class PipelineDags:
    def __init__(self, settings: Settings, api: AirflowApi, dag_ids: list[str], progress: Progress,
                 parse_timeout: float, run_timeout: float):
        self.settings = settings
        self.api = api
        self.dag_ids = list(dict.fromkeys(dag_ids))
        self.progress = progress
        self.parse_timeout = parse_timeout
        self.run_timeout = run_timeout
        self.state = StateDir(settings.state_dir)
        self._offline_ids: list[str] | None = None

    # -- delivery ---------------------------------------------------------------------------------
    def deliver_and_wait_parsed(self) -> None:
        """Deploy the project to the bucket, let the S3 -> dags sync bring it into Airflow (the
        MWAA way) and wait for a clean parse of the pipeline's DAGs."""
        synced_at = datetime.now(timezone.utc)
        synced = deliver(self.settings, timeout=self.parse_timeout)
        for warning in synced.report.warnings:
            self.progress.note(warning.message)
        changed = bool(synced.copied or synced.deleted)
        self.progress.step("dags", f"deployed to s3://{synced.report.bucket}/ ({len(synced.report.uploaded)} "
                                   f"uploaded, {len(synced.report.deleted)} deleted), synced into Airflow "
                                   f"({len(synced.copied)} copied, {len(synced.deleted)} removed); "
                                   "waiting for Airflow to parse them")
        deadline = time.monotonic() + self.parse_timeout
        waiting = list(self.dag_ids)
        while True:
            self._fail_on_import_errors(synced.copied, synced_at)
            waiting = [d for d in waiting if not self._parsed(d, synced_at if changed else None)]
            if not waiting:
                break
            self._fail_on_missing(waiting, synced_at if changed else None)
            if time.monotonic() > deadline:
                raise E2EError(f"Airflow did not parse {', '.join(waiting)} within {self.parse_timeout:.0f} s",
                               hint="check the DAG ids and `sandbox logs airflow-dag-processor`",
                               details=tail(self.state.log_file("airflow-dag-processor"), 20))
            time.sleep(2)
        self.progress.done("dags", f"{' and '.join(self.dag_ids)} parsed")

    def _parsed(self, dag_id: str, since: datetime | None) -> bool:
        dag = self.api.dag(dag_id)
        if not dag or not dag.get("is_active"):
            return False
        if since is None or not dag.get("last_parsed_time"):
            return True
        parsed = datetime.fromisoformat(dag["last_parsed_time"].replace("Z", "+00:00"))
        return parsed >= since

    def _fail_on_missing(self, waiting: list[str], since: datetime | None) -> None:
        """A DAG id that Airflow's own parse of the folder (run offline, once) does not define
        fails as soon as Airflow has parsed every DAG that parse found: no wait for a timeout."""
        if self._offline_ids is None:
            from sandbox.parse import parse_project

            self._offline_ids = parse_project(self.settings).dag_ids
        missing = [d for d in waiting if d not in self._offline_ids]
        if not missing or not all(self._parsed(d, since) for d in self._offline_ids):
            return
        found = self.api.dag_ids()
        raise E2EError(f"no DAG {', '.join(missing)} in the DAG folder: Airflow parsed it and found "
                       f"{', '.join(found) or 'no DAG'}",
                       hint="check --producer/--consumer, or Sandbox.e2e in mwaa.yaml")

    def _fail_on_import_errors(self, copied: list[str], since: datetime) -> None:
        folder = str(self.state.dags_folder)
        for error in self.api.import_errors():
            filename = error.get("filename", "")
            rel = filename[len(folder):].lstrip("/") if filename.startswith(folder) else filename
            stamp = datetime.fromisoformat(str(error.get("timestamp")).replace("Z", "+00:00"))
            stale = rel in copied and stamp < since  # about the version we just replaced
            if not stale:
                trace = str(error.get("stack_trace", "")).strip()
                raise E2EError(f"DAG import error in {rel}: {trace.splitlines()[-1] if trace else 'unknown'}",
                               hint="fix the DAG file; the full traceback is below", details=trace)

    # -- isolation --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def isolated(self, with_schedule: bool) -> Iterator[None]:
        """Unpaused for the proof, their own schedules held unless `with_schedule`; afterwards
        each DAG is paused again if it was, and the hold is released whatever happened."""
        for dag_id in hold.release_stale(self.settings):
            self.progress.note(f"released the schedule hold a killed e2e left on {dag_id}")
        if not with_schedule:
            hold.hold(self.settings, self.dag_ids)
        paused = {d: bool((self.api.dag(d) or {}).get("is_paused")) for d in self.dag_ids}
        try:
            for dag_id in self.dag_ids:
                self.api.set_paused(dag_id, False)
            how = "their schedules fire as deployed" if with_schedule else "their own schedules held"
            self.progress.done("dags", f"{' and '.join(self.dag_ids)} unpaused, {how}")
            yield
        finally:
            for dag_id, was in paused.items():
                if was:
                    self.api.set_paused(dag_id, True)
            if not with_schedule:
                hold.release(self.settings, self.dag_ids)

    def known_runs(self) -> set[tuple[str, str]]:
        return {(d, r["dag_run_id"]) for d in self.dag_ids for r in self.api.dag_runs(d)}

    def runs_since(self, known: set[tuple[str, str]]) -> list[dict]:
        """Every run of the pipeline's DAGs not in `known`, oldest first."""
        runs = [{"dag_id": d, "run_id": r["dag_run_id"], "run_type": r.get("run_type"), "state": r.get("state"),
                 "start_date": r.get("start_date"), "end_date": r.get("end_date")}
                for d in self.dag_ids for r in self.api.dag_runs(d) if (d, r["dag_run_id"]) not in known]
        return sorted(runs, key=lambda r: (r["start_date"] or "9999", r["run_id"]))

    def wait_all_finished(self, known: set[tuple[str, str]]) -> list[dict]:
        """Wait until no run started during the proof is queued or running; returns them all."""
        deadline = time.monotonic() + self.run_timeout
        while True:
            runs = self.runs_since(known)
            active = [r for r in runs if r["state"] not in ("success", "failed")]
            if not active:
                return runs
            if time.monotonic() > deadline:
                raise E2EError(f"{len(active)} runs still {active[0]['state']} after {self.run_timeout:.0f} s "
                               f"({active[0]['dag_id']} {active[0]['run_id']})")
            self.progress.step("dags", f"waiting for {len(active)} scheduled runs to finish")
            time.sleep(2)

    # -- runs -------------------------------------------------------------------------------------
    def run(self, dag_id: str, conf: dict) -> tuple[dict | None, float]:
        """Trigger and wait; returns the first dict a task returned and the summed task time."""
        run_id = self.trigger(dag_id, conf)
        self.wait(dag_id, run_id)
        return self.outputs(dag_id, run_id)

    def trigger(self, dag_id: str, conf: dict) -> str:
        self.progress.step(dag_id, f"triggered, waiting up to {self.run_timeout:.0f} s")
        return self.api.trigger(dag_id, conf)

    def wait(self, dag_id: str, run_id: str, during: Callable[[], None] | None = None,
             interval: float = 1.0) -> None:
        """Until the run succeeded; a run that failed or timed out raises with its task logs."""
        started = time.monotonic()
        state = self.api.wait_run(dag_id, run_id, self.run_timeout, interval=interval, during=during)
        if state != "success":
            raise E2EError(f"{dag_id} run {run_id} ended {state}", hint="see the task log below",
                           details=self._failed_task_logs(dag_id, run_id))
        self.progress.done(dag_id, f"{run_id} succeeded in {time.monotonic() - started:.1f} s")

    def outputs(self, dag_id: str, run_id: str) -> tuple[dict | None, float]:
        """The first dict a task of the run returned, and the run's summed task time."""
        tasks = self.api.task_instances(dag_id, run_id)
        outputs = [self.api.xcom(dag_id, run_id, t["task_id"]) for t in tasks]
        task_seconds = sum(float(t.get("duration") or 0) for t in tasks)
        return next((o for o in outputs if isinstance(o, dict)), None), task_seconds

    def _failed_task_logs(self, dag_id: str, run_id: str) -> str:
        parts = []
        for ti in self.api.task_instances(dag_id, run_id):
            if ti.get("state") in ("success", "skipped"):
                continue
            log = self.api.task_log(dag_id, run_id, ti["task_id"], max(int(ti.get("try_number") or 1), 1))
            parts.append(f"--- {ti['task_id']} ({ti.get('state')}) ---\n" + "\n".join(log.splitlines()[-40:]))
        return "\n".join(parts) or "(no task log)"
