"""log_consumer: index the Kafka topic AWS-MWAA-Production into Elasticsearch, at least once, without duplicates.

Puts the index template, notes every partition's end offset, then consumes in batches as group
log_consumer_group (earliest, manual commits). Valid records go to aws-mwaa-production with
_id = event_id (status as a string, for status.keyword); invalid payloads go to
aws-mwaa-production-deadletter with _id "<topic>-<partition>-<offset>", the raw payload and the
reason. A batch's offsets are committed only after its bulk request fully succeeded, so a crash
re-indexes the same ids on retry (one retry, 5 s later) and never creates a duplicate.

Run conf (all optional): group_id, auto_offset_reset (earliest), topic, index, deadletter_index
(<index>-deadletter), max_seconds (600), fail_after_index_once (false: when true, try 1 crashes
after its first bulk request and before committing).

Expected outcome: the task consume_logs stops once every partition reached the end offset it saw
at start, refreshes both indices, logs the counts and returns the XCom
{"consumed", "indexed", "dead_lettered", "batches", "seconds", "topic", "index",
"deadletter_index", "group_id", "end_offsets"}; with the default producer run, the index holds
one document per produced record and the dead-letter index one per malformed payload.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

import pendulum
from airflow.decorators import dag, task
from airflow.exceptions import AirflowException

from weblogs import records
from weblogs.options import ConsumerOptions

log = logging.getLogger("airflow.task")

BATCH_SIZE = 2000
ASSIGNMENT_TIMEOUT_SECONDS = 60
KAFKA_TIMEOUT_SECONDS = 30
# Runs whose simulated crash already happened in this process: `airflow dags test` retries a task
# in-process without ever advancing try_number (Airflow 2.9.2), so try_number alone would crash forever.
_CRASHED_RUNS: set[str] = set()


class SimulatedCrash(AirflowException):
    """fail_after_index_once: the batch is indexed, its offsets deliberately not committed."""


@dataclass
class Progress:
    """Where each partition stands against the end offsets noted at start."""

    end_offsets: dict[int, int]
    low_offsets: dict[int, int]
    positions: dict[int, int] = field(default_factory=dict)
    consumed: int = 0
    indexed: int = 0
    dead_lettered: int = 0
    batches: int = 0

    def pending(self) -> dict[int, int]:
        """Non-empty partitions still short of their end offset, with how far they have got (-1: unassigned)."""
        return {p: self.positions.get(p, -1) for p, end in self.end_offsets.items()
                if end > self.low_offsets.get(p, 0) and self.positions.get(p, -1) < end}

    def remaining(self) -> int:
        """Messages left before every end offset is reached (for unassigned partitions: all of them)."""
        return sum(max(0, end - max(self.positions.get(p, -1), self.low_offsets.get(p, 0)))
                   for p, end in self.end_offsets.items())

    def advance(self, partition: int, next_offset: int) -> None:
        self.positions[partition] = max(self.positions.get(partition, -1), next_offset)


def end_offsets(consumer, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    """(low, high) watermarks of every partition of the topic; fails clearly if it does not exist."""
    from confluent_kafka import TopicPartition

    metadata = consumer.list_topics(topic, timeout=KAFKA_TIMEOUT_SECONDS).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise AirflowException(f"topic {topic} does not exist ({metadata and metadata.error}); run log_producer first")
    lows, highs = {}, {}
    for partition in sorted(metadata.partitions):
        lows[partition], highs[partition] = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=KAFKA_TIMEOUT_SECONDS)
    return lows, highs


def start_positions(consumer, partitions, lows: dict[int, int], highs: dict[int, int], reset: str) -> dict[int, int]:
    """Where consumption of newly assigned partitions begins: the committed offset, else the reset policy."""
    committed = consumer.committed(partitions, timeout=KAFKA_TIMEOUT_SECONDS)
    starts = {}
    for tp in committed:
        if tp.offset >= 0:
            starts[tp.partition] = tp.offset
        else:
            starts[tp.partition] = lows.get(tp.partition, 0) if reset == "earliest" else highs.get(tp.partition, 0)
    return starts


def to_actions(messages, opts: ConsumerOptions, progress: Progress) -> tuple[list[dict], dict[int, int]]:
    """Bulk actions for a batch and the next offset to commit per partition."""
    actions, next_offsets = [], {}
    for msg in messages:
        partition, offset = msg.partition(), msg.offset()
        next_offsets[partition] = max(next_offsets.get(partition, 0), offset + 1)
        raw = msg.value() or b""
        try:
            record = records.parse(raw)
            actions.append({"_index": opts.index, "_id": record["event_id"], "_source": records.to_document(record)})
            progress.indexed += 1
        except records.InvalidRecord as invalid:
            _, timestamp_ms = msg.timestamp()
            document = records.deadletter_document(raw, invalid.reason, msg.topic(), partition, offset, timestamp_ms)
            actions.append({"_index": opts.deadletter_index, "_id": records.deadletter_id(msg.topic(), partition, offset),
                            "_source": document})
            progress.dead_lettered += 1
    return actions, next_offsets


def usable(messages) -> list:
    """The batch without error events; a fatal error fails the task."""
    from confluent_kafka import KafkaException

    good = []
    for msg in messages:
        error = msg.error()
        if error is None:
            good.append(msg)
        elif error.fatal():
            raise KafkaException(error)
        else:
            log.warning("consumer error (continuing): %s", error)
    return good


@dataclass
class Run:
    """Everything one consume_logs attempt works with."""

    consumer: object
    es: object
    opts: ConsumerOptions
    progress: Progress
    crash_after_first_bulk: bool
    assigned: set = field(default_factory=set)
    newly_assigned: list = field(default_factory=list)

    def on_assign(self, _consumer, partitions) -> None:
        self.newly_assigned.extend(partitions)  # resolved outside the callback, in the main loop

    def resolve_assignment(self) -> None:
        if not self.newly_assigned:
            return
        fresh, self.newly_assigned = self.newly_assigned, []
        starts = start_positions(self.consumer, fresh, self.progress.low_offsets, self.progress.end_offsets,
                                 self.opts.auto_offset_reset)
        for partition, offset in starts.items():
            self.assigned.add(partition)
            self.progress.advance(partition, offset)
        log.info("assigned partitions %s, starting at %s", sorted(starts), starts)

    def process(self, messages) -> None:
        from confluent_kafka import TopicPartition
        from elasticsearch import helpers

        actions, next_offsets = to_actions(messages, self.opts, self.progress)
        try:  # raise_on_error: one failed item fails the task before anything is committed
            helpers.bulk(self.es, actions, chunk_size=BATCH_SIZE, raise_on_error=True, raise_on_exception=True)
        except helpers.BulkIndexError as failure:
            raise AirflowException(f"bulk request {self.progress.batches + 1}: {len(failure.errors)} of {len(actions)} "
                                   f"documents failed, offsets not committed; first: {failure.errors[:1]}") from None
        self.progress.batches += 1
        if self.crash_after_first_bulk:
            raise SimulatedCrash(f"simulated crash (fail_after_index_once): {len(actions)} documents indexed, "
                                 "offsets NOT committed; the retry must re-index them under the same ids")
        committed = self.consumer.commit(
            offsets=[TopicPartition(self.opts.topic, p, o) for p, o in next_offsets.items()], asynchronous=False)
        failed = [tp for tp in committed or [] if tp.error is not None]
        if failed:
            raise AirflowException(f"committing offsets failed after indexing (the retry re-indexes them): {failed}")
        for partition, offset in next_offsets.items():
            self.progress.advance(partition, offset)
        log.info("batch %d: %d documents written, committed next offsets %s", self.progress.batches, len(actions),
                 dict(sorted(next_offsets.items())))

    def loop(self) -> None:
        started = time.monotonic()
        while True:
            pending = self.progress.pending()
            if not pending:
                return
            self.check_deadline(time.monotonic() - started, pending)
            # Asking for no more than what is left lets the last batch return without waiting out the timeout.
            wanted = max(1, min(BATCH_SIZE, self.progress.remaining()))
            messages = usable(self.consumer.consume(num_messages=wanted, timeout=1))
            self.resolve_assignment()
            if messages:
                self.progress.consumed += len(messages)
                self.process(messages)

    def check_deadline(self, waited: float, pending: dict[int, int]) -> None:
        if not self.assigned and waited > ASSIGNMENT_TIMEOUT_SECONDS:
            raise AirflowException(f"no partition of {self.opts.topic} was assigned to group {self.opts.group_id} "
                                   f"within {ASSIGNMENT_TIMEOUT_SECONDS} s (another member holding them?)")
        if waited > self.opts.max_seconds:
            raise AirflowException(
                f"max_seconds={self.opts.max_seconds} passed before reaching the end offsets "
                f"{self.progress.end_offsets}; partitions still behind (position, -1 = never assigned): {pending}; "
                f"consumed {self.progress.consumed} so far")


def ensure_index_template(es) -> None:
    """Idempotent; the sandbox puts the same template at bootstrap, this covers a bare cluster."""
    es.indices.put_index_template(name=records.TEMPLATE_NAME, **records.INDEX_TEMPLATE)


def consume(opts: ConsumerOptions, try_number: int, crash_once: bool) -> dict:
    from confluent_kafka import Consumer

    from weblogs.connections import elasticsearch_client, kafka_config

    es = elasticsearch_client()
    ensure_index_template(es)
    consumer = Consumer({**kafka_config(), "group.id": opts.group_id, "auto.offset.reset": opts.auto_offset_reset,
                         "enable.auto.commit": False})
    started = time.monotonic()
    try:
        lows, highs = end_offsets(consumer, opts.topic)
        log.info("end offsets of %s at start: %s (total %d); group %s, try %d", opts.topic, highs,
                 sum(highs.values()), opts.group_id, try_number)
        run = Run(consumer, es, opts, Progress(end_offsets=highs, low_offsets=lows),
                  crash_after_first_bulk=crash_once)
        consumer.subscribe([opts.topic], on_assign=run.on_assign)
        run.loop()
    finally:
        consumer.close()  # leaves the group now, so a retry's join is not held up by a ghost member
    es.indices.refresh(index=[opts.index, opts.deadletter_index], ignore_unavailable=True, allow_no_indices=True)
    es.close()
    progress, seconds = run.progress, round(time.monotonic() - started, 3)
    log.info("consumed %d, indexed %d, dead-lettered %d in %d batches, %.2f s (%.0f msg/s)", progress.consumed,
             progress.indexed, progress.dead_lettered, progress.batches, seconds, progress.consumed / max(seconds, 1e-6))
    return {"consumed": progress.consumed, "indexed": progress.indexed, "dead_lettered": progress.dead_lettered,
            "batches": progress.batches, "seconds": seconds, "topic": opts.topic, "index": opts.index,
            "deadletter_index": opts.deadletter_index, "group_id": opts.group_id,
            "end_offsets": {str(p): o for p, o in highs.items()}}


@dag(
    dag_id="log_consumer",
    description="Kafka topic AWS-MWAA-Production -> Elasticsearch index aws-mwaa-production",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one member per group: two runs would split the partitions between them
    tags=["sandbox", "pipeline", "kafka", "elasticsearch"],
    doc_md=__doc__,
)
def log_consumer():
    @task(retries=1, retry_delay=timedelta(seconds=5))
    def consume_logs(**context) -> dict:
        opts = ConsumerOptions.from_conf(context["dag_run"].conf)
        ti = context["ti"]
        crash_once = opts.fail_after_index_once and ti.try_number == 1 and ti.run_id not in _CRASHED_RUNS
        try:
            return consume(opts, ti.try_number, crash_once)
        except SimulatedCrash:
            _CRASHED_RUNS.add(ti.run_id)
            raise

    consume_logs()


log_consumer()
