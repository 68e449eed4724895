"""The run conf each DAG accepts, validated into option objects (standard library only).

log_producer conf: count, seed, start, minutes, malformed, topic.
log_consumer conf: group_id, auto_offset_reset, topic, index, deadletter_index, max_seconds,
fail_after_index_once.
Unknown keys are rejected, so a typo fails the run instead of being silently ignored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from weblogs import records

CONSUMER_GROUP = "log_consumer_group"


def seed_from_run_id(run_id: str) -> int:
    """A stable 31-bit seed per run (Python's hash() is salted per process, so not that)."""
    return int.from_bytes(hashlib.sha256(run_id.encode("utf-8")).digest()[:4], "big") & 0x7FFFFFFF


def _check_keys(conf: dict, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(conf) - set(allowed))
    if unknown:
        raise ValueError(f"unknown conf key(s) {unknown}; allowed: {', '.join(allowed)}")


def _int(conf: dict, name: str, default: int, minimum: int) -> int:
    value = conf.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"conf {name}: {value!r} is not an integer")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"conf {name}: {value!r} is not an integer") from None
    if number < minimum:
        raise ValueError(f"conf {name}: {number} is below {minimum}")
    return number


def _bool(conf: dict, name: str, default: bool) -> bool:
    value = conf.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise ValueError(f"conf {name}: {value!r} is not true or false")


def _name(conf: dict, name: str, default: str) -> str:
    value = conf.get(name, default)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"conf {name}: {value!r} is not a non-empty string")
    return value.strip()


@dataclass(frozen=True)
class ProducerOptions:
    count: int
    seed: int
    start: datetime
    minutes: int
    malformed: int
    topic: str

    KEYS = ("count", "seed", "start", "minutes", "malformed", "topic")

    @classmethod
    def from_conf(cls, conf: dict | None, run_id: str, logical_date: datetime) -> "ProducerOptions":
        conf = conf or {}
        _check_keys(conf, cls.KEYS)
        if "start" in conf:
            try:
                start = records.parse_start(str(conf["start"]))
            except ValueError:
                raise ValueError(f"conf start: {conf['start']!r} is not an ISO-8601 datetime") from None
        else:
            start = records.parse_start(logical_date.isoformat()).replace(second=0, microsecond=0)
        return cls(
            count=_int(conf, "count", 15000, 0),
            seed=_int(conf, "seed", seed_from_run_id(run_id), 0),
            start=start,
            minutes=_int(conf, "minutes", 15, 1),
            malformed=_int(conf, "malformed", 0, 0),
            topic=_name(conf, "topic", records.TOPIC),
        )


@dataclass(frozen=True)
class ConsumerOptions:
    group_id: str
    auto_offset_reset: str
    topic: str
    index: str
    deadletter_index: str
    max_seconds: int
    fail_after_index_once: bool

    KEYS = ("group_id", "auto_offset_reset", "topic", "index", "deadletter_index", "max_seconds",
            "fail_after_index_once")

    @classmethod
    def from_conf(cls, conf: dict | None) -> "ConsumerOptions":
        conf = conf or {}
        _check_keys(conf, cls.KEYS)
        reset = _name(conf, "auto_offset_reset", "earliest")
        if reset not in ("earliest", "latest"):
            raise ValueError(f"conf auto_offset_reset: {reset!r} is not earliest or latest")
        index = _name(conf, "index", records.INDEX)
        return cls(
            group_id=_name(conf, "group_id", CONSUMER_GROUP),
            auto_offset_reset=reset,
            topic=_name(conf, "topic", records.TOPIC),
            index=index,
            # The default index's dead-letter twin is records.DEADLETTER_INDEX.
            deadletter_index=_name(conf, "deadletter_index", f"{index}-deadletter"),
            max_seconds=_int(conf, "max_seconds", 600, 1),
            fail_after_index_once=_bool(conf, "fail_after_index_once", False),
        )
