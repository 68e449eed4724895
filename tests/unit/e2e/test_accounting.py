"""Any pipeline's figures by identity: an index (faked at the Es seam) against the run's records."""

from __future__ import annotations

import json

from sandbox.e2e import accounting, formats
from sandbox.e2e.identity import Identity
from sandbox.e2e.result import E2EResult
from sandbox.e2e.truth import KafkaRecord

TOPIC = "weblogs"
LINE = '10.0.0.{n} - - [03/Dec/2026:07:0{m}:00 +0100] "GET {path} HTTP/1.1" {status} 512 "-" "curl/8"'


class FakeEs:
    """Just the calls accounting makes, over a list of hits."""

    def __init__(self, hits: list[dict], fields: set[str], answers: dict | None = None):
        self.hits, self.fields, self.answers = hits, fields, answers or {}

    def scan(self, index, source=None, size=5000):
        yield from self.hits

    def field_names(self, index):
        return self.fields

    def search(self, index, body):
        return self.answers.get(json.dumps(body, sort_keys=True), {"hits": {"hits": [], "total": {"value": 0, "relation": "eq"}}})


def _records(lines: list[str]) -> list[KafkaRecord]:
    return [KafkaRecord(0, n, None, line.encode()) for n, line in enumerate(lines)]


def _doc(n: int, m: int, path: str, status: int, _id: str) -> dict:
    return {"_id": _id, "_source": {"ip": f"10.0.0.{n}", "timestamp": f"2026-12-03T06:0{m}:00Z",
                                    "endpoint": path, "status": str(status), "size": 512}}


def test_a_derived_fingerprint_finds_the_lost_and_the_duplicated_line():
    lines = [LINE.format(n=n, m=n % 3, path="/services", status=500) for n in range(4)]
    parsed = accounting.parse_records(_records(lines), None)
    assert parsed.fmt is not None and parsed.fmt.name == "apache-combined"
    hits = [_doc(0, 0, "/services", 500, "a"), _doc(1, 1, "/services", 500, "b"),
            _doc(1, 1, "/services", 500, "c"), _doc(3, 0, "/services", 500, "d")]  # line 2 lost, line 1 twice
    es = FakeEs(hits, {"ip", "timestamp", "endpoint", "status", "size"})
    identity = accounting.choose_identity(None, TOPIC, parsed, es, "i")
    assert identity.kind == "fingerprint" and set(identity.fields) == {"ip", "timestamp", "endpoint", "status", "size"}
    result = E2EResult("p", "c", TOPIC, "i", "")
    accounting.account(result, parsed, identity, es, "i", TOPIC, ids_before=set(), added_total=4)
    assert (result.produced, result.lost, result.duplicates, result.indexed) == (4, 1, 1, 3)
    assert [e["offset"] for e in result.examples["lost"]] == [2]
    assert [e["offset"] for e in result.examples["duplicates"]] == [1]
    assert {c.name: c.passed for c in result.checks} == {"no_loss": False, "no_duplicates": False}


def test_coordinates_are_derived_when_the_document_ids_are_coordinates():
    parsed = accounting.parse_records(_records(["1|x", "2|y"]), None)
    assert parsed.fmt is None and "unknown record format" in parsed.why_unknown
    es = FakeEs([{"_id": f"{TOPIC}-0-{n}", "_source": {}} for n in range(2)], set())
    identity = accounting.choose_identity(None, TOPIC, parsed, es, "i")
    assert identity == Identity.parse("coordinates")
    result = E2EResult("p", "c", TOPIC, "i", "")
    accounting.account(result, parsed, identity, es, "i", TOPIC, set(), 2)
    assert (result.lost, result.duplicates) == (0, 0)


def test_without_any_identity_the_figures_are_totals_and_say_so():
    parsed = accounting.parse_records(_records(["1|x", "2|y", "3|z"]), None)
    es = FakeEs([{"_id": "r1", "_source": {"n": 1}}], {"n"})
    identity = accounting.choose_identity(None, TOPIC, parsed, es, "i")
    assert identity is None
    result = E2EResult("p", "c", TOPIC, "i", "")
    accounting.account(result, parsed, identity, es, "i", TOPIC, set(), added_total=1)
    assert (result.lost, result.identity) == (2, "none (totals)")
    assert any("counted by totals" in n for n in result.notes)


def test_records_without_the_identity_field_are_undecided_not_fine():
    parsed = accounting.parse_records(_records(['{"id": "a"}', '{"other": 1}']), formats.format_named("json", None))
    es = FakeEs([{"_id": "a", "_source": {}}], set())
    result = E2EResult("p", "c", TOPIC, "i", "")
    accounting.account(result, parsed, Identity.parse("id"), es, "i", TOPIC, set(), 1)
    check = {c.name: c for c in result.checks}["identified"]
    assert not check.passed and "could not be decided" in check.detail
    assert result.examples["unidentified"][0]["offset"] == 1


def test_query_checks_are_skipped_with_the_reason_when_no_truth_exists():
    result = E2EResult("p", "c", TOPIC, "i", "")
    unknown = accounting.parse_records(_records(["1|x"]), None)
    accounting.query_checks(result, unknown, None, FakeEs([], set()), "i", TOPIC)
    assert [c.status for c in result.checks] == ["SKIPPED"] * 3
    assert "unknown record format" in result.checks[0].detail
    result = E2EResult("p", "c", TOPIC, "i", "")
    no_status = accounting.parse_records(_records(['{"timestamp": "2026-12-03T06:00:00Z", "endpoint": "/x"}']),
                                         formats.format_named("json", None))
    accounting.query_checks(result, no_status, None, FakeEs([], {"timestamp", "endpoint", "status"}), "i", TOPIC)
    assert all(c.skipped and "lack status" in c.detail for c in result.checks)


def test_query_checks_run_against_the_parsed_lines_and_fail_on_a_wrong_answer():
    lines = [LINE.format(n=n, m=0, path="/services", status=500) for n in range(3)]
    parsed = accounting.parse_records(_records(lines), None)
    result = E2EResult("p", "c", TOPIC, "i", "")
    accounting.query_checks(result, parsed, None, FakeEs([], {"timestamp", "endpoint", "status"}), "i", TOPIC)
    checks = {c.name: c for c in result.checks}
    assert not any(c.skipped for c in checks.values())
    assert checks["query_errors_on_endpoint"].passed is False  # the fake index answers nothing
    assert "total 3" in checks["query_errors_on_endpoint"].expected


def test_the_topic_is_parsed_once_and_the_run_is_the_range_after_before():
    lines = ['{"n": 1}', '{"n": 2}', "not json", '{"n": 4}']
    records = [KafkaRecord(0, n, None, line.encode()) for n, line in enumerate(lines[:2])]
    records += [KafkaRecord(1, n, None, line.encode()) for n, line in enumerate(lines[2:])]
    run, everything = accounting.parse_topic(records, {0: 1, 1: 1}, None)
    assert [(r.partition, r.offset) for r, _ in run.records] == [(0, 1), (1, 1)]
    assert len(everything.records) == 4 and everything.fmt is run.fmt and run.fmt.name == "json"
    assert [f for _, f in everything.records][2] is None  # the old unreadable record stays unread
    run, everything = accounting.parse_topic(records, {0: 2, 1: 0}, None)  # run: "not json", {"n": 4}
    assert run.fmt is None and everything.fmt is None and "unknown record format" in run.why_unknown
