"""The AWS emulator: moto server on LocalStack's port, and the resources mwaa.yaml names.

moto keeps nothing across a restart, so `bootstrap` recreates the resources each `up`, and
aws_state replays what the last `down` kept (object versions, log events, secrets).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from sandbox.mwaa import celery
from sandbox.mwaa.logs import log_groups
from sandbox.probes import CallableProbe
from sandbox.proc import Command
from sandbox.services import containers
from sandbox.services.base import Endpoint, Port, ProcessSpec
from sandbox.settings import Settings

NAME = "aws"
PORT = Port("aws_port", 4566)  # LocalStack's
ACCESS_KEY = "test"  # the emulator accepts any credentials; these are LocalStack's customary ones
SECRET_KEY = "test"
ACCOUNT_ID = "123456789012"  # moto's default account


def url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.aws_port}"


def endpoint(settings: Settings) -> Endpoint:
    return Endpoint(NAME, url(settings), "S3, SQS, CloudWatch Logs, Secrets Manager, KMS, IAM, STS (moto)")


def client_env(settings: Settings, endpoint_url: str | None = None) -> dict[str, str]:
    """Variables that send any boto3 client, in any region, to the emulator (at `endpoint_url`
    when it is not the host's address, e.g. from a container)."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url or url(settings),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": settings.aws_region,
        "AWS_REGION": settings.aws_region,
    }


def client(settings: Settings, service: str, region: str | None = None, config=None):
    import boto3

    return boto3.client(service, endpoint_url=url(settings), region_name=region or settings.aws_region,
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, config=config)


def process(settings: Settings) -> ProcessSpec:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["MOTO_ALLOW_NONEXISTENT_REGION"] = "true"
    cmd = Command.of(sys.executable, "-m", "moto.server", "-H", settings.host, "-p", settings.aws_port,
                     env=env)
    probe = CallableProbe(f"S3 list_buckets on {url(settings)}",
                          lambda: client(settings, "s3").list_buckets())
    return ProcessSpec(NAME, cmd, probe, (NAME,), stop_grace=5.0)


def compose_services(inputs: containers.RenderInputs) -> dict[str, dict]:
    s, port = inputs.settings, PORT.container
    service = {"image": inputs.images.aws, "ports": containers.published(s, PORT)}
    if inputs.images.offline or s.aws_emulator == "moto":
        service.update(environment={"MOTO_ALLOW_NONEXISTENT_REGION": "true"},
                       healthcheck=containers.health(["CMD", "python", "-c", containers.HTTP_CHECK,
                                                      f"http://127.0.0.1:{port}/moto-api/"]))
        args = ["-H", "0.0.0.0", "-p", str(port)]
        # moto's own image: its entrypoint is the server
        service["command"] = ["python", "-m", "moto.server", *args] if inputs.images.offline else args
        return {NAME: service}
    service.update(environment={"SERVICES": "s3,sqs,logs,secretsmanager,kms,iam,sts", "GATEWAY_LISTEN": f"0.0.0.0:{port}"},
                   healthcheck=containers.health(["CMD", "curl", "-fsS", f"http://127.0.0.1:{port}/_localstack/health"],
                                                 interval="5s"))
    return {NAME: service}


@dataclass(frozen=True)
class Bootstrapped:
    bucket: str
    kms_key_arn: str
    log_groups: tuple[str, ...]
    secrets: tuple[str, ...] = ()
    queue: str = ""


def create_secrets(settings: Settings, variables: dict[str, str]) -> tuple[str, ...]:
    """Create or update each secret mwaa.yaml declares, in its region."""
    made = []
    for secret in settings.spec.secrets:
        region = secret.region or settings.aws_region
        sm = client(settings, "secretsmanager", region)
        value = secret.render(variables)
        try:
            sm.create_secret(Name=secret.name, SecretString=value, Description=secret.description)
        except sm.exceptions.ResourceExistsException:
            sm.put_secret_value(SecretId=secret.name, SecretString=value)
        made.append(f"{secret.name} ({region})")
    return tuple(made)


def bootstrap(settings: Settings, variables: dict[str, str] | None = None) -> Bootstrapped:
    """Create the KMS key, the versioned SSE-KMS bucket, the five MWAA log groups and the
    secrets mwaa.yaml declares (their placeholders filled from `variables`)."""
    spec = settings.spec
    key_arn = _ensure_kms_key(settings)
    s3 = client(settings, "s3")
    bucket = spec.bucket_name
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        kwargs = {}
        if settings.aws_region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.aws_region}
        s3.create_bucket(Bucket=bucket, **kwargs)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": True}]})
    logs = client(settings, "logs")
    present = {g["logGroupName"] for g in logs.describe_log_groups(
        logGroupNamePrefix=f"airflow-{spec.name}-").get("logGroups", [])}
    groups = tuple(log_groups(spec.name))
    for group in groups:
        if group not in present:
            logs.create_log_group(logGroupName=group)
    secrets = create_secrets(settings, variables or {}) if settings.spec.secrets else ()
    return Bootstrapped(bucket, key_arn, groups, secrets, _ensure_queue(settings))


def _ensure_queue(settings: Settings) -> str:
    """The environment's Celery queue, which MWAA's service creates before Airflow starts
    (kombu never creates a predefined queue)."""
    name = celery.queue_name(settings.spec.name)
    client(settings, "sqs").create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": str(celery.VISIBILITY_TIMEOUT)})
    return name


def _ensure_kms_key(settings: Settings) -> str:
    spec = settings.spec
    alias = spec.kms_key if (spec.kms_key or "").startswith("alias/") else f"alias/mwaa-{spec.name}"
    kms = client(settings, "kms")
    for entry in kms.list_aliases().get("Aliases", []):
        if entry.get("AliasName") == alias and entry.get("TargetKeyId"):
            return kms.describe_key(KeyId=entry["TargetKeyId"])["KeyMetadata"]["Arn"]
    meta = kms.create_key(Description=f"MWAA sandbox key for {spec.name} (stands in for "
                                      f"{spec.kms_key or 'the AWS-owned key'})")["KeyMetadata"]
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    return meta["Arn"]
