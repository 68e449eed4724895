"""weblogs.records: deterministic generation, validation and the Elasticsearch shape (stdlib only)."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from weblogs import records

START = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
TIMESTAMP_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def sample(count=2000, seed=7, start=START, minutes=15):
    return list(records.generate(count, seed, start, minutes))


def test_same_inputs_give_identical_records():
    assert sample() == sample()


def test_different_seed_gives_different_records():
    first, second = sample(seed=7), sample(seed=8)
    assert {r["event_id"] for r in first}.isdisjoint(r["event_id"] for r in second)
    assert [r["timestamp"] for r in first] != [r["timestamp"] for r in second]


def test_count_is_exact():
    assert len(sample(count=0)) == 0
    assert len(sample(count=15000)) == 15000


def test_every_generated_record_parses_and_has_every_field():
    for record in sample():
        assert set(record) == set(records.REQUIRED_FIELDS)
        assert records.parse(records.encode(record)) == record


def test_event_ids_are_unique_and_derived_from_seed_and_index():
    generated = sample(count=5000, seed=42)
    ids = [r["event_id"] for r in generated]
    assert len(set(ids)) == len(ids)
    assert ids == [records.event_id(42, index) for index in range(5000)]
    assert records.event_id(42, 0) == records.event_id(42, 0) != records.event_id(43, 0)


def test_event_ids_do_not_depend_on_the_window():
    later = sample(start=START + timedelta(days=1), minutes=5)
    assert [r["event_id"] for r in later] == [r["event_id"] for r in sample()]


@pytest.mark.parametrize("minutes", [1, 15, 60])
def test_timestamps_lie_in_the_window_in_the_documented_format(minutes):
    for record in sample(minutes=minutes):
        assert TIMESTAMP_FORMAT.fullmatch(record["timestamp"]), record["timestamp"]
        moment = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
        assert START <= moment < START + timedelta(minutes=minutes)


def test_naive_start_means_utc():
    naive = list(records.generate(50, 7, START.replace(tzinfo=None)))
    assert naive == sample(count=50)


def test_status_distribution_has_every_status_and_about_twelve_percent_500():
    counts = Counter(r["status"] for r in sample(count=15000))
    assert set(counts) == set(records.STATUSES)
    assert 0.10 <= counts[500] / 15000 <= 0.15
    assert counts.most_common(1)[0][0] == 200


def test_fields_have_plausible_values():
    for record in sample(count=500):
        assert isinstance(record["status"], int) and isinstance(record["size"], int) and record["size"] >= 0
        assert record["endpoint"] in records.ENDPOINTS and record["method"] in records.METHODS
        assert all(0 <= int(octet) <= 255 for octet in record["ip"].split(".")) and record["ip"].count(".") == 3
        assert isinstance(record["referrer"], str) and record["user_agent"]


def test_encode_is_compact_utf8_json_and_key_is_the_event_id():
    record = sample(count=1)[0]
    payload = records.encode(record)
    assert payload == json.dumps(record, separators=(",", ":")).encode("utf-8")
    assert json.loads(payload.decode("utf-8")) == record
    assert records.key(record) == record["event_id"].encode("utf-8")


def test_malformed_payloads_are_deterministic_and_all_rejected_with_a_reason():
    payloads = records.malformed(25, 3)
    assert payloads == records.malformed(25, 3) and len(payloads) == 25
    reasons = []
    for raw in payloads:
        with pytest.raises(records.InvalidRecord) as caught:
            records.parse(raw)
        assert caught.value.reason and str(caught.value) == caught.value.reason
        reasons.append(caught.value.reason)
    kinds = {reason.split(":")[0] for reason in reasons}
    assert {"not JSON", "not a JSON object", "missing field", "status", "timestamp"} <= kinds


def test_invalid_record_is_a_value_error():
    assert issubclass(records.InvalidRecord, ValueError)


def _broken(**changes):
    record = sample(count=1)[0]
    record.update(changes)
    return {k: v for k, v in record.items() if v is not ...}


@pytest.mark.parametrize("raw, reason", [
    (b"\xff\xfe not utf-8", "not JSON"),
    (b"", "not JSON"),
    (b'"just a string"', "not a JSON object"),
    (b"null", "not a JSON object"),
])
def test_parse_rejects_non_objects(raw, reason):
    with pytest.raises(records.InvalidRecord, match=reason):
        records.parse(raw)


@pytest.mark.parametrize("changes, field", [
    ({"status": "500"}, "status"),
    ({"status": True}, "status"),
    ({"status": 201}, "status"),
    ({"endpoint": "home"}, "endpoint"),
    ({"endpoint": ""}, "endpoint"),
    ({"timestamp": "2026-11-22 12:00:00"}, "timestamp"),
    ({"timestamp": "2026-11-22T12:00:00+02:00"}, "timestamp"),
    ({"timestamp": "2026-02-30T12:00:00Z"}, "timestamp"),
    ({"timestamp": 1700000000}, "timestamp"),
    ({"size": -1}, "size"),
    ({"size": 1.5}, "size"),
    ({"ip": "999.1.1.1"}, "ip"),
    ({"method": "FETCH"}, "method"),
    ({"event_id": ""}, "event_id"),
    ({"referrer": None}, "referrer"),
    ({"user_agent": ...}, "missing field: user_agent"),
])
def test_parse_rejects_each_bad_field(changes, field):
    with pytest.raises(records.InvalidRecord) as caught:
        records.parse(records.encode(_broken(**changes)))
    assert caught.value.reason.startswith(field)


def test_parse_accepts_offset_and_plain_seconds():
    record = _broken(timestamp="2026-11-22T12:00:00+00:00")
    assert records.parse(records.encode(record))["timestamp"] == "2026-11-22T12:00:00+00:00"
    assert records.parse(records.encode(_broken(timestamp="2026-11-22T12:00:00Z")))


def test_to_document_has_every_field_with_status_as_a_string():
    record = sample(count=1)[0]
    document = records.to_document({**record, "extra": "dropped"})
    assert document["status"] == str(record["status"]) and isinstance(document["status"], str)
    assert set(document) == set(records.REQUIRED_FIELDS)
    assert {k: v for k, v in document.items() if k != "status"} == {k: v for k, v in record.items() if k != "status"}
    assert isinstance(record["status"], int)  # the record itself is left alone


def test_deadletter_document_keeps_the_raw_payload_and_a_valid_timestamp():
    document = records.deadletter_document(b"bad \xff", "not JSON", records.TOPIC, 2, 41, 1795348800123)
    assert document == {"raw": "bad \ufffd", "reason": "not JSON", "topic": records.TOPIC, "partition": 2,
                        "offset": 41, "timestamp": "2026-11-22T12:00:00.123Z"}
    assert "timestamp" not in records.deadletter_document(b"x", "r", "t", 0, 0, -1)
    assert records.deadletter_id(records.TOPIC, 2, 41) == "AWS-MWAA-Production-2-41"


def test_format_and_parse_timestamp_round_trip():
    moment = datetime(2026, 11, 22, 13, 1, 2, 345678, tzinfo=timezone(timedelta(hours=1)))
    text = records.format_timestamp(moment)
    assert text == "2026-11-22T12:01:02.345Z"
    assert records.parse_timestamp(text) == moment.replace(microsecond=345000)


def test_parse_start_accepts_iso_and_assumes_utc_when_naive():
    assert records.parse_start("2026-11-22T12:00:00Z") == START
    assert records.parse_start("2026-11-22T12:00:00") == START
    assert records.parse_start("2026-11-22T13:00:00+01:00") == START
    with pytest.raises(ValueError):
        records.parse_start("noon")


def _pattern_matches(pattern: str, name: str) -> bool:
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), name) is not None


def test_index_template_covers_both_indices_and_maps_the_query_fields():
    patterns = records.INDEX_TEMPLATE["index_patterns"]
    for name in (records.INDEX, records.DEADLETTER_INDEX):
        assert any(_pattern_matches(p, name) for p in patterns), name
    properties = records.INDEX_TEMPLATE["template"]["mappings"]["properties"]
    assert properties["timestamp"]["type"] == "date"
    for field in ("endpoint", "status"):
        assert properties[field]["type"] == "text" and properties[field]["fields"]["keyword"]["type"] == "keyword"
    assert properties["event_id"]["type"] == "keyword" and properties["ip"]["type"] == "ip"
    assert properties["size"]["type"] == "long" and properties["method"]["type"] == "keyword"
    assert set(properties) == set(records.REQUIRED_FIELDS)


def test_constants():
    assert (records.TOPIC, records.INDEX, records.PARTITIONS) == ("AWS-MWAA-Production", "aws-mwaa-production", 3)
    assert records.DEADLETTER_INDEX == "aws-mwaa-production-deadletter"
    assert records.ENDPOINTS == ("/api/users", "/home", "/about", "/contact", "/services")
    assert records.STATUSES == (200, 301, 302, 400, 404, 500)
