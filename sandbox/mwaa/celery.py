"""Celery over SQS, as MWAA configures it for Airflow 2.9.2 (amazon-mwaa-docker-images,
images/airflow/2.9.2/python/mwaa/config/{airflow,celery,sqs}.py, and MWAA's user guide):

- executor CeleryExecutor; broker `sqs://<the SQS endpoint's host>`; results in the metadata DB;
- Airflow's default Celery config plus broker_transport_options.predefined_queues = {<queue>: url}
  (kombu never creates or lists queues), region, is_secure;
- the queue named in operators.default_queue (MWAA's own queue: `airflow-celery-*`, its
  execution-role policy's resource), created by the service before the environment starts;
- worker_enable_remote_control False (SQS has no fanout), sync_parallelism 1 (MWAA's default),
  visibility_timeout 43200; `airflow celery worker` started with no flags.
"""

from __future__ import annotations

from pathlib import Path

# The Celery config module Airflow imports (celery.celery_config_options): predefined_queues is a
# mapping, which AIRFLOW__* variables cannot express. Written into $AIRFLOW_HOME/config, which
# Airflow puts on sys.path; it reads the queue from the variables below.
CONFIG_MODULE = "sandbox_celery_config"
HOSTNAME_MODULE = "sandbox_hostname"
# What goes into $AIRFLOW_HOME/config (both runtimes).
CONFIG_FILES = tuple(Path(__file__).with_name("airflow_home") / f"{m}.py" for m in (CONFIG_MODULE, HOSTNAME_MODULE))
QUEUE_URL_VAR = "SANDBOX_SQS_QUEUE_URL"
WORKER_NAME_VAR = "SANDBOX_WORKER_NAME"  # each local worker's own TaskInstance.hostname
VISIBILITY_TIMEOUT = 43200


def queue_name(env_name: str) -> str:
    return f"airflow-celery-{env_name}"


def queue_url(aws_url: str, account_id: str, env_name: str) -> str:
    """The queue's URL at the emulator (path-style, as moto and LocalStack answer it)."""
    return f"{aws_url.rstrip('/')}/{account_id}/{queue_name(env_name)}"


def broker_url(aws_url: str) -> str:
    """MWAA's broker URL: the SQS endpoint with its scheme replaced by `sqs`."""
    return "sqs://" + aws_url.split("://", 1)[-1].rstrip("/")


def options(env_name: str, aws_url: str, db_url: str, region: str) -> dict[str, str]:
    """The Airflow options MWAA sets for Celery (section.key -> value)."""
    return {
        "core.executor": "CeleryExecutor",
        "celery.broker_url": broker_url(aws_url),
        "celery.result_backend": "db+" + db_url.replace("+psycopg2", ""),
        "celery.celery_config_options": f"{CONFIG_MODULE}.CELERY_CONFIG",
        "celery.worker_enable_remote_control": "False",
        "operators.default_queue": queue_name(env_name),
        "celery_broker_transport_options.visibility_timeout": str(VISIBILITY_TIMEOUT),
        # the emulator answers plain http; MWAA's SQS endpoint is https
        "celery_broker_transport_options.is_secure": str(aws_url.startswith("https://")),
        "celery_broker_transport_options.region": region,
        "core.hostname_callable": f"{HOSTNAME_MODULE}.get",
    }


# MWAA's defaults for Celery that a user may override.
DEFAULTS = {"celery.sync_parallelism": "1"}
