"""The failures that lose or duplicate records in production, made to happen during a proof.

Each scenario is one run of the same producer and consumer with one failure: a brand-new
consumer group after the records exist, the consumer's task killed mid-batch then retried, two
consumer runs at once, Kafka or Elasticsearch restarted under the consumer. A failure that could
not be made to happen (the consumer finished first) leaves the scenario undecided, never passed.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from sandbox.e2e import truth
from sandbox.e2e.dags import E2EError, PipelineDags
from sandbox.e2e.es import Es
from sandbox.errors import ConfigError
from sandbox.runtime.base import Progress, Runtime

SCENARIOS = {
    "fresh-group": "records exist before the consumer group ever joined",
    "retry": "the consumer's task is killed (SIGKILL) after writing part of a batch, then retried",
    "worker-kill": "the Celery worker running the consumer dies (SIGKILL, with its pool) mid-batch: "
                   "the worker is replaced and the task retried once the scheduler finds it a zombie",
    "overlap": "two consumer runs at once",
    "broker-restart": "Kafka restarts while the consumer runs",
    "es-restart": "Elasticsearch restarts while the consumer writes",
}
# Scenarios with a mid-stream rebalance, where the noida-db stand-in may duplicate one batch.
REBALANCING = ("overlap", "broker-restart", "es-restart")
NOIDA_REBALANCE = ("noida-db, standing in for Kafka here, can duplicate one batch on a mid-stream "
                   "rebalance: run this scenario on the compose runtime with registry images (real Kafka)")


def parse_scenarios(text: str) -> list[str]:
    names = list(SCENARIOS) if text.strip() == "all" else [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or not names:
        raise ConfigError(f"--scenarios: unknown scenario {', '.join(unknown) or '(none given)'}",
                          hint=f"give all, or some of {', '.join(SCENARIOS)} separated by commas")
    return list(dict.fromkeys(names))


def task_runners(dag_id: str, run_id: str) -> list[int]:
    """Pids of the raw task processes of a run (Airflow titles them "airflow task runner: DAG TASK
    RUN JOB"); a container's processes are visible here too."""
    prefix = f"airflow task runner: {dag_id} ".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if cmdline.startswith(prefix) and f" {run_id} ".encode() in cmdline + b" ":
            found.append(int(entry.name))
    return found


def celery_main_process(pid: int) -> int | None:
    """The Celery worker's main process above a task process: the topmost ancestor titled as a
    Celery process ("[celeryd: NAME:MainProcess]", "airflow celery worker"; on compose that is
    the container's init, so the whole container dies, as a worker container does on MWAA)."""
    try:
        chain = [psutil.Process(pid), *psutil.Process(pid).parents()]
    except psutil.Error:
        return None
    found = None
    for proc in chain:
        try:
            cmdline = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if "celeryd:" in cmdline or "celery worker" in cmdline:
            found = proc.pid
    return found


def family(pid: int) -> list[int]:
    try:
        return [pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))]
    except psutil.Error:
        return []


