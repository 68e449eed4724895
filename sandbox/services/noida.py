"""noida-db: one binary speaking the Kafka and Elasticsearch 8 wire protocols (native runtime).

We start the binary itself: its Python wrapper does not pass SIGTERM on.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sandbox.probes import CallableProbe
from sandbox.proc import Command
from sandbox.services import elasticsearch, kafka
from sandbox.services.base import ProcessSpec
from sandbox.settings import Settings

NAME = "noida"


def binary() -> Path:
    import noida_db

    path = Path(noida_db.__file__).parent / "noida-db"
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:  # wheels do not always keep the executable bit
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def process(settings: Settings) -> ProcessSpec:
    cmd = Command.of(
        binary(), "start", "--data-dir", settings.state_dir / "data" / "noida",
        "--host", settings.host, "--only", "kafka,elasticsearch",
        "--kafka-port", settings.kafka_port, "--elasticsearch-port", settings.elasticsearch_port,
        env=dict(os.environ),
    )
    es_probe = elasticsearch.probe(settings)
    kafka_probe = kafka.probe(settings)

    def both_ready() -> None:
        for probe in (es_probe, kafka_probe):
            outcome = probe.check()
            if not outcome.ready:
                raise RuntimeError(f"{probe.description}: {outcome.detail}")

    probe = CallableProbe(f"{kafka_probe.description} and {es_probe.description}", both_ready)
    return ProcessSpec(NAME, cmd, probe, (kafka.NAME, elasticsearch.NAME))
