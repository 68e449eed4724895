"""The endpoint values mwaa.yaml may reference as {{ service.field }} (secrets, later more)."""

from __future__ import annotations

from sandbox.services import airflow, aws, elasticsearch, kafka, postgres
from sandbox.settings import Settings


def template_variables(settings: Settings) -> dict[str, str]:
    return {
        "kafka.bootstrap_servers": kafka.bootstrap_servers(settings),
        "elasticsearch.url": elasticsearch.url(settings),
        "aws.endpoint_url": aws.url(settings),
        "airflow.url": airflow.url(settings),
        "postgres.url": postgres.endpoint(settings).url,
    }
