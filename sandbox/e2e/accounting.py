"""Any pipeline's figures, by identity: the run's records read back from Kafka and parsed in the
pipeline's format, matched to the documents the index holds at the end.

The identity is the one declared (`--identity`, mwaa.yaml Sandbox.e2e.identity), else derived
and said: the Kafka coordinates when the documents' ids are `<topic>-<partition>-<offset>`, else a
fingerprint of the record fields the index also holds. Without any, the figures are totals and
say so. The reference queries are checked against the parsed records only when every record
gives the fields they need; otherwise they are SKIPPED with the reason.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from sandbox.e2e import checks, formats, reference
from sandbox.e2e.es import Es
from sandbox.e2e.identity import Accounting, Identity, doc_identity, record_identity, tally
from sandbox.e2e.result import Check, E2EResult, skipped
from sandbox.e2e.truth import KafkaRecord

QUERY_CHECKS = ("query_errors_on_endpoint", "query_top_endpoints", "query_per_minute")
EXAMPLES = 5


@dataclass
class Parsed:
    """The run's records in the pipeline's format (fields None where a record did not parse)."""
    fmt: formats.RecordFormat | None
    records: list[tuple[KafkaRecord, dict | None]] = field(default_factory=list)
    why_unknown: str = ""


UNKNOWN = "unknown record format (not JSON, not Apache common/combined log lines): give --format or a parser"


def parse_records(records: list[KafkaRecord], fmt: formats.RecordFormat | None) -> Parsed:
    """Records in `fmt`, or in the format detected from them when `fmt` is None."""
    fmt = fmt or formats.detect([r.value for r in records])
    if fmt is None:
        return Parsed(None, [(r, None) for r in records], UNKNOWN)
    return Parsed(fmt, [(r, fmt.parse(r.value)) for r in records])


def parse_topic(records: list[KafkaRecord], before: dict[int, int],
                fmt: formats.RecordFormat | None) -> tuple[Parsed, Parsed]:
    """The topic read once and parsed once, in `fmt` or the format detected from the run's
    records: (the run's records, from the offsets `before` on; every record)."""
    def in_run(record: KafkaRecord) -> bool:
        return record.offset >= before.get(record.partition, 0)

    fmt = fmt or formats.detect([r.value for r in records if in_run(r)])
    everything = parse_records(records, fmt) if fmt else Parsed(None, [(r, None) for r in records], UNKNOWN)
    run = Parsed(everything.fmt, [(r, f) for r, f in everything.records if in_run(r)], everything.why_unknown)
    return run, everything


def choose_identity(declared: Identity | None, topic: str, parsed: Parsed, es: Es, index: str) -> Identity | None:
    if declared is not None:
        return declared
    sample = [h.get("_id", "") for _, h in zip(range(50), es.scan(index, source=[], size=50))]
    pattern = re.compile(rf"{re.escape(topic)}-\d+-\d+")
    if sample and all(pattern.fullmatch(str(i)) for i in sample):
        return Identity.parse("coordinates")
    fields = next((f for _, f in parsed.records if f), None)
    shared = [name for name in (fields or {}) if name in es.field_names(index)]
    return Identity.parse("fingerprint:" + ",".join(shared)) if shared else None


def index_ids(es: Es, index: str) -> set[str]:
    """The document ids in the index now (before the consumer runs)."""
    return {h["_id"] for h in es.scan(index, source=[])}


def account(result: E2EResult, parsed: Parsed, identity: Identity | None, es: Es, index: str,
            topic: str, ids_before: set[str], added_total: int) -> None:
    """Lost, duplicated and unidentified records of the run, with examples, into `result`."""
    result.produced = len(parsed.records)
    if identity is None:
        _by_totals(result, added_total)
        return
    result.identity = identity.describe()
    wanted = {i for r, f in parsed.records if (i := record_identity(identity, topic, r, f)) is not None}
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    for hit in es.scan(index):
        key = doc_identity(identity, topic, hit)
        if key in wanted:
            after[key] += 1
            if hit.get("_id") in ids_before:
                before[key] += 1
    tallied = tally(identity, topic, parsed.records, before, after, examples=EXAMPLES)
    _record(result, tallied)


def _record(result: E2EResult, t: Accounting) -> None:
    result.lost, result.duplicates = t.lost, t.duplicates
    result.indexed = t.produced - t.lost - t.unidentified
    result.examples = {"lost": [vars(e) for e in t.lost_examples],
                       "duplicates": [vars(e) for e in t.duplicate_examples],
                       "unidentified": [vars(e) for e in t.unidentified_examples]}
    result.checks += [checks.loss_check(t.produced - t.unidentified, result.indexed),
                      checks.duplicates_check(t.duplicates)]
    if t.unidentified:
        result.checks.append(Check("identified", False, "0", str(t.unidentified),
                                   f"{t.unidentified} records have no {result.identity}: "
                                   "their delivery could not be decided"))
    if t.preexisting:
        result.notes.append(f"{t.preexisting} identities were already in the index before the run "
                            "(counted as present)")


def _by_totals(result: E2EResult, added: int) -> None:
    result.identity = "none (totals)"
    result.indexed = min(added, result.produced)
    result.duplicates = max(added - result.produced, 0)
    result.lost = result.produced - result.indexed
    result.checks += [checks.loss_check(result.produced, result.indexed),
                      checks.duplicates_check(result.duplicates)]
    result.notes.append("no identity declared and none derivable (no coordinates in the document ids, "
                        "no record field in the index): lost and duplicated are counted by totals, "
                        "exact only if nothing else writes to the index; declare --identity")


def query_checks(result: E2EResult, everything: Parsed, identity: Identity | None, es: Es, index: str,
                 topic: str) -> None:
    """The three reference queries, against the truth of the whole topic (the index holds it all)."""
    if everything.fmt is None:
        result.checks += [skipped(n, everything.why_unknown) for n in QUERY_CHECKS]
        return
    views, missing = _views(everything, identity, topic)
    if missing:
        why = f"{missing[1]} of the topic's records lack {missing[0]} (e.g. offset {missing[2]}): no expectation"
        result.checks += [skipped(n, why) for n in QUERY_CHECKS]
        return
    absent = reference.REFERENCE_FIELDS - es.field_names(index)
    if absent:
        why = f"the index has no field {', '.join(sorted(absent))} the queries use"
        result.checks += [skipped(n, why) for n in QUERY_CHECKS]
        return
    result.checks.append(checks.errors_on_endpoint_check(es.search(index, reference.errors_on_endpoint_query()), views))
    result.checks.append(checks.top_endpoints_check(es.search(index, reference.top_endpoints_query()), views))
    check, series = checks.per_minute_check(es.search(index, reference.per_minute_query()), views)
    result.checks.append(check)
    result.per_minute = series


def _views(parsed: Parsed, identity: Identity | None, topic: str):
    """(query records, one per identity; (missing fields, how many records, first offset) or None)."""
    views: dict = {}
    bad: list[tuple[KafkaRecord, list[str]]] = []
    for n, (rec, fields) in enumerate(parsed.records):
        view = formats.query_view(fields) if fields is not None else None
        if view is None:
            bad.append((rec, formats.missing_query_fields(fields) if fields is not None else ["a parse"]))
            continue
        key = record_identity(identity, topic, rec, fields) if identity else None
        views.setdefault(key if key is not None else n, view)
    if bad:
        return list(views.values()), (", ".join(bad[0][1]), len(bad), bad[0][0].offset)
    return list(views.values()), None
