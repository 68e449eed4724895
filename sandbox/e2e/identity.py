"""Counting lost and duplicated records by identity, not by totals.

Totals hide offsetting errors: one lost record and one duplicated document add up to the right
count. So each Kafka record of the run gets an identity (a field of the record, its Kafka
coordinates, or a fingerprint of several fields), each Elasticsearch document gets one the same
way, and the two sides are matched identity by identity. A record whose identity cannot be
derived is reported as unidentified, never silently as lost or as fine.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

from sandbox.e2e.formats import as_int, parse_timestamp, parse_timestamp_text
from sandbox.e2e.truth import KafkaRecord
from sandbox.errors import ConfigError

Kind = Literal["field", "coordinates", "fingerprint"]

_PATH = re.compile(r"[^\s.,:]+(?:\.[^\s.,:]+)*")
_FORMS = ("FIELD (a dotted path into the record, e.g. event_id or meta.id), coordinates "
          "(topic-partition-offset), or fingerprint:FIELD,FIELD,...")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NUMERIC = re.compile(r"[+-]?\d+(?:\.\d+)?")  # no exponents, inf or nan: ids like "1e5" stay text
EXCERPT_CHARS = 120


@dataclass(frozen=True)
class Identity:
    kind: Kind
    fields: tuple[str, ...] = ()  # the path for "field", the paths for "fingerprint"

    @classmethod
    def parse(cls, text: str) -> Identity:
        """`FIELD`, `coordinates` or `fingerprint:FIELD,FIELD,...`."""
        text = (text or "").strip()
        if text == "coordinates":
            return cls("coordinates")
        head, colon, rest = text.partition(":")
        if colon and head == "fingerprint":
            paths = tuple(p.strip() for p in rest.split(","))
            if paths and all(_PATH.fullmatch(p) for p in paths):
                return cls("fingerprint", paths)
        elif text != "fingerprint" and _PATH.fullmatch(text):
            return cls("field", (text,))
        raise ConfigError(f"record identity {text!r} is not understood", hint=f"use {_FORMS}")

    def describe(self) -> str:
        if self.kind == "coordinates":
            return "Kafka coordinates (topic-partition-offset)"
        if self.kind == "fingerprint":
            return f"fingerprint of {', '.join(self.fields)}"
        return f"field {self.fields[0]}"


# -- values --------------------------------------------------------------------------------------
def lookup(data: dict | None, path: str) -> Any:
    """The value at a dotted path (a literal dotted key wins, as Elasticsearch may store one);
    None when absent."""
    if not isinstance(data, dict):
        return None
    if path in data:
        return data[path]
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def _number_text(value: int | float | str) -> str:
    number = Decimal(value) if isinstance(value, (int, str)) else Decimal(repr(value))
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def _text(value: Any) -> str | None:
    """A field identity as text: strings as they are, numbers canonical (500 and 500.0 agree),
    bools as true/false, objects and lists as sorted JSON."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number_text(value) if Decimal(repr(value)).is_finite() else str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _timestamp_named(path: str) -> bool:
    name = path.rsplit(".", 1)[-1].lstrip("@").lower()
    return name in ("timestamp", "time") or name.endswith(("_timestamp", "_time"))


