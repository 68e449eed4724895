"""The comparisons behind e2e's verdict, against answers computed by hand."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sandbox.e2e import checks, reference
from sandbox.e2e.reference import LogRecord


def rec(i, minute, second, endpoint="/services", status=500):
    stamp = datetime(2026, 11, 22, 12, minute, second, tzinfo=timezone.utc)
    return LogRecord(f"id-{i}", stamp, endpoint, status)


RECORDS = [rec(1, 0, 5), rec(2, 0, 50), rec(3, 1, 10), rec(4, 1, 20, "/home"), rec(5, 3, 0, "/home"),
           rec(6, 3, 1, "/about"), rec(7, 2, 0, status=200), rec(8, 2, 30, "/home", 404)]
MS = {r.event_id: reference.millis(r.timestamp) for r in RECORDS}


def test_loss_names_the_gap():
    check = checks.loss_check(15000, 0)
    assert not check.passed and check.detail == "lost 15000 of 15000"
    assert checks.loss_check(10, 10).passed


def test_duplicates_and_dead_letter():
    assert not checks.duplicates_check(3).passed
    assert checks.duplicates_check(0).passed
    assert checks.dead_letter_check(5, 5).passed
    assert not checks.dead_letter_check(4, 5).passed


def test_errors_on_endpoint_expected_by_hand():
    # /services with 500: ids 1, 2, 3 -> newest first 3 (12:01:10), 2 (12:00:50), 1 (12:00:05)
    total, top = reference.expected_errors_on_endpoint(RECORDS)
    assert total == 3 and top == [MS["id-3"], MS["id-2"], MS["id-1"]]
    good = {"hits": {"total": {"value": 3, "relation": "eq"}, "hits": [
        {"_source": {"timestamp": "2026-11-22T12:01:10.000Z"}},
        {"_source": {"timestamp": "2026-11-22T12:00:50Z"}},
        {"_source": {"timestamp": "2026-11-22T12:00:05+00:00"}}]}}
    assert checks.errors_on_endpoint_check(good, RECORDS).passed
    wrong_order = json.loads(json.dumps(good))
    wrong_order["hits"]["hits"].reverse()
    assert not checks.errors_on_endpoint_check(wrong_order, RECORDS).passed
    wrong_total = json.loads(json.dumps(good))
    wrong_total["hits"]["total"]["value"] = 4
    assert not checks.errors_on_endpoint_check(wrong_total, RECORDS).passed


def test_top_endpoints_expected_by_hand():
    # 500s: /services 3, /home 2, /about 1
    assert reference.expected_top_endpoints(RECORDS) == [("/services", 3), ("/home", 2), ("/about", 1)]
    response = {"aggregations": {"top_endpoints": {"buckets": [
        {"key": "/services", "doc_count": 3}, {"key": "/home", "doc_count": 2}, {"key": "/about", "doc_count": 1}]}}}
    assert checks.top_endpoints_check(response, RECORDS).passed
    response["aggregations"]["top_endpoints"]["buckets"][1]["doc_count"] = 1
    assert not checks.top_endpoints_check(response, RECORDS).passed


def test_top_endpoints_accepts_either_key_in_a_tie_at_the_cut():
    records = [rec(1, 0, 0, "/a"), rec(2, 0, 1, "/a"), rec(3, 0, 2, "/b"), rec(4, 0, 3, "/c"), rec(5, 0, 4, "/d")]
    response = {"aggregations": {"top_endpoints": {"buckets": [
        {"key": "/a", "doc_count": 2}, {"key": "/c", "doc_count": 1}, {"key": "/d", "doc_count": 1}]}}}
    assert checks.top_endpoints_check(response, records).passed


def test_per_minute_expected_by_hand():
    # 500s per minute: 12:00 -> 2, 12:01 -> 2, 12:03 -> 2 (12:02 has none)
    expected = reference.expected_per_minute(RECORDS)
    minute = lambda m: reference.millis(datetime(2026, 11, 22, 12, m, tzinfo=timezone.utc))
    assert expected == {minute(0): 2, minute(1): 2, minute(3): 2}
    buckets = [{"key": minute(0), "doc_count": 2}, {"key": minute(1), "doc_count": 2},
               {"key": minute(2), "doc_count": 0}, {"key": minute(3), "doc_count": 2}]
    check, series = checks.per_minute_check({"aggregations": {"per_minute": {"buckets": buckets}}}, RECORDS)
    assert check.passed
    assert [(s.minute, s.expected, s.actual) for s in series] == [
        ("2026-11-22T12:00:00Z", 2, 2), ("2026-11-22T12:01:00Z", 2, 2), ("2026-11-22T12:03:00Z", 2, 2)]
    buckets[3]["doc_count"] = 1
    check, _ = checks.per_minute_check({"aggregations": {"per_minute": {"buckets": buckets}}}, RECORDS)
    assert not check.passed and "12:03" in check.detail


def test_parse_accepts_a_reference_record_and_rejects_broken_ones():
    good = {"event_id": "e1", "timestamp": "2026-11-22T12:00:01.123Z", "ip": "10.0.0.1", "method": "GET",
            "endpoint": "/home", "status": 200, "size": 10, "referrer": "-", "user_agent": "curl"}
    parsed = reference.parse(json.dumps(good).encode())
    assert parsed == LogRecord("e1", datetime(2026, 11, 22, 12, 0, 1, 123000, tzinfo=timezone.utc), "/home", 200)
    for broken in (b"not json", b"[1]", json.dumps({**good, "status": 999}).encode(),
                   json.dumps({**good, "timestamp": "yesterday"}).encode(),
                   json.dumps({k: v for k, v in good.items() if k != "ip"}).encode(),
                   json.dumps({**good, "status": "500"}).encode(), None):
        assert reference.parse(broken) is None, broken


def test_a_producer_that_reports_no_count_is_skipped_not_passed():
    from sandbox.e2e.checks import produced_check

    check = produced_check(None, 1000)
    assert check.skipped and "reported no count" in check.detail and "1000 records" in check.detail
    assert produced_check(1000, 1000).passed and not produced_check(999, 1000).passed
