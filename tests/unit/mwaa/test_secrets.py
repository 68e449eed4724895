"""Secrets declared in mwaa.yaml: validation with key paths, and rendering."""

from __future__ import annotations

import datetime
import json

import pytest

from sandbox.errors import SpecError
from sandbox.mwaa.secrets import parse_secrets
from sandbox.mwaa.spec import parse_spec

VARIABLES = {"kafka.bootstrap_servers": "127.0.0.1:19092", "elasticsearch.url": "http://127.0.0.1:19200",
             "aws.endpoint_url": "http://127.0.0.1:14566", "airflow.url": "http://127.0.0.1:18080",
             "postgres.url": "postgresql://airflow@127.0.0.1:15432/airflow"}


def test_the_issue_format_renders_to_json_with_the_sandbox_endpoints():
    [secret] = parse_secrets({"MWAA_Secrets": {"Region": "ap-southeast-2", "Value": {
        "kafka_bootstrap_server": "{{ kafka.bootstrap_servers }}",
        "kafka_security_protocol": "PLAINTEXT",
        "elasticsearch_URL": "{{elasticsearch.url}}"}}})
    assert secret.name == "MWAA_Secrets" and secret.region == "ap-southeast-2"
    assert json.loads(secret.render(VARIABLES)) == {
        "kafka_bootstrap_server": "127.0.0.1:19092", "kafka_security_protocol": "PLAINTEXT",
        "elasticsearch_URL": "http://127.0.0.1:19200"}
    assert secret.render(VARIABLES) == (  # the flat form's SecretString, byte for byte as before
        '{"kafka_bootstrap_server": "127.0.0.1:19092", "kafka_security_protocol": "PLAINTEXT", '
        '"elasticsearch_URL": "http://127.0.0.1:19200"}')


def test_a_string_value_is_stored_as_is_with_placeholders_filled():
    [secret] = parse_secrets({"plain": {"Value": "url={{ airflow.url }}"}})
    assert secret.region is None
    assert secret.render(VARIABLES) == "url=http://127.0.0.1:18080"


@pytest.mark.parametrize("body, message", [
    ({"Value": {"x": "{{ kafka.nope }}"}}, "mwaa.yaml: Secrets.s.Value.x: unknown variable {{ kafka.nope }}"),
    ({"Region": "Sydney", "Value": "v"}, "mwaa.yaml: Secrets.s.Region: 'Sydney' is not an AWS region"),
    ({"Value": ["a"]}, "mwaa.yaml: Secrets.s.Value: must be a string or a mapping"),
    ({"Region": "us-east-1"}, "mwaa.yaml: Secrets.s: must be a mapping with Value"),
    ({"Value": "v", "Rotation": 1}, "mwaa.yaml: Secrets.s.Rotation: is not a known key"),
    ({"Value": {"extra": {"bootstrap.servers": "{{ kafka.brokers }}"}}},
     "mwaa.yaml: Secrets.s.Value.extra.bootstrap.servers: unknown variable {{ kafka.brokers }}"),
    ({"Value": {"hosts": ["{{ airflow.url }}", "{{ nope.x }}"]}},
     "mwaa.yaml: Secrets.s.Value.hosts[1]: unknown variable {{ nope.x }}"),
    ({"Value": {"extra": {1: "a"}}}, "mwaa.yaml: Secrets.s.Value.extra.1: the key 1 is not a string"),
    ({"Value": {"extra": {None: "a"}}}, "mwaa.yaml: Secrets.s.Value.extra.None: the key None is not a string"),
    ({"Value": {"{{ airflow.url }}": "a"}},
     "mwaa.yaml: Secrets.s.Value.{{ airflow.url }}: placeholders are filled in string values only"),
    ({"Value": {"extra": {"since": datetime.date(2024, 1, 1)}}},
     "mwaa.yaml: Secrets.s.Value.extra.since: 2024-01-01 (date) is not a JSON value; quote it"),
    ({"Value": {"ratio": float("nan")}}, "mwaa.yaml: Secrets.s.Value.ratio: nan is not a JSON number"),
    ({"Value": {"blob": [b"\x00"]}}, "mwaa.yaml: Secrets.s.Value.blob[0]: b'\\x00' (bytes) is not a JSON value"),
])
def test_invalid_secrets_name_the_key_path(body, message):
    with pytest.raises(SpecError) as caught:
        parse_secrets({"s": body})
    assert caught.value.message.startswith(message)


def test_an_airflow_connection_with_a_nested_extra_round_trips_to_its_json_string():
    connection = {"conn_type": "kafka", "extra": {
        "bootstrap.servers": "{{ kafka.bootstrap_servers }}", "group.id": "g",
        "options": {"retries": 3, "acks": "all", "idempotent": True, "linger": 0.5, "none": None},
        "topics": ["logs", {"name": "dlq", "brokers": ["{{kafka.bootstrap_servers}}", "other:9092"]}]}}
    [secret] = parse_secrets({"airflow/connections/kafka_default": {"Value": connection}})
    rendered = json.loads(secret.render(VARIABLES))
    extra = rendered["extra"]
    assert extra["bootstrap.servers"] == "127.0.0.1:19092" and extra["group.id"] == "g"
    assert extra["options"] == {"retries": 3, "acks": "all", "idempotent": True, "linger": 0.5, "none": None}
    assert extra["topics"] == ["logs", {"name": "dlq", "brokers": ["127.0.0.1:19092", "other:9092"]}]
    assert rendered["conn_type"] == "kafka"
    assert secret.value == connection  # the declaration keeps its placeholders for the next up


def test_nested_values_read_from_mwaa_yaml():
    import yaml

    raw = yaml.safe_load(
        "Secrets:\n"
        "  airflow/connections/kafka_default:\n"
        "    Value:\n"
        "      conn_type: kafka\n"
        "      extra:\n"
        "        bootstrap.servers: \"{{ kafka.bootstrap_servers }}\"\n"
        "        group.id: g\n")
    [secret] = parse_spec(raw).secrets
    assert json.loads(secret.render(VARIABLES)) == {
        "conn_type": "kafka", "extra": {"bootstrap.servers": "127.0.0.1:19092", "group.id": "g"}}


def test_the_full_path_of_a_nested_unknown_placeholder_in_the_issue_shape():
    body = {"Value": {"conn_type": "kafka", "extra": {"bootstrap.servers": "{{ kafka.url }}"}}}
    with pytest.raises(SpecError) as caught:
        parse_secrets({"airflow/connections/kafka_default": body})
    assert caught.value.message.startswith(
        "mwaa.yaml: Secrets.airflow/connections/kafka_default.Value.extra.bootstrap.servers: "
        "unknown variable {{ kafka.url }}")
    assert "\n" not in caught.value.message


def test_spec_carries_parsed_secrets():
    spec = parse_spec({"Secrets": {"A": {"Value": "x"}, "B": {"Value": {"k": "v"}}}})
    assert [s.name for s in spec.secrets] == ["A", "B"]
