"""What every service's compose section shares: the network, the health-check shape, ports
published on the host's address only, and the sandbox sidecars' settings and mounts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sandbox.services.base import Port
from sandbox.settings import Settings, as_env

NETWORK = "sandbox"
AIRFLOW_HOME = "/opt/airflow"
# Each Airflow component's output is also written here, for the log shipper (as natively).
COMPONENT_LOGS = "/opt/airflow/component-logs"
HTTP_CHECK = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)"


@dataclass(frozen=True)
class RenderInputs:
    settings: Settings
    images: Any  # images.Images: names of the images, and whether they were built offline
    project_name: str
    airflow_env: Mapping[str, str]  # Airflow's variables as seen from a container
    admin_password: str
    plugins_dir: str | None = None  # host folder mounted as Airflow's plugins folder
    config_dir: str | None = None  # host folder mounted as $AIRFLOW_HOME/config (Celery's config module)
    extra_env: Mapping[str, str] = field(default_factory=dict)


def health(test: list[str], *, interval: str = "3s", retries: int = 100, start_period: str = "5s") -> dict:
    return {"test": test, "interval": interval, "timeout": "10s", "retries": retries, "start_period": start_period}


def published(settings: Settings, port: Port) -> list[str]:
    return [f"{settings.host}:{port.host_port(settings)}:{port.container}"]


def sidecar_env(settings: Settings, aws_port: int) -> dict[str, str]:
    """A sandbox helper's settings, pinned as natively, with the emulator reached by its name."""
    env = {k: v for k, v in as_env(settings).items() if k not in ("SANDBOX_MWAA_DATA_DIR", "SANDBOX_CACHE_DIR")}
    env.update({"SANDBOX_HOST": "aws", "SANDBOX_AWS_PORT": str(aws_port), "PYTHONUNBUFFERED": "1"})
    return env


def project_mounts(settings: Settings) -> list[str]:
    return [f"{settings.project_dir}:/project:ro", f"{settings.state_dir}:/project/.sandbox"]
