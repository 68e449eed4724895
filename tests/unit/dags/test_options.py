"""weblogs.options: the run conf of log_producer and log_consumer, with defaults and validation."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from weblogs import records
from weblogs.options import CONSUMER_GROUP, ConsumerOptions, ProducerOptions, seed_from_run_id

RUN_ID = "manual__2026-11-22T12:03:04.567890+00:00"
LOGICAL = datetime(2026, 11, 22, 12, 3, 4, 567890, tzinfo=timezone.utc)


def producer(conf):
    return ProducerOptions.from_conf(conf, RUN_ID, LOGICAL)


def test_producer_defaults():
    opts = producer(None)
    assert (opts.count, opts.minutes, opts.malformed, opts.topic) == (15000, 15, 0, records.TOPIC)
    assert opts.start == datetime(2026, 11, 22, 12, 3, tzinfo=timezone.utc)  # floored to the minute
    assert opts.seed == seed_from_run_id(RUN_ID)


def test_seed_from_run_id_is_stable_and_run_specific():
    assert seed_from_run_id(RUN_ID) == seed_from_run_id(RUN_ID)
    assert seed_from_run_id(RUN_ID) != seed_from_run_id(RUN_ID + "x")
    assert 0 <= seed_from_run_id(RUN_ID) < 2**31


def test_producer_conf_overrides():
    opts = producer({"count": "100", "seed": 7, "start": "2026-01-01T00:00:00Z", "minutes": 5, "malformed": 3,
                     "topic": "other"})
    assert (opts.count, opts.seed, opts.minutes, opts.malformed, opts.topic) == (100, 7, 5, 3, "other")
    assert opts.start == datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("conf, message", [
    ({"count": -1}, "count"),
    ({"count": "many"}, "count"),
    ({"seed": True}, "seed"),
    ({"minutes": 0}, "minutes"),
    ({"start": "noon"}, "start"),
    ({"topic": ""}, "topic"),
    ({"cuont": 5}, "unknown conf key"),
])
def test_producer_conf_errors_name_the_key(conf, message):
    with pytest.raises(ValueError, match=message):
        producer(conf)


def test_consumer_defaults():
    opts = ConsumerOptions.from_conf({})
    assert opts == ConsumerOptions(group_id=CONSUMER_GROUP, auto_offset_reset="earliest", topic=records.TOPIC,
                                   index=records.INDEX, deadletter_index=records.DEADLETTER_INDEX, max_seconds=600,
                                   fail_after_index_once=False)
    assert CONSUMER_GROUP == "log_consumer_group"


def test_consumer_conf_overrides_and_derived_deadletter_index():
    opts = ConsumerOptions.from_conf({"group_id": "g", "auto_offset_reset": "latest", "topic": "t",
                                      "index": "aws-mwaa-production-test", "max_seconds": "30",
                                      "fail_after_index_once": "true"})
    assert (opts.group_id, opts.auto_offset_reset, opts.topic, opts.max_seconds) == ("g", "latest", "t", 30)
    assert opts.deadletter_index == "aws-mwaa-production-test-deadletter" and opts.fail_after_index_once is True


@pytest.mark.parametrize("conf, message", [
    ({"auto_offset_reset": "smallest"}, "auto_offset_reset"),
    ({"max_seconds": 0}, "max_seconds"),
    ({"fail_after_index_once": "maybe"}, "fail_after_index_once"),
    ({"group": "g"}, "unknown conf key"),
])
def test_consumer_conf_errors_name_the_key(conf, message):
    with pytest.raises(ValueError, match=message):
        ConsumerOptions.from_conf(conf)
