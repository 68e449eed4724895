"""A bucket's objects as version histories: each key's versions and delete markers oldest first,
read from one emulator and replayed in order into another (the newest ends current)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Iterator

OBJECT_FIELDS = ("ContentType", "Metadata", "ContentEncoding", "ContentDisposition", "ContentLanguage",
                 "CacheControl")
SAME_KEY_GAP = 0.002  # s between writes of one key: moto orders a key's versions by millisecond


def histories(s3, bucket: str) -> Iterator[tuple[str, list[dict]]]:
    """Each key with its versions and delete markers, oldest first."""
    found: dict[str, tuple[list[dict], list[dict]]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            found.setdefault(version["Key"], ([], []))[0].append(version)
        for marker in page.get("DeleteMarkers", []):
            found.setdefault(marker["Key"], ([], []))[1].append({**marker, "IsDeleteMarker": True})
    for key, (versions, markers) in found.items():
        yield key, _merged(s3, bucket, key, versions, markers)[::-1]


def _merged(s3, bucket: str, key: str, versions: list[dict], markers: list[dict]) -> list[dict]:
    """Versions and delete markers in one list, newest first. The listing gives each kind newest
    first but apart, with whole-second LastModified: a marker sharing its second with a version is
    placed by listing what comes after it (one request per such marker)."""
    at: dict[int, list[dict]] = {}
    for marker in markers:
        same_second = any(v["LastModified"] == marker["LastModified"] for v in versions)
        older = _versions_after(s3, bucket, key, marker["VersionId"]) if same_second else \
            sum(v["LastModified"] < marker["LastModified"] for v in versions)
        at.setdefault(len(versions) - older, []).append(marker)
    merged = []
    for index in range(len(versions) + 1):
        merged += at.get(index, []) + versions[index:index + 1]
    return merged


def _versions_after(s3, bucket: str, key: str, version_id: str) -> int:
    """How many versions of `key` the listing gives after `version_id` (the older ones)."""
    count, markers = 0, {"KeyMarker": key, "VersionIdMarker": version_id}
    while True:
        page = s3.list_object_versions(Bucket=bucket, Prefix=key, **markers)
        listed = page.get("Versions", []) + page.get("DeleteMarkers", [])
        count += sum(v["Key"] == key for v in page.get("Versions", []))
        if not page.get("IsTruncated") or any(item["Key"] != key for item in listed):
            return count  # past the key (others only start with it)
        markers = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}


def read_version(s3, bucket: str, item: dict, folder: Path, body: str) -> dict:
    """A listed entry as a snapshot keeps it: a version's body goes to folder/body."""
    if item.get("IsDeleteMarker"):
        return {"id": item["VersionId"], "delete_marker": True}
    which = {"VersionId": item["VersionId"]} if item["VersionId"] not in (None, "null") else {}
    answer = s3.get_object(Bucket=bucket, Key=item["Key"], **which)
    with open(folder / body, "wb") as out:
        shutil.copyfileobj(answer["Body"], out, 1 << 20)
    return {"id": item["VersionId"], "body": body, **{f: answer[f] for f in OBJECT_FIELDS if answer.get(f)}}


def ensure_bucket(s3, name: str, region: str, versioning: str) -> None:
    """The bucket (the bootstrap made the environment's), versioned while replaying if it was."""
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=name, **where)
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        pass
    if versioning in ("Enabled", "Suspended"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def replay(s3, bucket: str, key: str, history: list[dict], folder: Path) -> dict[str, str]:
    """Write a key's history in order; returns old version id -> new (the emulator picks ids)."""
    renamed, last_write = {}, 0.0
    for version in history:
        time.sleep(max(0.0, last_write + SAME_KEY_GAP - time.monotonic()))
        if version.get("delete_marker"):
            new_id = s3.delete_object(Bucket=bucket, Key=key).get("VersionId")
        else:
            fields = {f: version[f] for f in OBJECT_FIELDS if f in version}
            with open(folder / version["body"], "rb") as body:  # the bucket's default encryption applies
                new_id = s3.put_object(Bucket=bucket, Key=key, Body=body, **fields).get("VersionId")
        last_write = time.monotonic()
        if new_id and version["id"] not in (None, "null"):
            renamed[version["id"]] = new_id
    return renamed
