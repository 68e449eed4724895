"""Lost and duplicated records counted identity by identity, with figures worked out by hand."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from sandbox.e2e import formats, identity
from sandbox.e2e.identity import Example, Identity
from sandbox.e2e.truth import KafkaRecord
from sandbox.errors import ConfigError

TOPIC = "AWS-MWAA-Production"
APACHE = (b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 500 2326 '
          b'"-" "curl/8"')
EVENT_ID = Identity.parse("event_id")


def rec(partition: int, offset: int, event_id: str | None) -> tuple[KafkaRecord, dict | None]:
    fields = {"n": offset} if event_id is None else {"event_id": event_id}
    return KafkaRecord(partition, offset, None, json.dumps(fields).encode()), fields


@pytest.mark.parametrize("text, kind, fields, described", [
    ("event_id", "field", ("event_id",), "field event_id"),
    (" meta.id ", "field", ("meta.id",), "field meta.id"),
    ("@timestamp", "field", ("@timestamp",), "field @timestamp"),
    ("coordinates", "coordinates", (), "Kafka coordinates (topic-partition-offset)"),
    ("fingerprint:timestamp, ip,request", "fingerprint", ("timestamp", "ip", "request"),
     "fingerprint of timestamp, ip, request"),
])
def test_identity_forms(text, kind, fields, described):
    parsed = Identity.parse(text)
    assert (parsed.kind, parsed.fields, parsed.describe()) == (kind, fields, described)


@pytest.mark.parametrize("text", ["", "  ", "event id", "meta..id", ".id", "fingerprint",
                                  "fingerprint:", "fingerprint:a,,b", "field:x", "a,b"])
def test_bad_identity_names_the_three_forms(text):
    with pytest.raises(ConfigError) as caught:
        Identity.parse(text)
    line = caught.value.one_line()
    assert "FIELD" in line and "coordinates" in line and "fingerprint:FIELD,FIELD" in line


def test_record_identity_for_each_kind():
    record = KafkaRecord(2, 41, b"k", b"{}")
    fields = {"event_id": "e-1", "meta": {"id": 7}, "status": 500}
    assert identity.record_identity(EVENT_ID, TOPIC, record, fields) == "e-1"
    assert identity.record_identity(Identity.parse("meta.id"), TOPIC, record, fields) == "7"
    assert identity.record_identity(Identity.parse("meta.gone"), TOPIC, record, fields) is None
    assert identity.record_identity(EVENT_ID, TOPIC, record, None) is None
    assert identity.record_identity(EVENT_ID, TOPIC, record, {"event_id": ""}) is None
    coordinates = Identity.parse("coordinates")
    assert identity.record_identity(coordinates, TOPIC, record, None) == f"{TOPIC}-2-41"
    pair = Identity.parse("fingerprint:status,meta.id")
    assert identity.record_identity(pair, TOPIC, record, fields) == '["500","7"]'
    assert identity.record_identity(pair, TOPIC, record, {"status": 500}) is None


def test_doc_identity_field_falls_back_to_the_document_id():
    assert identity.doc_identity(EVENT_ID, TOPIC, {"_id": "x", "_source": {"event_id": "e-1"}}) \
        == "e-1"
    assert identity.doc_identity(EVENT_ID, TOPIC, {"_id": "e-2", "_source": {"status": 500}}) \
        == "e-2"
    assert identity.doc_identity(EVENT_ID, TOPIC, {"_source": {}}) is None
    nested = Identity.parse("meta.id")
    assert identity.doc_identity(nested, TOPIC, {"_id": "z", "_source": {"meta": {"id": 7}}}) == "7"
    # Elasticsearch may keep a dotted key as it came
    assert identity.doc_identity(nested, TOPIC, {"_id": "z", "_source": {"meta.id": 7.0}}) == "7"


def test_doc_identity_coordinates_from_id_or_source():
    coordinates = Identity.parse("coordinates")
    expected = f"{TOPIC}-3-42"
    assert identity.doc_identity(coordinates, TOPIC, {"_id": f"{TOPIC}-3-42", "_source": {}}) \
        == expected
    by_source = {"_id": "random", "_source": {"topic": TOPIC, "partition": 3, "offset": 42}}
    assert identity.doc_identity(coordinates, TOPIC, by_source) == expected
    kafka_named = {"_id": "random", "_source": {"kafka_partition": "3", "kafka_offset": "42"}}
    assert identity.doc_identity(coordinates, TOPIC, kafka_named) == expected
    other_topic = {"_id": "r", "_source": {"topic": "other", "partition": 3, "offset": 42}}
    assert identity.doc_identity(coordinates, TOPIC, other_topic) is None
    assert identity.doc_identity(coordinates, TOPIC, {"_id": "other-3-42", "_source": {}}) is None
    assert identity.doc_identity(coordinates, TOPIC, {"_id": f"{TOPIC}-3-x", "_source": {}}) \
        is None


def test_fingerprint_normalises_apache_record_against_indexed_document():
    fingerprint = Identity.parse("fingerprint:timestamp,status,endpoint,ip")
    record = KafkaRecord(0, 5, None, APACHE)
    from_record = identity.record_identity(fingerprint, TOPIC, record,
                                           formats.APACHE_COMBINED.parse(APACHE))
    doc = {"_id": "abc", "_source": {"timestamp": "2000-10-10T20:55:36Z", "status": "500",
                                     "endpoint": "/apache_pb.gif", "ip": "127.0.0.1"}}
    assert from_record == identity.doc_identity(fingerprint, TOPIC, doc)
    assert from_record == '["971211336000","500","/apache_pb.gif","127.0.0.1"]'
    doc["_source"]["timestamp"] = "2000-10-10T20:55:37Z"
    assert from_record != identity.doc_identity(fingerprint, TOPIC, doc)


@pytest.mark.parametrize("path, left, right", [
    ("status", 500, "500"), ("status", 500.0, "500"), ("price", "1.50", 1.5),
    ("time", 971211336, "2000-10-10T20:55:36+00:00"),
    ("@timestamp", "[10/Oct/2000:13:55:36 -0700]", 971211336000),
    ("when", "Oct 10 2000, 20:55:36", "2000-10-10T20:55:36.000Z"),
])
def test_normalised_equal(path, left, right):
    assert identity.normalise(path, left) == identity.normalise(path, right)


@pytest.mark.parametrize("path, left, right", [
    ("flag", True, 1), ("status", "500", "501"), ("code", "1e5", "100000"),
    ("status", "500", "1970-01-01T00:08:20Z"),  # a number is a date only in a time field
])
def test_normalised_different(path, left, right):
    assert identity.normalise(path, left) != identity.normalise(path, right)


def test_count_identities_with_wanted_and_unidentified():
    hits = [{"_id": "a", "_source": {}}, {"_id": "x", "_source": {"event_id": "a"}},
            {"_id": "b", "_source": {}}, {"_source": {"n": 1}}, {"_id": "c", "_source": {}}]
    counts, unidentified = identity.count_identities(EVENT_ID, TOPIC, hits)
    assert counts == Counter({"a": 2, "b": 1, "c": 1}) and unidentified == 1
    counts, unidentified = identity.count_identities(EVENT_ID, TOPIC, iter(hits), {"a", "z"})
    assert counts == Counter({"a": 2}) and unidentified == 1


def test_tally_by_hand():
    records = [rec(0, 0, "a"), rec(0, 1, "b"), rec(1, 0, "c"), rec(0, 2, "d"), rec(1, 1, "d"),
               rec(1, 2, "e"), rec(0, 6, "e"), rec(0, 3, "p"), rec(0, 4, "q"), rec(1, 3, None),
               (KafkaRecord(0, 5, None, b"\xff not json " + b"x" * 200), None)]
    random.Random(7).shuffle(records)
    before = Counter({"p": 1, "q": 1, "zzz": 4})
    after = Counter({"a": 1, "c": 3, "d": 2, "e": 1, "p": 1, "q": 2, "zzz": 9})
    result = identity.tally(EVENT_ID, TOPIC, records, before, after)
    # a fine; b lost 1; c 2 extra; d twice, twice indexed; e twice, once indexed -> lost 1;
    # p idempotent re-write and q non-idempotent re-write of preexisting documents are fine;
    # zzz is not this run's
    assert (result.produced, result.identities, result.lost, result.duplicates,
            result.unidentified, result.preexisting) == (11, 7, 2, 2, 2, 2)
    assert result.lost_examples == [Example(0, 1, "b", '{"event_id": "b"}', 1),
                                    Example(0, 6, "e", '{"event_id": "e"}', 1)]
    assert result.duplicate_examples == [Example(1, 0, "c", '{"event_id": "c"}', 2)]
    garbled = result.unidentified_examples[0]
    assert (garbled.partition, garbled.offset, garbled.identity, garbled.count) == (0, 5, None, 1)
    assert garbled.excerpt.startswith("\ufffd not json") and len(garbled.excerpt) == 120
    assert result.unidentified_examples[1] == Example(1, 3, None, '{"n": 3}', 1)
    assert json.loads(json.dumps(result.to_json()))["lost_examples"][1]["identity"] == "e"


def test_tally_preexisting_duplicates_are_not_this_runs():
    records = [rec(0, 0, "a"), rec(0, 1, "b")]
    result = identity.tally(EVENT_ID, TOPIC, records, Counter({"a": 2, "b": 1}),
                            Counter({"a": 2, "b": 3}))
    # a: two documents before, an idempotent re-write keeps two; b: one before + 1 new + 1 extra
    assert (result.lost, result.duplicates, result.preexisting) == (0, 1, 2)


def test_tally_examples_limit_and_order():
    records = [rec(p, o, f"id-{p}-{o}") for p in (2, 0, 1) for o in (9, 3)]
    result = identity.tally(EVENT_ID, TOPIC, records, Counter(), Counter(), examples=3)
    assert result.lost == 6 and result.identities == 6
    assert [(e.partition, e.offset) for e in result.lost_examples] == [(0, 3), (0, 9), (1, 3)]
    assert identity.tally(EVENT_ID, TOPIC, records, Counter(), Counter(), examples=0) \
        .lost_examples == []
