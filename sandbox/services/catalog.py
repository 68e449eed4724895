"""What all the services share, in one place: the ports they publish, by service name."""

from __future__ import annotations

from sandbox.services import airflow, aws, elasticsearch, kafka, postgres
from sandbox.services.base import Port

PUBLISHED: dict[str, Port] = {m.NAME: m.PORT for m in (postgres, kafka, elasticsearch, aws, airflow)}
