"""The reference pipeline's record shape and its three queries: bodies, and the answers the
Kafka truth says they must give."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

TOPIC = "AWS-MWAA-Production"
INDEX = "aws-mwaa-production"
DEADLETTER_INDEX = "aws-mwaa-production-deadletter"
PRODUCER = "log_producer"
CONSUMER = "log_consumer"
CONSUMER_GROUP = "log_consumer_group"
STATUSES = (200, 301, 302, 400, 404, 500)
REQUIRED = {"event_id": str, "timestamp": str, "ip": str, "method": str, "endpoint": str,
            "status": int, "size": int, "referrer": str, "user_agent": str}
REFERENCE_FIELDS = {"endpoint", "status", "timestamp"}


@dataclass(frozen=True)
class LogRecord:
    event_id: str
    timestamp: datetime
    endpoint: str
    status: int


def parse(value: bytes | None) -> LogRecord | None:
    """A valid reference record, or None for one the consumer must dead-letter."""
    try:
        raw = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(raw, dict):
        return None
    for name, kind in REQUIRED.items():
        if not isinstance(raw.get(name), kind) or isinstance(raw.get(name), bool):
            return None
    if raw["status"] not in STATUSES or not raw["endpoint"].startswith("/") or raw["size"] < 0:
        return None
    try:
        stamp = datetime.fromisoformat(raw["timestamp"].replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        return None
    return LogRecord(raw["event_id"], stamp.astimezone(timezone.utc), raw["endpoint"], raw["status"])


# -- the three reference queries, verbatim -----------------------------------------------------
def errors_on_endpoint_query(endpoint: str = "/services", status: int = 500, size: int = 50) -> dict:
    return {"query": {"bool": {"filter": [{"term": {"endpoint.keyword": endpoint}},
                                          {"term": {"status.keyword": str(status)}}]}},
            "sort": [{"timestamp": {"order": "desc"}}], "size": size}


def top_endpoints_query(status: int = 500, size: int = 3) -> dict:
    return {"size": 0, "query": {"term": {"status.keyword": str(status)}},
            "aggs": {"top_endpoints": {"terms": {"field": "endpoint.keyword", "size": size}}}}


def per_minute_query(status: int = 500) -> dict:
    return {"size": 0, "query": {"term": {"status.keyword": str(status)}},
            "aggs": {"per_minute": {"date_histogram": {"field": "timestamp", "fixed_interval": "1m"}}}}


# -- what the truth says they must return -----------------------------------------------------
def millis(stamp: datetime) -> int:
    return int(stamp.timestamp() * 1000)


def expected_errors_on_endpoint(records: list[LogRecord], endpoint="/services", status=500, size=50):
    """(total matching, the top `size` timestamps in ms, newest first)."""
    matching = [r for r in records if r.endpoint == endpoint and r.status == status]
    top = sorted((millis(r.timestamp) for r in matching), reverse=True)[:size]
    return len(matching), top


def expected_top_endpoints(records: list[LogRecord], status=500, size=3) -> list[tuple[str, int]]:
    counts = Counter(r.endpoint for r in records if r.status == status)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]


def expected_per_minute(records: list[LogRecord], status=500) -> dict[int, int]:
    """Minute start (epoch ms) -> count."""
    counts: Counter[int] = Counter()
    for r in records:
        if r.status == status:
            counts[millis(r.timestamp.replace(second=0, microsecond=0))] += 1
    return dict(counts)
