"""The compose file, rendered by a pure function from the settings and what `up` prepared.

Each service module describes its own compose service(s) (image, command, healthcheck, ports on
127.0.0.1, volumes); this module puts them together with what every service shares. The runtime
only writes the result and calls `docker compose`.
"""

from __future__ import annotations

import yaml

from sandbox.services import aws, dagsync, elasticsearch, kafka, logship, postgres
from sandbox.services import airflow as airflow_service
from sandbox.services.containers import NETWORK, RenderInputs
from sandbox.settings import Settings

__all__ = ["RenderInputs", "render", "to_yaml", "INFRA", "NETWORK"]

# In dependency order: the file lists them so, and `up` starts them so.
SERVICE_MODULES = (postgres, kafka, elasticsearch, aws, dagsync, airflow_service, logship)
INFRA = airflow_service.INFRA
VOLUMES = ("postgres-data", "kafka-data", "elasticsearch-data", "dags", "airflow-logs", "component-logs")


def service_names(settings: Settings) -> list[str]:
    """Every compose service, in start order (the Airflow components from mwaa.yaml)."""
    return [*INFRA, dagsync.NAME, "airflow-init", *airflow_service.compose_names(settings), logship.NAME]


def render(inputs: RenderInputs) -> dict:
    s = inputs.settings
    services: dict[str, dict] = {}
    for module in SERVICE_MODULES:
        services.update(module.compose_services(inputs))
    for service in services.values():
        service.setdefault("networks", [NETWORK])
        service["ulimits"] = {"nofile": {"soft": s.ulimit_nofile, "hard": s.ulimit_nofile}}
        service.setdefault("restart", "unless-stopped")
        # tini as PID 1: moto and noida-db ignore SIGTERM as PID 1 (the kernel drops signals a
        # PID 1 has no handler for), which made every `down` wait out its timeout
        service["init"] = True
    return {
        "name": inputs.project_name,
        "services": services,
        "networks": {NETWORK: {"ipam": {"config": [{"subnet": s.compose_subnet}]}}},
        "volumes": {v: {} for v in VOLUMES},
    }


def to_yaml(doc: dict) -> str:
    """YAML with every `$` doubled: compose would otherwise interpolate values from our environment."""
    return yaml.safe_dump(_escape(doc), sort_keys=False, width=120)


def _escape(value):
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value
