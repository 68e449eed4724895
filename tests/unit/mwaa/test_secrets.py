"""Secrets declared in mwaa.yaml: validation with key paths, and rendering."""

from __future__ import annotations

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
    ({"Value": {"nested": {"a": 1}}}, "mwaa.yaml: Secrets.s.Value.nested: nested values are not supported"),
])
def test_invalid_secrets_name_the_key_path(body, message):
    with pytest.raises(SpecError) as caught:
        parse_secrets({"s": body})
    assert caught.value.message.startswith(message)


def test_spec_carries_parsed_secrets():
    spec = parse_spec({"Secrets": {"A": {"Value": "x"}, "B": {"Value": {"k": "v"}}}})
    assert [s.name for s in spec.secrets] == ["A", "B"]
