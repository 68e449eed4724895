"""The truth, read back from Kafka: end offsets, and the records between two offset snapshots."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sandbox.errors import SandboxError


@dataclass(frozen=True)
class KafkaRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def _consumer(bootstrap: str):
    from kafka import KafkaConsumer

    return KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                         request_timeout_ms=15000, max_partition_fetch_bytes=8 * 1024 * 1024)


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
               timeout: float = 300.0) -> list[KafkaRecord]:
    """Every record with start[p] <= offset < end[p] in each partition of `end`."""
    from kafka import TopicPartition

    wanted = {p: (start.get(p, 0), stop) for p, stop in end.items() if stop > start.get(p, 0)}
    if not wanted:
        return []
    consumer = _consumer(bootstrap)
    records: list[KafkaRecord] = []
    try:
        parts = {p: TopicPartition(topic, p) for p in wanted}
        consumer.assign(list(parts.values()))
        for p, (first, _) in wanted.items():
            consumer.seek(parts[p], first)
        pending = set(wanted)
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise SandboxError(f"reading the truth back from Kafka topic {topic} timed out "
                                   f"after {timeout:.0f} s (partitions left: {sorted(pending)})")
            for tp, batch in consumer.poll(timeout_ms=1000, max_records=5000).items():
                stop = wanted[tp.partition][1]
                records.extend(KafkaRecord(tp.partition, m.offset, m.key, m.value)
                               for m in batch if m.offset < stop)
            pending = {p for p in pending if consumer.position(parts[p]) < wanted[p][1]}
    finally:
        consumer.close()
    return records


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
