"""log_producer: publish synthetic web access logs to the Kafka topic AWS-MWAA-Production.

Creates the topic (3 partitions) if it is missing, then produces `count` deterministic JSON
records (keyed by event_id) with an idempotent producer (acks=all), followed by `malformed`
broken payloads for the consumer's dead-letter path.

Run conf (all optional): count (15000), seed (derived from the run_id and logged), start (ISO-8601;
the run's logical date floored to the minute), minutes (15), malformed (0), topic.

Expected outcome: the run succeeds only if the broker acknowledged every message; the task
produce_logs logs "acknowledged N of N" and returns the XCom
{"acknowledged": count, "malformed": malformed, "seed": seed, "start": iso, "topic": topic,
"partitions": 3, "seconds": s}. Any failed or unflushed delivery fails the task.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import pendulum
from airflow.decorators import dag, task
from airflow.exceptions import AirflowException

from weblogs import records
from weblogs.options import ProducerOptions

log = logging.getLogger("airflow.task")

FLUSH_TIMEOUT_SECONDS = 60
POLL_EVERY = 1000  # serve delivery callbacks regularly so the local queue never fills up


@dataclass
class Deliveries:
    """Delivery reports from the producer's callbacks, valid and malformed counted apart."""

    acknowledged: int = 0
    malformed_acknowledged: int = 0
    failures: list = field(default_factory=list)

    def callback(self, is_malformed: bool):
        def on_delivery(err, _msg):
            if err is not None:
                self.failures.append(str(err))
            elif is_malformed:
                self.malformed_acknowledged += 1
            else:
                self.acknowledged += 1

        return on_delivery


def ensure_topic(config: dict, topic: str) -> None:
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(config)
    future = admin.create_topics([NewTopic(topic, num_partitions=records.PARTITIONS, replication_factor=1)])[topic]
    try:
        future.result(timeout=30)
        log.info("created topic %s with %d partitions", topic, records.PARTITIONS)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
        partitions = admin.list_topics(topic, timeout=30).topics[topic].partitions
        log.info("topic %s already exists with %d partitions", topic, len(partitions))


def send(producer, topic: str, payloads, on_delivery) -> int:
    """produce() every (key, value); wait on the local queue instead of failing when it is full."""
    sent = 0
    for message_key, value in payloads:
        while True:
            try:
                producer.produce(topic, value=value, key=message_key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.5)
        sent += 1
        if sent % POLL_EVERY == 0:
            producer.poll(0)
    return sent


def produce(config: dict, opts: ProducerOptions) -> dict:
    from confluent_kafka import Producer

    producer = Producer({**config, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 20, "compression.type": "lz4"})
    deliveries = Deliveries()
    started = time.monotonic()
    valid = ((records.key(r), records.encode(r)) for r in records.generate(opts.count, opts.seed, opts.start, opts.minutes))
    sent = send(producer, opts.topic, valid, deliveries.callback(False))
    broken = ((f"malformed:{opts.seed}:{i}".encode(), raw) for i, raw in enumerate(records.malformed(opts.malformed, opts.seed)))
    sent_malformed = send(producer, opts.topic, broken, deliveries.callback(True))
    unflushed = producer.flush(FLUSH_TIMEOUT_SECONDS)
    seconds = round(time.monotonic() - started, 3)
    log.info("acknowledged %d of %d records and %d of %d malformed payloads in %.2f s (%.0f msg/s)",
             deliveries.acknowledged, sent, deliveries.malformed_acknowledged, sent_malformed, seconds,
             (sent + sent_malformed) / max(seconds, 1e-6))
    if deliveries.failures or unflushed:
        raise AirflowException(
            f"{len(deliveries.failures)} deliveries failed and {unflushed} messages were still unflushed after "
            f"{FLUSH_TIMEOUT_SECONDS} s; first errors: {deliveries.failures[:3]}")
    return {"acknowledged": deliveries.acknowledged, "malformed": deliveries.malformed_acknowledged,
            "seed": opts.seed, "start": records.format_timestamp(opts.start), "topic": opts.topic,
            "partitions": records.PARTITIONS, "seconds": seconds}


def options_for(context) -> ProducerOptions:
    """The same options in every task of a run: defaults derive from the run itself."""
    dag_run = context["dag_run"]
    return ProducerOptions.from_conf(dag_run.conf, dag_run.run_id, context["logical_date"])


@dag(
    dag_id="log_producer",
    description="Synthetic web access logs -> Kafka topic AWS-MWAA-Production",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["sandbox", "pipeline", "kafka"],
    doc_md=__doc__,
)
def log_producer():
    # Only produce_logs returns a dict: the e2e harness takes the first dict any task returned.
    @task
    def create_topic(**context) -> str:
        from weblogs.connections import kafka_config

        opts = options_for(context)  # validates the conf first, so a typo fails fast
        ensure_topic(kafka_config(), opts.topic)
        return opts.topic

    @task
    def produce_logs(**context) -> dict:
        from weblogs.connections import kafka_config

        opts = options_for(context)
        conf = context["dag_run"].conf or {}
        log.info("seed %d (%s), start %s, %d minutes, %d records + %d malformed -> %s", opts.seed,
                 "from conf" if "seed" in conf else f"derived from run_id {context['dag_run'].run_id}",
                 records.format_timestamp(opts.start), opts.minutes, opts.count, opts.malformed, opts.topic)
        return produce(kafka_config(), opts)

    create_topic() >> produce_logs()


log_producer()
