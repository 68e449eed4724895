"""Web access-log records: generate them, encode them for Kafka, validate them, shape them for Elasticsearch.

Standard library only: the project's unit tests import this module without Airflow or Kafka clients.

A record is a flat JSON object with REQUIRED_FIELDS. Generation is deterministic: the same
(count, seed, start, minutes) always gives the same records, and a record's event_id depends only
on (seed, index), so producing the same seed twice and consuming both copies still gives one
Elasticsearch document per event (event_id is the document _id).
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterator

TOPIC = "AWS-MWAA-Production"
INDEX = "aws-mwaa-production"
DEADLETTER_INDEX = "aws-mwaa-production-deadletter"
PARTITIONS = 3

ENDPOINTS = ("/api/users", "/home", "/about", "/contact", "/services")
STATUSES = (200, 301, 302, 400, 404, 500)
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD")
REQUIRED_FIELDS = ("event_id", "timestamp", "ip", "method", "endpoint", "status", "size", "referrer", "user_agent")

# Weights in percent: 500 is 12 % so the reference queries always have something to find.
STATUS_WEIGHTS = (62, 5, 5, 7, 9, 12)
METHOD_WEIGHTS = (70, 15, 6, 3, 2, 4)
REFERRERS = ("-", "https://www.google.com/", "https://www.bing.com/", "https://example.com/home",
             "https://example.com/services", "https://news.ycombinator.com/")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.5.0",
    "python-requests/2.32.3",
)

# Fixed forever: changing it changes every event_id ever generated.
EVENT_NAMESPACE = uuid.UUID("6f1c2b7e-3a52-4c4e-9d1a-2b7f0c9e5a10")

# ISO-8601 in UTC as Elasticsearch's default date format reads it: "2026-11-22T12:01:02.345Z".
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)")


class InvalidRecord(ValueError):
    """A payload that is not a valid record; `reason` says why in a few words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def event_id(seed: int, index: int) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{seed}:{index}"))


