"""The endpoint values mwaa.yaml may reference as {{ service.field }} (secrets, later more).

They are the addresses as the DAGs see them: the host's on the native runtime, the compose
network's in containers (a task reading a secret must be able to connect to what it names).
"""

from __future__ import annotations

from sandbox.services import airflow
from sandbox.services.airflow import Addresses
from sandbox.settings import Settings


def template_variables(settings: Settings, reach: Addresses | None = None,
                       airflow_url: str | None = None) -> dict[str, str]:
    reach = reach or airflow.host_addresses(settings)
    return {
        "kafka.bootstrap_servers": reach.kafka_bootstrap,
        "elasticsearch.url": f"http://{reach.es_host}:{reach.es_port}",
        "aws.endpoint_url": reach.aws_url,
        "airflow.url": airflow_url or airflow.url(settings),
        "postgres.url": reach.db_url.replace("postgresql+psycopg2://", "postgresql://"),
    }
