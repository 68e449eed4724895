"""Written into $AIRFLOW_HOME/config by mwaa-sandbox: Airflow's default Celery config plus the
SQS transport options MWAA adds (a predefined queue, so kombu never creates or lists queues)."""

import copy
import os

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

_url = os.environ.get("SANDBOX_SQS_QUEUE_URL", "")

CELERY_CONFIG = copy.deepcopy(DEFAULT_CELERY_CONFIG)
CELERY_CONFIG["broker_transport_options"] = {
    **CELERY_CONFIG.get("broker_transport_options", {}),
    "predefined_queues": {_url.rsplit("/", 1)[-1]: {"url": _url}},
}