def normalise(path: str, value: Any) -> str | None:
    """One fingerprint component, so both sides of the pipeline agree on it:
    - a timestamp -> epoch milliseconds: any style `parse_timestamp` reads in a field named
      timestamp, @timestamp, time, *_timestamp or *_time; elsewhere only textual timestamps
      (ISO, Apache, 'Oct 10 2000, 13:55:36'), so a status "500" is never a date;
    - bools -> true/false (never numbers);
    - numbers and numeric strings -> canonical numeric text (500, 500.0 and "500" agree);
    - anything else -> its text (objects as sorted JSON); None when absent."""
    if value is None or isinstance(value, bool):
        return _text(value)
    stamp = (parse_timestamp(value) if _timestamp_named(path) else
             parse_timestamp_text(value) if isinstance(value, str) else None)
    if stamp is not None:
        return str((stamp - _EPOCH) // timedelta(milliseconds=1))
    if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        return _number_text(value.strip())
    return _text(value)


def _fingerprint(paths: tuple[str, ...], data: dict | None) -> str | None:
    parts = [normalise(p, lookup(data, p)) for p in paths]
    if any(p is None for p in parts):
        return None
    return json.dumps(parts, separators=(",", ":"), ensure_ascii=False)


# -- identities ----------------------------------------------------------------------------------
def record_identity(identity: Identity, topic: str, record: KafkaRecord,
                    fields: dict | None) -> str | None:
    """The identity of one Kafka record; `fields` is the record as its format read it."""
    if identity.kind == "coordinates":
        return f"{topic}-{record.partition}-{record.offset}"
    if identity.kind == "fingerprint":
        return _fingerprint(identity.fields, fields)
    return _text(lookup(fields, identity.fields[0])) or None  # an empty id identifies nothing


def _doc_coordinates(topic: str, doc_id: Any, source: dict) -> str | None:
    if isinstance(doc_id, str) and doc_id.startswith(f"{topic}-"):
        match = re.fullmatch(r"(\d+)-(\d+)", doc_id[len(topic) + 1:])
        if match:
            return f"{topic}-{int(match[1])}-{int(match[2])}"
    named = source.get("topic", source.get("kafka_topic"))
    if named is not None and named != topic:
        return None
    partition = as_int(source.get("partition", source.get("kafka_partition")))
    offset = as_int(source.get("offset", source.get("kafka_offset")))
    if partition is None or offset is None:
        return None
    return f"{topic}-{partition}-{offset}"


def doc_identity(identity: Identity, topic: str, hit: dict) -> str | None:
    """The identity of one Elasticsearch hit `{"_id": ..., "_source": {...}}`. For a field
    identity the `_id` stands in when the source lacks the field (consumers often index the id
    as `_id` and drop it from the body)."""
    source = hit.get("_source") or {}
    if identity.kind == "coordinates":
        return _doc_coordinates(topic, hit.get("_id"), source)
    if identity.kind == "fingerprint":
        return _fingerprint(identity.fields, source)
    found = lookup(source, identity.fields[0])
    return _text(found if found not in (None, "") else hit.get("_id")) or None


def count_identities(identity: Identity, topic: str, hits: Iterable[dict],
                     wanted: set[str] | None = None) -> tuple[Counter[str], int]:
    """(documents per identity, documents without one). With `wanted`, only those identities
    are counted; documents without an identity are always counted, as they cannot be ruled out."""
    counts: Counter[str] = Counter()
    unidentified = 0
    for hit in hits:
        key = doc_identity(identity, topic, hit)
        if key is None:
            unidentified += 1
        elif wanted is None or key in wanted:
            counts[key] += 1
    return counts, unidentified


# -- the accounting ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    partition: int
    offset: int
    identity: str | None
    excerpt: str  # the first 120 characters of the record's value
    count: int  # records lost, or extra documents, for this identity (1 when unidentified)


@dataclass(frozen=True)
class Accounting:
    produced: int  # records of the run
    identities: int  # distinct identities among them
    lost: int  # records without a document
    duplicates: int  # documents beyond one per record
    unidentified: int  # records whose identity could not be derived
    preexisting: int  # identities already in the index before the run
    lost_examples: list[Example] = field(default_factory=list)
    duplicate_examples: list[Example] = field(default_factory=list)
    unidentified_examples: list[Example] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def example(record: KafkaRecord, key: str | None, count: int) -> Example:
    excerpt = (record.value or b"").decode("utf-8", errors="replace")[:EXCERPT_CHARS]
    return Example(record.partition, record.offset, key, excerpt, count)


def _group(identity: Identity, topic: str, records: list[tuple[KafkaRecord, dict | None]]
           ) -> tuple[dict[str, list[KafkaRecord]], list[KafkaRecord]]:
    """Records by identity, first seen first, in (partition, offset) order; and the rest."""
    groups: dict[str, list[KafkaRecord]] = {}
    unidentified: list[KafkaRecord] = []
    for record, fields in sorted(records, key=lambda rf: (rf[0].partition, rf[0].offset)):
        key = record_identity(identity, topic, record, fields)
        if key is None:
            unidentified.append(record)
        else:
            groups.setdefault(key, []).append(record)
    return groups, unidentified


def tally(identity: Identity, topic: str, records: list[tuple[KafkaRecord, dict | None]],
          before: Counter[str], after: Counter[str], examples: int = 5) -> Accounting:
    """Lost and duplicated records of this run, identity by identity.

    `before` and `after` count documents per identity in the index before the consumer ran and
    at the end. For an identity the run produced m times (identical log lines may repeat):
    lost = max(m - after, 0); duplicates = max(after - before - m, 0). A document that was
    already there counts as present, so an idempotent re-write (after == before) is neither
    lost nor duplicated, and a non-idempotent one (after == before + m) is not a duplicate.
    The price: a record whose identity was already indexed cannot be proven delivered, which
    is why `preexisting` is reported; a fresh index makes it 0."""
    groups, unidentified = _group(identity, topic, records)
    lost = duplicates = preexisting = 0
    lost_examples: list[Example] = []
    duplicate_examples: list[Example] = []
    for key, group in groups.items():
        earlier = max(before.get(key, 0), 0)
        present = max(after.get(key, 0), 0)
        missing = max(len(group) - present, 0)
        extra = max(present - earlier - len(group), 0)
        preexisting += earlier > 0
        lost += missing
        duplicates += extra
        if missing and len(lost_examples) < examples:
            lost_examples.append(example(group[0], key, missing))
        if extra and len(duplicate_examples) < examples:
            duplicate_examples.append(example(group[0], key, extra))
    return Accounting(len(records), len(groups), lost, duplicates, len(unidentified), preexisting,
                      lost_examples, duplicate_examples,
                      [example(r, None, 1) for r in unidentified[:examples]])