def format_timestamp(moment: datetime) -> str:
    """UTC, millisecond precision, "Z" suffix."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    """An aware UTC datetime from an ISO-8601 UTC string; ValueError otherwise."""
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        raise ValueError(f"not an ISO-8601 UTC timestamp: {text!r}")
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_start(text: str) -> datetime:
    """A window start from run conf: any ISO-8601 datetime; naive means UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def generate(count: int, seed: int, start: datetime, minutes: int = 15) -> Iterator[dict]:
    """`count` records with timestamps in [start, start + minutes), not time-ordered."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    rng = random.Random(seed)
    window_ms = max(1, minutes * 60_000)
    for index in range(count):
        yield {
            "event_id": event_id(seed, index),
            "timestamp": format_timestamp(start + timedelta(milliseconds=rng.randrange(window_ms))),
            "ip": f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "method": rng.choices(METHODS, METHOD_WEIGHTS)[0],
            "endpoint": rng.choice(ENDPOINTS),
            "status": rng.choices(STATUSES, STATUS_WEIGHTS)[0],
            "size": rng.randint(0, 50_000),
            "referrer": rng.choice(REFERRERS),
            "user_agent": rng.choice(USER_AGENTS),
        }


def malformed(count: int, seed: int) -> list[bytes]:
    """`count` broken payloads cycling through every kind of breakage parse() rejects."""
    rng = random.Random(f"malformed:{seed}")
    base_start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    payloads = []
    for index in range(count):
        good = next(generate(1, rng.randrange(2**31), base_start))
        kind = index % 5
        if kind == 0:  # not JSON at all
            payloads.append(f"GET /home HTTP/1.1 {rng.randrange(10**6)} <<truncated".encode())
            continue
        if kind == 1:  # valid JSON, but not an object
            payloads.append(json.dumps([good["event_id"], good["status"]]).encode())
            continue
        if kind == 2:
            del good[rng.choice(REQUIRED_FIELDS)]
        elif kind == 3:
            good["status"] = rng.choice((0, 201, 418, 503, 999))
        else:
            good["timestamp"] = rng.choice(("yesterday", "22/11/2026 12:01:02", "2026-13-45T99:00:00Z", "1700000000"))
        payloads.append(encode(good))
    return payloads


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise InvalidRecord(reason)


def parse(raw: bytes) -> dict:
    """The record in `raw`, or InvalidRecord naming the first problem found."""
    try:
        record = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRecord("not JSON") from None
    _require(isinstance(record, dict), "not a JSON object")
    missing = [name for name in REQUIRED_FIELDS if name not in record]
    _require(not missing, f"missing field: {', '.join(missing)}")
    ident = record["event_id"]
    # It becomes the document _id, which Elasticsearch caps at 512 bytes.
    _require(isinstance(ident, str) and 0 < len(ident.encode("utf-8")) <= 512, "event_id: not a short string")
    status = record["status"]
    _require(type(status) is int and status in STATUSES, f"status: {status!r} is not one of {STATUSES}")
    endpoint = record["endpoint"]
    _require(isinstance(endpoint, str) and endpoint.startswith("/"), "endpoint: not a path starting with /")
    try:
        parse_timestamp(record["timestamp"])
    except ValueError:
        raise InvalidRecord("timestamp: not ISO-8601 UTC") from None
    size = record["size"]
    _require(type(size) is int and 0 <= size < 2**63, "size: not a non-negative integer")
    _require(record["method"] in METHODS, f"method: not one of {METHODS}")
    _require(_is_ipv4(record["ip"]), "ip: not an IPv4 address")
    for name in ("referrer", "user_agent"):
        _require(isinstance(record[name], str), f"{name}: not a string")
    return record


def _is_ipv4(value: object) -> bool:
    try:
        return isinstance(value, str) and isinstance(ipaddress.ip_address(value), ipaddress.IPv4Address)
    except ValueError:
        return False


def to_document(record: dict) -> dict:
    """The Elasticsearch _source: the record's fields, status as a string ("500") for status.keyword."""
    document = {name: record[name] for name in REQUIRED_FIELDS}
    document["status"] = str(record["status"])
    return document


def encode(record: dict) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def key(record: dict) -> bytes:
    return record["event_id"].encode("utf-8")


def deadletter_document(raw: bytes, reason: str, topic: str, partition: int, offset: int,
                        timestamp_ms: int | None) -> dict:
    """What the dead-letter index keeps for a payload parse() rejected; timestamp is Kafka's, if any."""
    document = {"raw": raw.decode("utf-8", errors="replace"), "reason": reason,
                "topic": topic, "partition": partition, "offset": offset}
    if timestamp_ms is not None and timestamp_ms >= 0:
        document["timestamp"] = format_timestamp(datetime.fromtimestamp(timestamp_ms / 1000, timezone.utc))
    return document


def deadletter_id(topic: str, partition: int, offset: int) -> str:
    return f"{topic}-{partition}-{offset}"


def _text_with_keyword() -> dict:
    return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}


# Body for PUT _index_template/aws-mwaa-production. The pattern also covers the dead-letter index
# (and conf-named indices like aws-mwaa-production-test): dead-letter documents carry only a valid
# `timestamp` (Kafka's), and their other fields (raw, reason, topic, partition, offset) map dynamically.
INDEX_TEMPLATE = {
    "index_patterns": [f"{INDEX}*"],
    "priority": 200,
    "template": {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {
            "dynamic": True,
            "properties": {
                "event_id": {"type": "keyword"},
                "timestamp": {"type": "date"},
                "ip": {"type": "ip"},
                "method": {"type": "keyword"},
                "endpoint": _text_with_keyword(),
                "status": _text_with_keyword(),
                "size": {"type": "long"},
                "referrer": {"type": "text"},
                "user_agent": {"type": "text"},
            },
        },
    },
    "_meta": {"description": "web access logs of the mwaa-sandbox reference pipeline"},
}
TEMPLATE_NAME = INDEX
