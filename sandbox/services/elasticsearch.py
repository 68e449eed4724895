"""Elasticsearch 8 (served by noida-db natively): URL and a cluster-health probe."""

from __future__ import annotations

from sandbox.probes import HttpJsonProbe
from sandbox.services import containers
from sandbox.services.base import Endpoint, Port
from sandbox.settings import Settings

NAME = "elasticsearch"
PORT = Port("elasticsearch_port", 9200)


def url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.elasticsearch_port}"


def endpoint(settings: Settings) -> Endpoint:
    return Endpoint(NAME, url(settings), "Elasticsearch 8 API, no auth")


def _healthy(body: dict) -> tuple[bool, str]:
    status = body.get("status")
    return status in ("green", "yellow"), f"cluster status {status}"


def probe(settings: Settings) -> HttpJsonProbe:
    return HttpJsonProbe(f"{url(settings)}/_cluster/health", _healthy)


def compose_services(inputs: containers.RenderInputs) -> dict[str, dict]:
    url = f"http://127.0.0.1:{PORT.container}/_cluster/health"
    service = {"image": inputs.images.elasticsearch, "ports": containers.published(inputs.settings, PORT)}
    if inputs.images.offline:
        service.update(volumes=["elasticsearch-data:/data"],
                       command=["noida-db", "start", "--data-dir", "/data", "--host", "0.0.0.0", "--only",
                                "elasticsearch", "--elasticsearch-port", str(PORT.container)],
                       healthcheck=containers.health(["CMD", "python", "-c", containers.HTTP_CHECK, url]))
        return {NAME: service}
    service.update(volumes=["elasticsearch-data:/usr/share/elasticsearch/data"],
                   environment={"discovery.type": "single-node", "xpack.security.enabled": "false",
                                "ES_JAVA_OPTS": "-Xms512m -Xmx512m"},
                   healthcheck=containers.health(["CMD", "curl", "-fsS", url], interval="5s"))
    return {NAME: service}
