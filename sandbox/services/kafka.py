"""Kafka (served by noida-db natively): bootstrap address and a metadata probe."""

from __future__ import annotations

import ipaddress

from sandbox.probes import CallableProbe
from sandbox.services import containers
from sandbox.services.base import Endpoint, Port
from sandbox.settings import Settings

NAME = "kafka"
PORT = Port("kafka_port", 9092)
KAFKA_IMAGE_HOME = "/opt/kafka"  # the registry image's installation
_KAFKA_CHECK = ("import sys; from kafka import KafkaConsumer; "
                "KafkaConsumer(bootstrap_servers=sys.argv[1], request_timeout_ms=3000).topics()")
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


# -- the compose service --------------------------------------------------------------------------
def container_address(settings: Settings) -> str:
    """The broker's fixed address on the compose network: it advertises this literal address,
    which containers reach directly and the host reaches over the bridge."""
    return str(ipaddress.ip_network(settings.compose_subnet)[10])


def container_bootstrap(settings: Settings) -> str:
    return f"{container_address(settings)}:{PORT.container}"


def compose_services(inputs: containers.RenderInputs) -> dict[str, dict]:
    s, address = inputs.settings, container_address(inputs.settings)
    service = {"image": inputs.images.kafka, "ports": containers.published(s, PORT),
               "networks": {containers.NETWORK: {"ipv4_address": address}}}
    bootstrap = container_bootstrap(s)
    if inputs.images.offline:
        service.update(volumes=["kafka-data:/data"],
                       command=["noida-db", "start", "--data-dir", "/data", "--host", address, "--only", "kafka",
                                "--kafka-port", str(PORT.container)],
                       healthcheck=containers.health(["CMD", "python", "-c", _KAFKA_CHECK, bootstrap]))
        return {NAME: service}
    # root: a fresh named volume is root-owned, and the image's own user could not write its logs
    service.update(volumes=["kafka-data:/var/lib/kafka/data"], user="0:0", environment={
        "KAFKA_NODE_ID": "1", "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://:{PORT.container},CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{bootstrap}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1", "KAFKA_LOG_DIRS": "/var/lib/kafka/data"},
        healthcheck=containers.health(["CMD", f"{KAFKA_IMAGE_HOME}/bin/kafka-broker-api-versions.sh",
                                       "--bootstrap-server", bootstrap], interval="5s"))
    return {NAME: service}
