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



def _share_pages_with_the_pool(**_):
    """A memory saving, nothing MWAA would see: the pool's processes fork from the worker's main
    process after this; objects frozen here are never visited by their garbage collector, so the
    pages holding them stay shared instead of being copied into each pool process."""
    import gc

    gc.collect()
    gc.freeze()


try:
    from celery.signals import worker_init

    worker_init.connect(_share_pages_with_the_pool, weak=False)
except ImportError:  # a component without Celery imports this module too
    pass
