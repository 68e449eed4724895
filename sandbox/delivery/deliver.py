"""Delivery the MWAA way, for `sandbox e2e`: deploy the project to the bucket, then have the
running sync loop bring it into Airflow's dags folder (nudged, so nobody waits 30 s)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sandbox.delivery import s3sync
from sandbox.delivery.deploy import DeployOptions, DeployReport, deploy_project
from sandbox.errors import NotRunningError
from sandbox.settings import Settings


@dataclass(frozen=True)
class Delivered:
    report: DeployReport
    copied: list[str]  # paths inside the dags folder that this delivery changed
    deleted: list[str]
    status: dict  # the sync pass that brought them in


def deliver(settings: Settings, timeout: float, options: DeployOptions = DeployOptions()) -> Delivered:
    report = deploy_project(settings, options)
    deployed_at = time.time()
    path = s3sync.status_file(settings)
    if not s3sync.request_pass(path):
        raise NotRunningError("the S3 -> dags sync (dagsync) is not running",
                              hint="restart the sandbox: `sandbox down && sandbox up`")
    status = s3sync.wait_for_pass(path, deployed_at, timeout)
    # What changed in the dags folder: what this deploy changed in the bucket, plus what the
    # awaited pass brought in (objects deployed earlier and not synced yet).
    copied = sorted(set(report.dag_relative(report.uploaded)) | set(status.get("last_copied") or []))
    deleted = sorted(set(report.dag_relative(report.deleted)) | set(status.get("last_deleted") or []))
    return Delivered(report, copied, deleted, status)
