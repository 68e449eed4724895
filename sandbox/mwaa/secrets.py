"""Secrets Manager secrets declared in mwaa.yaml, for DAGs that read their endpoints with boto3.

    Secrets:
      MWAA_Secrets:
        Region: ap-southeast-2
        Value:
          kafka_bootstrap_server: "{{ kafka.bootstrap_servers }}"
          elasticsearch_URL: "{{ elasticsearch.url }}"

A Value mapping is stored as a JSON string (what `json.loads(SecretString)` in DAG code expects);
a plain string is stored as is. `{{ service.field }}` names a sandbox endpoint.
"""

from __future__ import annotations

import json
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
        def fill(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: variables[m.group(1)], text)

        if isinstance(self.value, str):
            return fill(self.value)
        return json.dumps({k: fill(v) if isinstance(v, str) else v for k, v in self.value.items()})


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
        _check_placeholders(path + ".Value", value)
        secrets.append(SecretSpec(name, region, value, str(body.get("Description", ""))))
    return secrets


def _check_placeholders(path: str, value: str | dict) -> None:
    items = value.items() if isinstance(value, dict) else [("", value)]
    for key, text in items:
        if isinstance(text, (dict, list)):
            raise SpecError(f"mwaa.yaml: {path}.{key}: nested values are not supported; use a string")
        for found in _PLACEHOLDER.findall(text if isinstance(text, str) else ""):
            if found not in VARIABLES:
                where = f"{path}.{key}" if key else path
                raise SpecError(f"mwaa.yaml: {where}: unknown variable {{{{ {found} }}}} "
                                f"(known: {', '.join(VARIABLES)})")
