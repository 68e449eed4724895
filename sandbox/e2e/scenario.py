"""`sandbox e2e`: deliver the DAGs, run producer then consumer, and prove every record arrived
exactly once, comparing Elasticsearch with the truth read back from Kafka."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sandbox.delivery.deliver import deliver
from sandbox.e2e import checks, reference, truth
from sandbox.e2e.airflow_api import AirflowApi
from sandbox.e2e.es import Es
from sandbox.e2e.result import E2EResult
from sandbox.errors import SandboxError
from sandbox.proc import tail
from sandbox.runtime.base import Progress, Runtime
from sandbox.environment.state import StateDir
from sandbox.services import airflow, elasticsearch, kafka


class E2EError(SandboxError):
    """A step of the e2e scenario failed before the checks could run."""


@dataclass(frozen=True)
class E2EOptions:
    producer: str = reference.PRODUCER
    consumer: str = reference.CONSUMER
    topic: str = reference.TOPIC
    index: str = reference.INDEX
    count: int = 15000
    seed: int | None = None
    malformed: int = 0
    run_timeout: float = 600.0
    parse_timeout: float = 180.0
    consumer_conf: dict = field(default_factory=dict)

    @property
    def deadletter_index(self) -> str:
        return f"{self.index}-deadletter"  # the reference consumer's naming

    @property
    def reference_pipeline(self) -> bool:
        return (self.producer, self.consumer) == (reference.PRODUCER, reference.CONSUMER)


class Scenario:
    def __init__(self, runtime: Runtime, options: E2EOptions, progress: Progress):
        self.rt = runtime
        self.options = options
        self.progress = progress
        s = runtime.settings
        self.state = StateDir(s.state_dir)
        self.api = AirflowApi(airflow.url(s), airflow.ADMIN_USER, self.state.admin_password())
        self.es = Es(elasticsearch.url(s))
        self.bootstrap = kafka.bootstrap_servers(s)

    def run(self) -> E2EResult:
        o = self.options
        started = time.monotonic()
        result = E2EResult(o.producer, o.consumer, o.topic, o.index,
                           datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.rt.up()
        clock = _Phases()
        self.deliver_and_wait_parsed()
        clock.mark("parse")
        before = truth.end_offsets(self.bootstrap, o.topic)
        dl_before = self.es.count(o.deadletter_index)
        seed = o.seed if o.seed is not None else int(time.time()) % 1_000_000
        start = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        conf = {"count": o.count, "seed": seed, "malformed": o.malformed,
                "start": start.strftime("%Y-%m-%dT%H:%M:%SZ")}
        consumer_conf = dict(o.consumer_conf)
        if o.reference_pipeline and o.topic != reference.TOPIC:
            conf["topic"] = consumer_conf["topic"] = o.topic
        if o.reference_pipeline and o.index != reference.INDEX:
            consumer_conf["index"] = o.index
        producer_out, result.producer_seconds = self.run_dag(o.producer, conf)
        clock.mark("produce")
        after = truth.end_offsets(self.bootstrap, o.topic)
        run_records = truth.read_range(self.bootstrap, o.topic, before, after)
        backlog = self._backlog_ids(consumer_conf, after) if o.reference_pipeline else []
        known_before = self.es.existing_ids(o.index, backlog)
        index_before = self.es.count(o.index)
        clock.mark("read truth")
        self.progress.done("kafka", f"{len(run_records)} records added to {o.topic} "
                                    f"({_offsets(before)} -> {_offsets(after)})")
        consumer_out, result.consumer_seconds = self.run_dag(o.consumer, consumer_conf)
        result.outputs = {"producer": producer_out or {}, "consumer": consumer_out or {}}
        clock.mark("consume")
        self.es.refresh(o.index)
        self.es.refresh(o.deadletter_index)
        if o.reference_pipeline:
            expected_new = len(backlog) - len(known_before)
            self._reference_checks(result, run_records, after, producer_out, dl_before,
                                   expected_new, index_before)
        else:
            self._count_checks(result, run_records, index_before, after)
        clock.mark("verify")
        result.notes.append(f"seed {seed}, start {conf['start']}")
        result.notes.append("time: " + clock.summary())
        result.seconds = time.monotonic() - started
        return result

    # -- steps ----------------------------------------------------------------------------------
    def deliver_and_wait_parsed(self) -> None:
        """Deploy the project to the bucket, let the S3 -> dags sync bring it into Airflow (the
        MWAA way) and wait for a clean parse."""
        synced_at = datetime.now(timezone.utc)
        synced = deliver(self.rt.settings, timeout=self.options.parse_timeout)
        for warning in synced.report.warnings:
            self.progress.note(warning.message)
        changed = bool(synced.copied or synced.deleted)
        self.progress.step("dags", f"deployed to s3://{synced.report.bucket}/ ({len(synced.report.uploaded)} "
                                   f"uploaded, {len(synced.report.deleted)} deleted), synced into Airflow "
                                   f"({len(synced.copied)} copied, {len(synced.deleted)} removed); "
                                   "waiting for Airflow to parse them")
        deadline = time.monotonic() + self.options.parse_timeout
        waiting = [self.options.producer, self.options.consumer]
        while True:
            self._fail_on_import_errors(synced.copied, synced_at)
            waiting = [d for d in waiting if not self._parsed(d, synced_at if changed else None)]
            if not waiting:
                break
            if time.monotonic() > deadline:
                raise E2EError(f"Airflow did not parse {', '.join(waiting)} within {self.options.parse_timeout:.0f} s",
                               hint="check the DAG ids and `sandbox logs airflow-dag-processor`",
                               details=tail(self.state.log_file("airflow-dag-processor"), 20))
            time.sleep(2)
        for dag_id in (self.options.producer, self.options.consumer):
            self.api.set_paused(dag_id, False)
        self.progress.done("dags", f"{self.options.producer} and {self.options.consumer} parsed, unpaused")

    def _parsed(self, dag_id: str, since: datetime | None) -> bool:
        dag = self.api.dag(dag_id)
        if not dag or not dag.get("is_active"):
            return False
        if since is None or not dag.get("last_parsed_time"):
            return dag is not None
        parsed = datetime.fromisoformat(dag["last_parsed_time"].replace("Z", "+00:00"))
        return parsed >= since

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

    def run_dag(self, dag_id: str, conf: dict) -> tuple[dict | None, float]:
        """Trigger and wait; returns the first dict a task returned and the summed task time."""
        self.progress.step(dag_id, f"triggered, waiting up to {self.options.run_timeout:.0f} s")
        started = time.monotonic()
        run_id = self.api.trigger(dag_id, conf)
        state = self.api.wait_run(dag_id, run_id, self.options.run_timeout)
        if state != "success":
            raise E2EError(f"{dag_id} run {run_id} ended {state}", hint="see the task log below",
                           details=self._failed_task_logs(dag_id, run_id))
        self.progress.done(dag_id, f"succeeded in {time.monotonic() - started:.1f} s")
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

    # -- checks ---------------------------------------------------------------------------------
    def _backlog_ids(self, consumer_conf: dict, after: dict[int, int]) -> list[str]:
        """Valid event ids the consumer is about to read: from its group's committed offsets
        (the start of the topic for a new group) to the end offsets now."""
        group = consumer_conf.get("group_id", reference.CONSUMER_GROUP)
        committed = truth.committed_offsets(self.bootstrap, group, self.options.topic)
        pending = truth.read_range(self.bootstrap, self.options.topic, committed, after)
        return sorted({p.event_id for p in (reference.parse(r.value) for r in pending) if p})

    def _reference_checks(self, result, run_records, after, producer_out, dl_before,
                          expected_new: int, index_before: int) -> None:
        """The consumer's contract: _id = event id. Presence by multi-get; duplicates are
        documents added beyond the new event ids the consumer had to index."""
        parsed = [reference.parse(r.value) for r in run_records]
        valid = [p for p in parsed if p is not None]
        result.malformed = len(parsed) - len(valid)
        ids = sorted({r.event_id for r in valid})
        result.produced = len(ids)
        result.indexed = len(self.es.existing_ids(self.options.index, ids))
        added = self.es.count(self.options.index) - index_before
        result.duplicates = max(added - expected_new, 0)
        result.lost = result.produced - result.indexed
        result.dead_letter = self.es.count(self.options.deadletter_index) - dl_before
        acknowledged = (producer_out or {}).get("acknowledged")
        result.checks += [checks.produced_check(acknowledged, result.produced),
                          checks.loss_check(result.produced, result.indexed),
                          checks.duplicates_check(result.duplicates),
                          checks.dead_letter_check(result.dead_letter, result.malformed)]
        self._query_checks(result, after)

    def _count_checks(self, result, run_records, index_before, after) -> None:
        result.produced = len(run_records)
        added = self.es.count(self.options.index) - index_before
        result.indexed = min(added, result.produced)
        result.duplicates = max(added - result.produced, 0)
        result.lost = result.produced - result.indexed
        result.checks += [checks.loss_check(result.produced, result.indexed),
                          checks.duplicates_check(result.duplicates)]
        if reference.REFERENCE_FIELDS <= self.es.field_names(self.options.index):
            self._query_checks(result, after)

    def _query_checks(self, result: E2EResult, after: dict[int, int]) -> None:
        """The three reference queries against the whole topic's truth (the index holds it all)."""
        everything = truth.read_range(self.bootstrap, self.options.topic, {}, after)
        unique: dict[str, reference.LogRecord] = {}
        for rec in everything:
            parsed = reference.parse(rec.value)
            if parsed is not None:
                unique.setdefault(parsed.event_id, parsed)
        records = list(unique.values())
        index = self.options.index
        result.checks.append(checks.errors_on_endpoint_check(
            self.es.search(index, reference.errors_on_endpoint_query()), records))
        result.checks.append(checks.top_endpoints_check(
            self.es.search(index, reference.top_endpoints_query()), records))
        check, series = checks.per_minute_check(self.es.search(index, reference.per_minute_query()), records)
        result.checks.append(check)
        result.per_minute = series


class _Phases:
    """Where an e2e run's time went, for the report."""

    def __init__(self):
        self.last = time.monotonic()
        self.phases: list[tuple[str, float]] = []

    def mark(self, name: str) -> None:
        now = time.monotonic()
        self.phases.append((name, now - self.last))
        self.last = now

    def summary(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases)


def _offsets(offsets: dict[int, int]) -> str:
    return "[" + ", ".join(f"{p}:{o}" for p, o in sorted(offsets.items())) + "]"
