"""The Airflow connections the sandbox seeds, in the shapes the official providers' hooks read.

MWAA seeds none of these: they exist so DAGs find the sandbox's endpoints without hosts in code.
Each carries only what a provider needs to reach the service, never a behaviour choice a
pipeline should make for itself (offset reset, commit mode): a default there would hide bugs.
"""

from __future__ import annotations

import json

KAFKA_CONN_ID = "kafka_default"
ELASTICSEARCH_CONN_ID = "elasticsearch_default"
AWS_CONN_ID = "aws_default"
# The apache-kafka provider's consumers (ConsumeFromTopicOperator, KafkaConsumerHook) build a
# librdkafka Consumer from the extra alone, and librdkafka refuses one without a group.id. Named
# after the connection so the broker's group list says where a group came from.
SEEDED_GROUP_ID = "sandbox-kafka_default"


def kafka(bootstrap_servers: str) -> dict:
    """KafkaBaseHook: the extra is the librdkafka config, passed as is to the Producer, the
    Consumer and the AdminClient (producers and admin clients ignore group.id with a warning)."""
    return {"conn_type": "kafka",
            "extra": {"bootstrap.servers": bootstrap_servers, "group.id": SEEDED_GROUP_ID}}


def elasticsearch(host: str, port: int) -> dict:
    """ElasticsearchSQLHook: host without a scheme, port, and the scheme in `schema`."""
    return {"conn_type": "elasticsearch", "host": host, "port": port, "schema": "http"}


def aws(endpoint_url: str, region: str) -> dict:
    """AwsBaseHook: endpoint_url and region_name in the extra; credentials come from the
    AWS_* variables, as the execution role's do on MWAA."""
    return {"conn_type": "aws", "extra": {"endpoint_url": endpoint_url, "region_name": region}}


def as_variables(connections: dict[str, dict]) -> dict[str, str]:
    """{conn_id: connection} -> AIRFLOW_CONN_<ID> variables holding Airflow's JSON form."""
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(body) for conn_id, body in connections.items()}
