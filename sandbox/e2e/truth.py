"""The truth, read back from Kafka: end offsets, and the records between two offset snapshots."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Iterator

from sandbox.errors import SandboxError


@dataclass(frozen=True)
class KafkaRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def _consumer(bootstrap: str):
    from kafka import KafkaConsumer

    # noida-db answers a fetch with everything up to the end whatever max_bytes asks (216 MB for
    # three partitions of a two-million-record topic, measured), which kafka-python refuses
    # above 100 MB by default: the read would stall.
    return KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                         request_timeout_ms=60000, max_partition_fetch_bytes=8 * 1024 * 1024,
                         receive_message_max_bytes=1 << 30)


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Partition -> next offset to be written; empty when the topic does not exist."""
    from kafka import TopicPartition

    consumer = _consumer(bootstrap)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            return {}
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        consumer.close()


def read_range(bootstrap: str, topic: str, start: dict[int, int], end: dict[int, int],
               timeout: float = 300.0, reconnect_after: float = 20.0) -> list[KafkaRecord]:
    """Every record with start[p] <= offset < end[p] in each partition of `end`. A consumer that
    makes no progress for `reconnect_after` s is replaced, resuming where it was (a broker busy
    writing a million records can leave a fetch unanswered); `timeout` s without any progress
    fail."""
    wanted = {p: (start.get(p, 0), stop) for p, stop in end.items() if stop > start.get(p, 0)}
    records: list[KafkaRecord] = []
    resume = {p: first for p, (first, _) in wanted.items()}
    progress_at = time.monotonic()
    while resume:
        before = len(records)
        _read_some(bootstrap, topic, wanted, resume, records, reconnect_after)
        if len(records) > before:
            progress_at = time.monotonic()
        elif resume and time.monotonic() - progress_at > timeout:
            raise SandboxError(f"reading the truth back from Kafka topic {topic} made no progress for "
                               f"{timeout:.0f} s (partitions left: {sorted(resume)})")
    return records


def _read_some(bootstrap: str, topic: str, wanted: dict[int, tuple[int, int]], resume: dict[int, int],
               records: list[KafkaRecord], stall: float) -> None:
    """Read on from `resume` (updated in place; a finished partition is removed) until done or
    no record came for `stall` s."""
    from kafka import TopicPartition

    consumer = _consumer(bootstrap)
    try:
        parts = {p: TopicPartition(topic, p) for p in resume}
        consumer.assign(list(parts.values()))
        for p, offset in resume.items():
            consumer.seek(parts[p], offset)
        last = time.monotonic()
        while resume and time.monotonic() - last < stall:
            for tp, batch in consumer.poll(timeout_ms=1000, max_records=5000).items():
                p, stop = tp.partition, wanted[tp.partition][1]
                fresh = [m for m in batch if p in resume and resume[p] <= m.offset < stop]
                if fresh:
                    records.extend(KafkaRecord(p, m.offset, m.key, m.value) for m in fresh)
                    resume[p] = fresh[-1].offset + 1
                    last = time.monotonic()
            for p in [p for p in resume if resume[p] >= wanted[p][1] or consumer.position(parts[p]) >= wanted[p][1]]:
                del resume[p]  # position: offsets without a record (transaction markers) end it too
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The consumer group's committed offsets on the topic (partitions with none are absent).
    An OffsetFetch without joining the group, so it never triggers a rebalance."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                             request_timeout_ms=15000)
    try:
        found = {}
        for partition in consumer.partitions_for_topic(topic) or set():
            offset = consumer.committed(TopicPartition(topic, partition))
            if offset is not None and offset >= 0:
                found[partition] = offset
        return found
    finally:
        consumer.close(autocommit=False)


@contextlib.contextmanager
def _admin(bootstrap: str) -> Iterator:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        yield admin
    finally:
        admin.close()


def groups_on_topic(bootstrap: str, topic: str) -> list[str]:
    """Consumer groups holding committed offsets on the topic: the pipeline's consumers."""
    with _admin(bootstrap) as admin:
        groups = [g["group_id"] for g in admin.list_groups()]
        offsets = admin.list_group_offsets(groups) if groups else {}
        return sorted(g for g, parts in offsets.items() if any(tp.topic == topic for tp in parts))


def delete_groups(bootstrap: str, groups: list[str]) -> None:
    """Forget the groups (their committed offsets too): the next member joins a brand-new group."""
    with _admin(bootstrap) as admin:
        failed = {g: r for g, r in admin.delete_groups(groups).items() if r != "OK"}
    if failed:
        raise SandboxError(f"Kafka would not delete consumer group(s) {failed}",
                           hint="a member may still be connected: wait for the consumer runs to end")


def remove_members(bootstrap: str, topic: str) -> int:
    """Remove every member of the groups subscribed to the topic (what Kafka does to a killed
    member once its session times out); returns how many were removed."""
    from kafka.admin import MemberToRemove

    removed = 0
    with _admin(bootstrap) as admin:
        groups = [g["group_id"] for g in admin.list_groups()]
        for group, body in (admin.describe_groups(groups) if groups else {}).items():
            members = [m["member_id"] for m in body.get("members") or []
                       if topic in ((m.get("member_metadata") or {}).get("topics") or [])]
            if members:
                admin.remove_group_members(group, [MemberToRemove(member_id=m) for m in members])
                removed += len(members)
    return removed