@dataclass
class FaultRun:
    """One scenario's failure, made to happen around the consumer's run."""
    name: str
    runtime: Runtime
    dags: PipelineDags
    es: Es
    index: str
    bootstrap: str
    topic: str
    progress: Progress
    exercised: bool = False
    details: list[str] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)

    def before_produce(self) -> None:
        if self.name != "fresh-group":
            return
        groups = truth.groups_on_topic(self.bootstrap, self.topic)
        if groups:
            truth.delete_groups(self.bootstrap, groups)
        self.exercised = True
        self.details.append(f"consumer group(s) {', '.join(groups)} deleted before producing" if groups else
                            "no consumer group had offsets on the topic: the consumer's group is new")

    def consume(self, consumer: str, conf: dict) -> tuple[dict | None, float]:
        if self.name == "overlap":
            return self._overlap(consumer, conf)
        baseline = self.es.count(self.index)
        run_id = self.dags.trigger(consumer, conf)
        act = {"retry": self._kill_task, "worker-kill": self._kill_worker, "broker-restart": self._restart,
               "es-restart": self._restart}.get(self.name)

        def during() -> None:
            if act is not None and not self.exercised and self.es.count(self.index) > baseline:
                act(consumer, run_id)

        try:
            self.dags.wait(consumer, run_id, during=during, interval=0.2)
        except E2EError:
            if not (self.name in ("retry", "worker-kill") and self.exercised
                    and self.dags.api.run_state(consumer, run_id) == "failed"):
                raise
            self.details.append("the task has no retries left: cleared as an operator would, and rerun")
            self.dags.api.clear_failed(consumer, run_id)
            self.dags.wait(consumer, run_id)
        if act is not None and not self.exercised:
            self.details.append("the consumer finished before the failure could be made to happen")
        return self.dags.outputs(consumer, run_id)

    def _kill_task(self, consumer: str, run_id: str) -> None:
        pids = task_runners(consumer, run_id)
        if not pids:
            return  # between tries: the next poll looks again
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        self.exercised = True
        written = self.es.count(self.index)
        self.details.append(f"task process {', '.join(map(str, pids))} killed with SIGKILL after "
                            f"documents started arriving (index at {written})")
        if "kafka" in self.runtime.stand_ins():
            time.sleep(1.0)  # the socket closes with the process
            removed = truth.remove_members(self.bootstrap, self.topic)
            self.caveats.append(f"noida-db never expires a killed consumer-group member: the sandbox removed "
                                f"{removed}, as Kafka does once session.timeout.ms passes")

    def _kill_worker(self, consumer: str, run_id: str) -> None:
        runners = task_runners(consumer, run_id)
        main = next((m for m in map(celery_main_process, runners) if m), None)
        if main is None:
            return  # between tries, or not yet started: the next poll looks again
        members = family(main)
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        self.exercised = True
        self.details.append(f"Celery worker {main} and its {len(members) - 1} child process(es) killed with SIGKILL "
                            f"after documents started arriving (index at {self.es.count(self.index)}); "
                            "the task is retried once the scheduler finds it a zombie")
        if "kafka" in self.runtime.stand_ins():
            time.sleep(1.0)
            removed = truth.remove_members(self.bootstrap, self.topic)
            self.caveats.append(f"noida-db never expires a killed consumer-group member: the sandbox removed "
                                f"{removed}, as Kafka does once session.timeout.ms passes")

    def _restart(self, consumer: str, run_id: str) -> None:
        service = "kafka" if self.name == "broker-restart" else "elasticsearch"
        started = time.monotonic()
        self.exercised = True
        self.restarted = self.runtime.restart_service(service)
        self.details.append(f"{service} restarted mid-run ({time.monotonic() - started:.1f} s)")
        others = [s for s in self.restarted if s != service]
        if others:
            self.caveats.append(f"{service} and {', '.join(others)} run in one noida-db process on this "
                                f"runtime: both restarted")

    def _overlap(self, consumer: str, conf: dict) -> tuple[dict | None, float]:
        first = self.dags.trigger(consumer, conf)
        second = self.dags.trigger(consumer, conf)
        self.dags.wait(consumer, first)
        self.dags.wait(consumer, second)
        runs = {r["dag_run_id"]: r for r in self.dags.api.dag_runs(consumer)}
        a, b = runs.get(first, {}), runs.get(second, {})
        overlapped = bool(a.get("start_date") and b.get("start_date") and a.get("end_date")
                          and b["start_date"] < a["end_date"] and a["start_date"] < (b.get("end_date") or "9999"))
        self.exercised = True
        self.details.append("the two runs overlapped" if overlapped else
                            "Airflow ran the two runs one after the other (max_active_runs)")
        out_a, sec_a = self.dags.outputs(consumer, first)
        _, sec_b = self.dags.outputs(consumer, second)
        return out_a, sec_a + sec_b


GUARANTEES = (
    ("at-least-once delivery", "lost", tuple(SCENARIOS)),
    ("no duplicates", "duplicates", ("retry", "worker-kill", "overlap", "fresh-group")),
    ("survives a broker restart", "both", ("broker-restart",)),
    ("survives an Elasticsearch restart", "both", ("es-restart",)),
)


def guarantees(scenarios: list[dict]) -> list[dict]:
    """The guarantees table: each row held, broken (by which scenario) or not decided here."""
    by_name = {s["name"]: s for s in scenarios}
    rows = []
    for row, measure, names in GUARANTEES:
        ran = [by_name[n] for n in names if n in by_name]
        broken = [s for s in ran if s["status"] == "failed" and _breaks(s, measure)]
        decided = [s for s in ran if s["status"] in ("passed", "failed")]
        if broken:
            verdict, proof = "broken", broken[0]["name"]
        elif decided and all(s["status"] == "passed" or not _breaks(s, measure) for s in decided):
            verdict, proof = "holds", ", ".join(s["name"] for s in decided)
        else:
            verdict = "not decided"
            proof = ", ".join(f"{s['name']}: {s['status']}" for s in ran) or "no scenario ran"
        rows.append({"guarantee": row, "verdict": verdict, "scenarios": proof})
    return rows


def _breaks(scenario: dict, measure: str) -> bool:
    if measure == "lost":
        return scenario["lost"] > 0
    if measure == "duplicates":
        return scenario["duplicates"] > 0
    return scenario["lost"] > 0 or scenario["duplicates"] > 0 or bool(scenario.get("error"))
