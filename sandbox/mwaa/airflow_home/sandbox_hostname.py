"""Written into $AIRFLOW_HOME/config by mwaa-sandbox (core.hostname_callable): each local Celery
worker reports its own hostname, as MWAA's workers are separate containers."""

import os
import socket


def get() -> str:
    worker = os.environ.get("SANDBOX_WORKER_NAME")
    return f"{worker}.{socket.getfqdn()}" if worker else socket.getfqdn()
