"""The AWS emulator's state across `sandbox down` / `sandbox up`.

moto keeps nothing across a restart, so `down` exports what it holds through boto3 (every S3
object version and delete marker, every CloudWatch log group, stream and event, every secret)
into `.sandbox/aws-state/`, and the next `up` replays it right after the bootstrap. The emulator
gives replayed objects new version ids (the old -> new map goes into the manifest) and the
bootstrap a new KMS key. Not kept: SQS messages (the queue is recreated empty) and KMS key
material. Snapshot layout: manifest.json, s3/<n> (object bodies), logs/<group>-<stream>.jsonl
([timestamp, message] per line, oldest first).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from sandbox.mwaa.logs import log_groups
from sandbox.services import s3_versions
from sandbox.services.aws import client
from sandbox.settings import Settings

FORMAT = 1  # a snapshot written in another format is ignored, with one note
MANIFEST = "manifest.json"
# PutLogEvents' limits: events and bytes per call (each event counts 26 bytes more), time span
BATCH_EVENTS, BATCH_BYTES, EVENT_OVERHEAD, BATCH_SPAN_MS = 10_000, 1_048_576, 26, 24 * 3600 * 1000


@dataclass
class Summary:
    """What an export kept or a restore put back, for one progress line and its notes."""

    buckets: int = 0
    versions: int = 0  # object versions, delete markers included
    delete_markers: int = 0
    log_groups: int = 0
    log_events: int = 0
    secrets: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # why -> log events the emulator refused
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def empty(self) -> bool:
        return not (self.versions or self.log_groups or self.secrets)

    def counts(self) -> str:
        markers = f" ({_n(self.delete_markers, 'delete marker')})" if self.delete_markers else ""
        return (f"{_n(self.versions, 'S3 object version')}{markers}, {_n(self.log_groups, 'log group')} / "
                f"{_n(self.log_events, 'log event')}, {_n(self.secrets, 'secret')}")

    def kept_line(self, folder: Path) -> str:
        return f"kept {self.counts()} in {folder} for the next `up` ({self.seconds:.1f} s)"

    def restored_line(self) -> str:
        changed = "S3 version ids and the KMS key id changed" if self.versions else "the KMS key id changed"
        return f"restored {self.counts()} from the last `down` ({changed}; {self.seconds:.1f} s)"

    def refused_notes(self) -> list[str]:
        return [f"not restored: {_n(count, 'log event')} {why}" for why, count in self.refused.items()]


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def answers(settings: Settings) -> bool:
    """Whether the emulator answers now (quickly: `down` must not wait for a dead one)."""
    from botocore.config import Config

    quick = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1})
    try:
        client(settings, "s3", config=quick).list_buckets()
    except Exception:  # any failure means: nothing to export
        return False
    return True


def regions(settings: Settings) -> list[str]:
    """The regions the sandbox uses: its own and any a secret of mwaa.yaml names."""
    return sorted({settings.aws_region, *(s.region for s in settings.spec.secrets if s.region)})


# -- export ------------------------------------------------------------------------------------------
def export(settings: Settings, folder: Path) -> Summary:
    """Write the emulator's state into `folder` (replaced whole only once complete)."""
    started, summary = time.monotonic(), Summary()
    work = _fresh_work_dir(folder)
    try:
        manifest = {"format": FORMAT, "exported_at": time.time(),
                    "buckets": _export_s3(settings, work, summary),
                    "log_groups": _export_logs(settings, work, summary),
                    "secrets": _export_secrets(settings, summary)}
        _write_json(work / MANIFEST, manifest)
        _publish(work, folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    summary.seconds = time.monotonic() - started
    return summary


def _fresh_work_dir(folder: Path) -> Path:
    """A new folder beside the snapshot (0700: secrets go in); ones left by a killed export go."""
    current = folder.resolve() if folder.is_symlink() else None
    for stale in folder.parent.glob(f"{folder.name}.*"):
        if stale.is_dir() and stale != current:
            shutil.rmtree(stale, ignore_errors=True)
    work = folder.with_name(f"{folder.name}.{time.time_ns()}")
    for sub in ("", "s3", "logs"):
        (work / sub).mkdir(parents=True, mode=0o700)
    return work


def _publish(work: Path, folder: Path) -> None:
    """Swap the new snapshot in with one rename (of a symlink): a `down` killed at any point leaves
    either the previous snapshot or this one, whole."""
    previous = folder.resolve() if folder.is_symlink() else None
    if folder.exists() and not folder.is_symlink():
        shutil.rmtree(folder)
    link = folder.with_name(f".{folder.name}.link")
    link.unlink(missing_ok=True)
    link.symlink_to(work.name)
    os.replace(link, folder)
    if previous is not None and previous != work:
        shutil.rmtree(previous, ignore_errors=True)


def _write_json(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(path)


def _pages(api, operation: str, items: str, **kwargs) -> Iterator[dict]:
    for page in api.get_paginator(operation).paginate(**kwargs):
        yield from page.get(items, [])


def _export_s3(settings: Settings, work: Path, summary: Summary) -> list[dict]:
    s3 = client(settings, "s3")
    buckets = []
    for name in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        objects = []
        for key, history in s3_versions.histories(s3, name):
            kept = []
            for item in history:
                summary.versions += 1
                summary.delete_markers += bool(item.get("IsDeleteMarker"))
                kept.append(s3_versions.read_version(s3, name, item, work, f"s3/{summary.versions}"))
            objects.append({"key": key, "history": kept})
        buckets.append({"name": name, "objects": objects,
                        "region": s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1",
                        "versioning": s3.get_bucket_versioning(Bucket=name).get("Status", "")})
        summary.buckets += 1
    return buckets


def _export_logs(settings: Settings, work: Path, summary: Summary) -> list[dict]:
    groups = []
    for region in regions(settings):
        logs = client(settings, "logs", region)
        for group in _pages(logs, "describe_log_groups", "logGroups"):
            name, streams = group["logGroupName"], []
            for stream in _pages(logs, "describe_log_streams", "logStreams", logGroupName=name):
                path = f"logs/{summary.log_groups}-{len(streams)}.jsonl"
                count = _export_stream(logs, name, stream["logStreamName"], work / path)
                streams.append({"name": stream["logStreamName"], "events": path, "count": count})
                summary.log_events += count
            groups.append({"region": region, "name": name, "retention": group.get("retentionInDays"),
                           "streams": streams})
            summary.log_groups += 1
    return groups


def _export_stream(logs, group: str, stream: str, path: Path) -> int:
    """Every event of the stream, oldest first; the end is where the forward token repeats."""
    token, count = None, 0
    with open(path, "w", encoding="utf-8") as out:
        while True:
            more = {"nextToken": token} if token else {}
            page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True,
                                       limit=BATCH_EVENTS, **more)
            for event in page.get("events", []):
                out.write(json.dumps([event["timestamp"], event["message"]]) + "\n")
            count += len(page.get("events", []))
            if not page.get("events") or page.get("nextForwardToken") in (None, token):
                return count
            token = page["nextForwardToken"]


def _export_secrets(settings: Settings, summary: Summary) -> list[dict]:
    secrets = []
    for region in regions(settings):
        sm = client(settings, "secretsmanager", region)
        for entry in _pages(sm, "list_secrets", "SecretList"):
            try:
                value = sm.get_secret_value(SecretId=entry["ARN"])
            except sm.exceptions.ResourceNotFoundException:
                summary.notes.append(f"secret {entry['Name']} ({region}) has no current value: not kept")
                continue
            secret = {"region": region, "name": entry["Name"], "description": entry.get("Description", "")}
            if "SecretString" in value:
                secret["string"] = value["SecretString"]
            else:
                secret["binary"] = base64.b64encode(value["SecretBinary"]).decode()
            secrets.append(secret)
            summary.secrets += 1
    return secrets


# -- restore -----------------------------------------------------------------------------------------
def present(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def restore(settings: Settings, folder: Path) -> Summary:
    """Replay the snapshot into a freshly bootstrapped emulator (nothing when there is none)."""
    started, summary = time.monotonic(), Summary()
    manifest = read_manifest(folder)
    if manifest is None:
        return summary
    if manifest.get("format") != FORMAT:
        summary.notes.append(f"ignored the AWS state kept in {folder}: format {manifest.get('format')!r}, "
                             f"this sandbox reads format {FORMAT}")
        return summary
    if holds_data(settings):
        summary.notes.append("the AWS emulator kept running since the last `down`, so its state was "
                             "not restored over it")
        return summary
    manifest["restored_version_ids"] = _restore_s3(settings, folder, manifest["buckets"], summary)
    _restore_logs(settings, folder, manifest["log_groups"], summary)
    _restore_secrets(settings, manifest["secrets"], summary)
    _write_json(folder / MANIFEST, manifest)
    summary.seconds = time.monotonic() - started
    return summary


def set_aside(folder: Path) -> Path:
    """A snapshot that failed to restore, renamed out of the next export's way for the user."""
    kept = folder.with_name(f"{folder.name}-unrestored-{time.strftime('%Y%m%d-%H%M%S')}")
    folder.resolve().rename(kept)
    if folder.is_symlink():
        folder.unlink()
    return kept


def holds_data(settings: Settings) -> bool:
    """Whether the environment's bucket or log groups already hold something: then the emulator
    did not restart (a restore would duplicate everything)."""
    s3 = client(settings, "s3")
    listed = s3.list_object_versions(Bucket=settings.spec.bucket_name, MaxKeys=1)
    if listed.get("Versions") or listed.get("DeleteMarkers"):
        return True
    logs = client(settings, "logs")
    return any(logs.describe_log_streams(logGroupName=group, limit=1).get("logStreams")
               for group in log_groups(settings.spec.name))


def _restore_s3(settings: Settings, folder: Path, buckets: list[dict], summary: Summary) -> dict:
    """Each key's history replayed in order; returns bucket -> old version id -> new."""
    renamed: dict[str, dict[str, str]] = {}
    for bucket in buckets:
        name, s3 = bucket["name"], client(settings, "s3", bucket["region"])
        s3_versions.ensure_bucket(s3, name, bucket["region"], bucket["versioning"])
        ids = renamed.setdefault(name, {})
        for entry in bucket["objects"]:
            ids.update(s3_versions.replay(s3, name, entry["key"], entry["history"], folder))
            summary.versions += len(entry["history"])
            summary.delete_markers += sum(bool(v.get("delete_marker")) for v in entry["history"])
        if bucket["versioning"] == "Suspended":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
        summary.buckets += 1
    return renamed


def _restore_logs(settings: Settings, folder: Path, groups: list[dict], summary: Summary) -> None:
    for group in groups:
        logs = client(settings, "logs", group["region"])
        _create(logs, logs.create_log_group, logGroupName=group["name"])
        if group.get("retention"):
            logs.put_retention_policy(logGroupName=group["name"], retentionInDays=group["retention"])
        for stream in group["streams"]:
            _create(logs, logs.create_log_stream, logGroupName=group["name"], logStreamName=stream["name"])
            events = _read_events(folder / stream["events"])
            for batch in batches(events):
                answer = logs.put_log_events(logGroupName=group["name"], logStreamName=stream["name"],
                                             logEvents=batch)
                refused = refused_events(answer.get("rejectedLogEventsInfo") or {}, len(batch))
                for why, count in refused.items():
                    summary.refused[why] = summary.refused.get(why, 0) + count
                summary.log_events += len(batch) - sum(refused.values())
        summary.log_groups += 1


def _create(logs, create, **names) -> None:
    try:
        create(**names)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass  # the bootstrap's group, or a stream written since


def _read_events(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as lines:
        events = [json.loads(line) for line in lines if line.strip()]
    return sorted(({"timestamp": ts, "message": message} for ts, message in events),
                  key=lambda e: e["timestamp"])


def batches(events: list[dict]) -> Iterator[list[dict]]:
    """Chronological events cut into PutLogEvents calls: at most 10,000 events and 1 MiB
    (message bytes + 26 each), spanning less than 24 hours."""
    batch: list[dict] = []
    size = 0
    for event in events:
        cost = len(event["message"].encode("utf-8")) + EVENT_OVERHEAD
        if batch and (len(batch) == BATCH_EVENTS or size + cost > BATCH_BYTES
                      or event["timestamp"] - batch[0]["timestamp"] >= BATCH_SPAN_MS):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += cost
    if batch:
        yield batch


def refused_events(info: dict, sent: int) -> dict[str, int]:
    """PutLogEvents' rejectedLogEventsInfo as counts by reason (indexes into a sorted batch)."""
    expired = info.get("expiredLogEventEndIndex", -1) + 1
    too_old = max(0, info.get("tooOldLogEventEndIndex", -1) + 1 - expired)
    too_new = sent - info["tooNewLogEventStartIndex"] if "tooNewLogEventStartIndex" in info else 0
    reasons = {"past the log group's retention": expired,
               "older than 14 days (PutLogEvents refuses them, in moto as in AWS)": too_old,
               "more than 2 hours ahead of the clock (PutLogEvents refuses them)": too_new}
    return {why: count for why, count in reasons.items() if count}


def _restore_secrets(settings: Settings, secrets: list[dict], summary: Summary) -> None:
    """Secrets that are missing only: the bootstrap made mwaa.yaml's own, and those win."""
    for secret in secrets:
        sm = client(settings, "secretsmanager", secret["region"])
        value = {"SecretString": secret["string"]} if "string" in secret else {
            "SecretBinary": base64.b64decode(secret["binary"])}
        described = {"Description": secret["description"]} if secret.get("description") else {}
        try:
            sm.create_secret(Name=secret["name"], **value, **described)
        except sm.exceptions.ResourceExistsException:
            continue
        summary.secrets += 1
