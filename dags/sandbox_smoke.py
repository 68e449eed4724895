"""sandbox_smoke: one task that proves the environment runs tasks.

Expected outcome: a manual run succeeds and its task logs the MWAA execution environment
(Amazon_MWAA_292) and the Airflow version (2.9.2).
"""

from __future__ import annotations

import os

import pendulum
from airflow.decorators import dag, task


@dag(
    dag_id="sandbox_smoke",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["sandbox"],
)
def sandbox_smoke():
    @task
    def report_environment() -> dict:
        import airflow

        info = {"execution_env": os.environ.get("AWS_EXECUTION_ENV"), "airflow": airflow.__version__}
        print(f"environment: {info}")
        return info

    report_environment()


sandbox_smoke()
