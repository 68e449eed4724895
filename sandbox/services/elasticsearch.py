"""Elasticsearch 8 (served by noida-db natively): URL and a cluster-health probe."""

from __future__ import annotations

from sandbox.probes import HttpJsonProbe
from sandbox.services.base import Endpoint
from sandbox.settings import Settings

NAME = "elasticsearch"


def url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.elasticsearch_port}"


def endpoint(settings: Settings) -> Endpoint:
    return Endpoint(NAME, url(settings), "Elasticsearch 8 API, no auth")


def _healthy(body: dict) -> tuple[bool, str]:
    status = body.get("status")
    return status in ("green", "yellow"), f"cluster status {status}"


def probe(settings: Settings) -> HttpJsonProbe:
    return HttpJsonProbe(f"{url(settings)}/_cluster/health", _healthy)
