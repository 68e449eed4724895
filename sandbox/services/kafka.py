"""Kafka (served by noida-db natively): bootstrap address and a metadata probe."""

from __future__ import annotations

from sandbox.probes import CallableProbe
from sandbox.services.base import Endpoint
from sandbox.settings import Settings

NAME = "kafka"
# The reference pipeline's topic, created at `up` so a consumer can start before any producer.
REFERENCE_TOPIC = "AWS-MWAA-Production"
REFERENCE_PARTITIONS = 3


def bootstrap_servers(settings: Settings) -> str:
    return f"{settings.host}:{settings.kafka_port}"


def endpoint(settings: Settings) -> Endpoint:
    return Endpoint(NAME, bootstrap_servers(settings), "bootstrap servers (PLAINTEXT)")


def fetch_metadata(settings: Settings) -> list[str]:
    """Topics known to the broker: a real Kafka Metadata request."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers(settings),
                             request_timeout_ms=3000, bootstrap_timeout_ms=3000)
    try:
        return sorted(consumer.topics())
    finally:
        consumer.close()


def probe(settings: Settings) -> CallableProbe:
    return CallableProbe(f"Kafka metadata from {bootstrap_servers(settings)}",
                         lambda: fetch_metadata(settings))


def ensure_topics(settings: Settings, topics: dict[str, int] | None = None) -> list[str]:
    """Create missing topics (name -> partitions); returns the ones created."""
    from kafka.admin import KafkaAdminClient, NewTopic

    wanted = topics or {REFERENCE_TOPIC: REFERENCE_PARTITIONS}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers(settings), request_timeout_ms=10000)
    try:
        missing = [name for name in wanted if name not in set(admin.list_topics())]
        if missing:
            admin.create_topics([NewTopic(n, wanted[n], 1) for n in missing])
        return missing
    finally:
        admin.close()
