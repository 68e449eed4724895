"""Clients built from the Airflow connections the sandbox seeds: kafka_default and elasticsearch_default.

Airflow, confluent-kafka and elasticsearch are imported inside the functions, so importing this
module stays cheap for the DAG processor.
"""

from __future__ import annotations

KAFKA_CONN_ID = "kafka_default"
ELASTICSEARCH_CONN_ID = "elasticsearch_default"
REQUEST_TIMEOUT_SECONDS = 60


def kafka_config(conn_id: str = KAFKA_CONN_ID) -> dict:
    """librdkafka settings: every key of the connection's extra, passed through as is."""
    from airflow.exceptions import AirflowException
    from airflow.hooks.base import BaseHook

    config = dict(BaseHook.get_connection(conn_id).extra_dejson)
    if not config.get("bootstrap.servers"):
        raise AirflowException(
            f"connection {conn_id} has no bootstrap.servers in its extra, "
            'e.g. {"bootstrap.servers": "127.0.0.1:9092"}')
    return config


def elasticsearch_url(schema: str | None, host: str | None, port: int | None) -> str:
    host = (host or "127.0.0.1").rstrip("/")
    if "://" in host:  # some connections carry the scheme in the host
        return f"{host}:{port}" if port and host.count(":") < 2 else host
    return f"{schema or 'http'}://{host}:{port or 9200}"


def elasticsearch_client(conn_id: str = ELASTICSEARCH_CONN_ID):
    """An elasticsearch.Elasticsearch for the connection: schema/host/port, optional login/password."""
    from airflow.hooks.base import BaseHook
    from elasticsearch import Elasticsearch

    conn = BaseHook.get_connection(conn_id)
    options: dict = {"request_timeout": REQUEST_TIMEOUT_SECONDS, "retry_on_timeout": True, "max_retries": 3}
    if conn.login:
        options["basic_auth"] = (conn.login, conn.password or "")
    return Elasticsearch(elasticsearch_url(conn.schema, conn.host, conn.port), **options)
