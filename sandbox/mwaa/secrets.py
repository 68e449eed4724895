"""Secrets Manager secrets declared in mwaa.yaml, for DAGs that read their endpoints with boto3.

    Secrets:
      MWAA_Secrets:
        Region: ap-southeast-2
        Value:
          kafka_bootstrap_server: "{{ kafka.bootstrap_servers }}"
          elasticsearch_URL: "{{ elasticsearch.url }}"

A Value mapping is stored as one JSON document (what `json.loads(SecretString)` in DAG code and
Airflow's SecretsManagerBackend expect), with objects and lists at any depth, e.g. an Airflow
connection `airflow/connections/kafka_default` with `extra: {bootstrap.servers: ...}`; a plain
string is stored as is. `{{ service.field }}` names a sandbox endpoint and is filled in string
values only (never in keys).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from sandbox.errors import SpecError

VARIABLES = ("kafka.bootstrap_servers", "elasticsearch.url", "aws.endpoint_url", "airflow.url",
             "postgres.url")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]+\.[A-Za-z_]+)\s*\}\}")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")


@dataclass(frozen=True)
class SecretSpec:
    name: str
    region: str | None  # None: the sandbox's aws_region
    value: str | dict[str, Any]
    description: str = ""

    def render(self, variables: Mapping[str, str]) -> str:
        """The SecretString with every placeholder replaced by the running sandbox's value."""
        if isinstance(self.value, str):
            return _fill(self.value, variables)
        return json.dumps(_fill(self.value, variables), allow_nan=False)


def _fill(value: Any, variables: Mapping[str, str]) -> Any:
    """Placeholders filled in every string, at any depth; keys and other scalars as they are."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: variables[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _fill(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, variables) for v in value]
    return value


def parse_secrets(raw: Mapping[str, Any]) -> list[SecretSpec]:
    secrets = []
    for name, body in raw.items():
        path = f"Secrets.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise SpecError(f"mwaa.yaml: {path}: not a valid secret name (letters, digits, /_+=.@-)")
        if not isinstance(body, dict) or "Value" not in body:
            raise SpecError(f"mwaa.yaml: {path}: must be a mapping with Value (and optionally Region)")
        unknown = set(body) - {"Value", "Region", "Description"}
        if unknown:
            raise SpecError(f"mwaa.yaml: {path}.{sorted(unknown)[0]}: is not a known key (Value, Region, Description)")
        region = body.get("Region")
        if region is not None and (not isinstance(region, str) or not _REGION.match(region)):
            raise SpecError(f"mwaa.yaml: {path}.Region: {region!r} is not an AWS region name like ap-southeast-2")
        value = body["Value"]
        if not isinstance(value, (str, dict)):
            raise SpecError(f"mwaa.yaml: {path}.Value: must be a string or a mapping of keys to values")
        _check_value(path + ".Value", value)
        secrets.append(SecretSpec(name, region, value, str(body.get("Description", ""))))
    return secrets


def _check_value(path: str, value: Any) -> None:
    """Everything below Value must become JSON as written: string keys, JSON scalars (YAML's
    dates, binary and .nan are not), placeholders known and in string values only."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _fail(f"{path}.{key}", f"the key {key!r} is not a string; JSON keys are strings: quote it")
            if _PLACEHOLDER.search(key):
                raise _fail(f"{path}.{key}", "placeholders are filled in string values only, not in keys")
            _check_value(f"{path}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_value(f"{path}[{index}]", item)
    elif isinstance(value, str):
        for found in _PLACEHOLDER.findall(value):
            if found not in VARIABLES:
                raise _fail(path, f"unknown variable {{{{ {found} }}}} (known: {', '.join(VARIABLES)})")
    elif isinstance(value, float) and not math.isfinite(value):
        raise _fail(path, f"{value!r} is not a JSON number; quote it to store a string")
    elif value is not None and not isinstance(value, (bool, int, float)):
        raise _fail(path, f"{value} ({type(value).__name__}) is not a JSON value; quote it to store a string")


def _fail(path: str, problem: str) -> SpecError:
    return SpecError(f"mwaa.yaml: {path}: {problem}")
