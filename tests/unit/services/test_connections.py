"""The seeded connections have the shapes the official providers' hooks read (apache-kafka 1.4.1,
elasticsearch 5.4.1, amazon 8.24.0, the versions Airflow 2.9.2's constraints pin), with the
sandbox's current addresses, and no setting that would make a buggy consumer look correct."""

from __future__ import annotations

import json
from urllib.parse import urlunparse

import pytest

from sandbox.services import airflow, aws, connections, elasticsearch, kafka
from sandbox.settings import load_settings

# What Connection.from_json (Airflow 2.9) accepts besides conn_type.
CONNECTION_FIELDS = {"conn_type", "description", "host", "login", "password", "schema", "port", "extra"}


@pytest.fixture
def settings(project):
    return load_settings(project, environ={"SANDBOX_KAFKA_PORT": "19092", "SANDBOX_ELASTICSEARCH_PORT": "19200",
                                           "SANDBOX_AWS_PORT": "14566"})


@pytest.fixture
def seeded(settings) -> dict[str, dict]:
    return {name.removeprefix("AIRFLOW_CONN_").lower(): json.loads(value)
            for name, value in airflow.connections(settings).items()}


def test_the_three_connections_are_seeded_in_airflows_json_form(seeded):
    assert set(seeded) == {"kafka_default", "elasticsearch_default", "aws_default"}
    for body in seeded.values():
        assert set(body) <= CONNECTION_FIELDS


def test_kafka_default_gives_the_providers_consumer_a_group(seeded, settings):
    """KafkaConsumerHook passes the extra to librdkafka's Consumer, which refuses one without
    group.id ('group.id must be set'); KafkaBaseHook needs bootstrap.servers."""
    extra = seeded["kafka_default"]["extra"]
    assert seeded["kafka_default"]["conn_type"] == "kafka"
    assert extra == {"bootstrap.servers": kafka.bootstrap_servers(settings),
                     "group.id": connections.SEEDED_GROUP_ID}


@pytest.mark.parametrize("choice", ["auto.offset.reset", "enable.auto.commit", "enable.auto.offset.store",
                                    "isolation.level"])
def test_kafka_default_leaves_delivery_choices_to_the_consumer(seeded, choice):
    """A consumer that relies on one of these must say so itself: a seeded `earliest` would hide
    a `latest` bug the fresh-group scenario exists to catch."""
    assert choice not in seeded["kafka_default"]["extra"]


def test_elasticsearch_default_is_the_url_elasticsearch_sql_hook_builds(seeded, settings):
    """ElasticsearchSQLHook: urlunparse((schema or 'http', 'host:port', '/', ...)); a scheme in
    host would make 'http://http://...'."""
    conn = seeded["elasticsearch_default"]
    assert conn["conn_type"] == "elasticsearch" and "://" not in conn["host"]
    built = urlunparse((conn.get("schema") or "http", f"{conn['host']}:{conn['port']}", "/", None, None, None))
    assert built == elasticsearch.url(settings) + "/"


def test_aws_default_points_the_amazon_hooks_at_the_emulator(seeded, settings):
    """AwsConnectionWrapper reads endpoint_url and region_name from the extra; no keys in the
    connection, so credentials come from the environment as the execution role's do on MWAA."""
    conn = seeded["aws_default"]
    assert conn == {"conn_type": "aws", "extra": {"endpoint_url": aws.url(settings),
                                                  "region_name": settings.aws_region}}


def test_on_the_compose_network_the_connections_name_the_services(settings):
    reach = airflow.container_placement(settings).reach
    found = {k: json.loads(v) for k, v in airflow.connections(settings, reach).items()}
    assert found["AIRFLOW_CONN_KAFKA_DEFAULT"]["extra"]["bootstrap.servers"] == reach.kafka_bootstrap
    assert found["AIRFLOW_CONN_KAFKA_DEFAULT"]["extra"]["group.id"] == connections.SEEDED_GROUP_ID
    assert found["AIRFLOW_CONN_ELASTICSEARCH_DEFAULT"]["host"] == elasticsearch.NAME
    assert found["AIRFLOW_CONN_AWS_DEFAULT"]["extra"]["endpoint_url"] == reach.aws_url
