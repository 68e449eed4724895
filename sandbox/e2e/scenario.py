"""`sandbox e2e`: deliver the DAGs, run producer then consumer, and prove every record arrived
exactly once, comparing Elasticsearch with the truth read back from Kafka."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sandbox.e2e import accounting, checks, formats, reference, truth
from sandbox.e2e.airflow_api import AirflowApi
from sandbox.e2e.dags import E2EError, PipelineDags  # noqa: F401  (E2EError: part of this module's API)
from sandbox.e2e.es import Es
from sandbox.e2e.faults import FaultRun
from sandbox.e2e.identity import Identity, example
from sandbox.e2e.result import E2EResult
from sandbox.runtime.base import Progress, Runtime
from sandbox.environment.state import StateDir
from sandbox.services import airflow, elasticsearch, kafka


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
    identity: str | None = None  # FIELD | coordinates | fingerprint:FIELD,...; None: derived
    record_format: str = "auto"  # json | apache-common | apache-combined | a parser's dotted path
    with_schedule: bool = False  # let the DAGs' own schedules fire during the proof

    @property
    def deadletter_index(self) -> str:
        return f"{self.index}-deadletter"  # the reference consumer's naming

    @property
    def reference_pipeline(self) -> bool:
        return (self.producer, self.consumer) == (reference.PRODUCER, reference.CONSUMER)


class Scenario:
    def __init__(self, runtime: Runtime, options: E2EOptions, progress: Progress, fault: str | None = None):
        self.rt = runtime
        self.options = options
        self.progress = progress
        s = runtime.settings
        self.state = StateDir(s.state_dir)
        self.api = AirflowApi(airflow.url(s), airflow.ADMIN_USER, self.state.admin_password())
        self.es = Es(elasticsearch.url(s))
        self.bootstrap = kafka.bootstrap_servers(s)
        self.dags = PipelineDags(s, self.api, [options.producer, options.consumer], progress,
                                 options.parse_timeout, options.run_timeout)
        self.fault = None if fault is None else FaultRun(fault, runtime, self.dags, self.es, options.index,
                                                          self.bootstrap, options.topic, progress)
        # bad flags fail before anything starts
        self.identity = Identity.parse(options.identity) if options.identity else None
        self.fmt = formats.format_named(options.record_format, s.project_dir)  # None: detect

    def run(self) -> E2EResult:
        o = self.options
        started = time.monotonic()
        result = E2EResult(o.producer, o.consumer, o.topic, o.index,
                           datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.rt.up()
        clock = _Phases()
        self.dags.deliver_and_wait_parsed()
        clock.mark("parse")
        known = self.dags.known_runs()
        with self.dags.isolated(o.with_schedule):
            if o.reference_pipeline:
                self._reference_run(result, clock)
            else:
                self._pipeline_run(result, clock, known)
            result.runs = self.dags.runs_since(known)
        result.notes.append("runs: " + _runs_summary(result.runs))
        result.notes.append("time: " + clock.summary())
        result.phases = clock.totals()
        result.seconds = time.monotonic() - started
        return result

    def _producer_conf(self) -> dict:
        o = self.options
        seed = o.seed if o.seed is not None else int(time.time()) % 1_000_000
        start = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        conf = {"count": o.count, "seed": seed, "malformed": o.malformed,
                "start": start.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if o.reference_pipeline and o.topic != reference.TOPIC:
            conf["topic"] = o.topic
        return conf

    def _consumer_conf(self) -> dict:
        o = self.options
        conf = dict(o.consumer_conf)
        if o.reference_pipeline and o.topic != reference.TOPIC:
            conf["topic"] = o.topic
        if o.reference_pipeline and o.index != reference.INDEX:
            conf["index"] = o.index
        return conf

    def _produce(self, result: E2EResult, clock: "_Phases") -> tuple[dict[int, int], dict[int, int], dict | None]:
        """Run the producer; (end offsets before, after, what it returned)."""
        o = self.options
        if self.fault is not None:
            self.fault.before_produce()
        before = truth.end_offsets(self.bootstrap, o.topic)
        conf = self._producer_conf()
        producer_out, result.producer_seconds = self.dags.run(o.producer, conf)
        result.outputs["producer"] = producer_out or {}
        result.notes.append(f"seed {conf['seed']}, start {conf['start']}")
        clock.mark("produce")
        return before, truth.end_offsets(self.bootstrap, o.topic), producer_out

    def _consume(self, result: E2EResult, clock: "_Phases") -> None:
        if self.fault is not None:
            consumer_out, result.consumer_seconds = self.fault.consume(self.options.consumer, self._consumer_conf())
        else:
            consumer_out, result.consumer_seconds = self.dags.run(self.options.consumer, self._consumer_conf())
        result.outputs["consumer"] = consumer_out or {}
        clock.mark("consume")

    def _reference_run(self, result: E2EResult, clock: "_Phases") -> None:
        o = self.options
        dl_before = self.es.count(o.deadletter_index)
        before, after, producer_out = self._produce(result, clock)
        run_records = truth.read_range(self.bootstrap, o.topic, before, after)
        backlog = self._backlog_ids(self._consumer_conf(), after)
        known_before = self.es.existing_ids(o.index, backlog)
        index_before = self.es.count(o.index)
        clock.mark("read truth")
        self.progress.done("kafka", f"{len(run_records)} records added to {o.topic} "
                                    f"({_offsets(before)} -> {_offsets(after)})")
        self._consume(result, clock)
        self.es.refresh(o.index)
        self.es.refresh(o.deadletter_index)
        result.identity, result.record_format = "event_id (the document id)", "json (the reference records)"
        self._reference_checks(result, run_records, after, producer_out, dl_before,
                               len(backlog) - len(known_before), index_before)
        clock.mark("verify")

    def _pipeline_run(self, result: E2EResult, clock: "_Phases", known: set) -> None:
        """Any producer/consumer pair: figures from the topic range actually produced (every
        run included) and the documents the index holds at the end, matched by identity."""
        o = self.options
        before, produced_to, _ = self._produce(result, clock)
        ids_before = accounting.index_ids(self.es, o.index)
        total_before = self.es.count(o.index)
        self._consume(result, clock)
        if o.with_schedule:
            self.dags.wait_all_finished(known)
            if truth.end_offsets(self.bootstrap, o.topic) != produced_to:  # a scheduled producer ran late
                self.progress.note("the schedule produced more after the consumer started: one more consumer run")
                self._consume(result, clock)
                self.dags.wait_all_finished(known)
        after = truth.end_offsets(self.bootstrap, o.topic)
        # the whole topic once: the run's range for the figures, all of it for the query truth
        parsed, everything = accounting.parse_topic(truth.read_range(self.bootstrap, o.topic, {}, after),
                                                    before, self.fmt)
        self.progress.done("kafka", f"{len(parsed.records)} records added to {o.topic} "
                                    f"({_offsets(before)} -> {_offsets(after)})")
        self.es.refresh(o.index)
        clock.mark("read truth")
        result.record_format = parsed.fmt.name if parsed.fmt else "unknown"
        identity = accounting.choose_identity(self.identity, o.topic, parsed, self.es, o.index)
        accounting.account(result, parsed, identity, self.es, o.index, o.topic, ids_before,
                           self.es.count(o.index) - total_before)
        accounting.query_checks(result, everything, identity, self.es, o.index, o.topic)
        clock.mark("verify")

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
        found = self.es.existing_ids(self.options.index, ids)
        result.indexed = len(found)
        result.examples = {"lost": _lost_examples(run_records, parsed, found)}
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

    def totals(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, seconds in self.phases:
            out[name] = round(out.get(name, 0.0) + seconds, 3)
        return out

    def summary(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases)


def _lost_examples(records, parsed, found: set[str], limit: int = 5) -> list[dict]:
    """The first records (by partition, offset) whose event id is not in the index."""
    lost = sorted(((r, p.event_id) for r, p in zip(records, parsed) if p is not None and p.event_id not in found),
                  key=lambda pair: (pair[0].partition, pair[0].offset))
    return [vars(example(r, event_id, 1)) for r, event_id in lost[:limit]]


def _runs_summary(runs: list[dict]) -> str:
    """e.g. "log_producer manual 1; log_consumer manual 2, scheduled 1"."""
    by_dag: dict[str, dict[str, int]] = {}
    for run in runs:
        kinds = by_dag.setdefault(run["dag_id"], {})
        kinds[run.get("run_type") or "?"] = kinds.get(run.get("run_type") or "?", 0) + 1
    return "; ".join(f"{d} " + ", ".join(f"{k} {n}" for k, n in kinds.items()) for d, kinds in by_dag.items()) or "none"


def _offsets(offsets: dict[int, int]) -> str:
    return "[" + ", ".join(f"{p}:{o}" for p, o in sorted(offsets.items())) + "]"
