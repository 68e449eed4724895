"""Pure comparisons: Elasticsearch's answers against what the Kafka truth says, as Checks."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

from sandbox.e2e import reference
from sandbox.e2e.reference import LogRecord
from sandbox.e2e.result import Check, MinuteCount, skipped


def loss_check(produced: int, indexed: int) -> Check:
    lost = max(produced - indexed, 0)
    return Check("no_loss", lost == 0, str(produced), str(indexed),
                 f"lost {lost} of {produced}" if lost else f"all {produced} records indexed")


def duplicates_check(duplicates: int) -> Check:
    return Check("no_duplicates", duplicates == 0, "0", str(duplicates),
                 f"{duplicates} duplicate documents" if duplicates else "every event id indexed once")


def dead_letter_check(dead_letter: int, malformed: int) -> Check:
    ok = dead_letter == malformed
    return Check("dead_letter", ok, str(malformed), str(dead_letter),
                 f"{dead_letter} dead-lettered, {malformed} malformed records produced")


def produced_check(acknowledged: int | None, produced: int) -> Check:
    if acknowledged is None:  # nothing to compare with: not a pass
        return skipped("producer_acknowledged", f"the producer reported no count (no `acknowledged` in its "
                                                f"return value) to compare with the {produced} records the topic gained")
    ok = acknowledged == produced
    return Check("producer_acknowledged", ok, str(acknowledged), str(produced),
                 f"producer acknowledged {acknowledged}, the topic gained {produced}")


def _hit_millis(hit: dict) -> int | None:
    stamp = (hit.get("_source") or {}).get("timestamp")
    try:
        parsed = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return reference.millis(parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc))


def errors_on_endpoint_check(response: dict, records: list[LogRecord]) -> Check:
    total, top = reference.expected_errors_on_endpoint(records)
    hits = response.get("hits", {})
    got = [_hit_millis(h) for h in hits.get("hits", [])]
    reported = hits.get("total", {})
    total_ok = reported.get("relation") != "eq" or reported.get("value") == total
    ok = got == top and total_ok
    detail = (f"{len(got)} newest of {total} /services 500s match" if ok else
              f"expected {len(top)} hits (total {total}), got {len(got)} (total {reported.get('value')}); "
              f"first difference at position {_first_difference(top, got)}")
    return Check("query_errors_on_endpoint", ok, f"total {total}, top {len(top)}",
                 f"total {reported.get('value')}, top {len(got)}", detail)


def top_endpoints_check(response: dict, records: list[LogRecord]) -> Check:
    expected = reference.expected_top_endpoints(records)
    buckets = response.get("aggregations", {}).get("top_endpoints", {}).get("buckets", [])
    got = [(b.get("key"), b.get("doc_count")) for b in buckets]
    ok = _same_ranking(expected, got)
    return Check("query_top_endpoints", ok, _pairs(expected), _pairs(got),
                 "top endpoints by 500s match" if ok else "top endpoints differ")


def per_minute_check(response: dict, records: list[LogRecord]) -> tuple[Check, list[MinuteCount]]:
    expected = reference.expected_per_minute(records)
    buckets = response.get("aggregations", {}).get("per_minute", {}).get("buckets", [])
    got = {int(b["key"]): int(b["doc_count"]) for b in buckets if b.get("doc_count")}
    minutes = sorted(set(expected) | set(got))
    series = [MinuteCount(_iso_minute(m), expected.get(m, 0), got.get(m, 0)) for m in minutes]
    wrong = [s for s in series if s.expected != s.actual]
    ok = not wrong
    detail = (f"{len(minutes)} minutes match" if ok else
              f"{len(wrong)} of {len(minutes)} minutes differ, first {wrong[0].minute}: "
              f"expected {wrong[0].expected}, got {wrong[0].actual}")
    return Check("query_per_minute", ok, f"{sum(expected.values())} in {len(expected)} minutes",
                 f"{sum(got.values())} in {len(got)} minutes", detail), series


def _same_ranking(expected: list[tuple[str, int]], got: list[tuple[str, int]]) -> bool:
    """Equal counts in order; among equal counts the keys may come in any order."""
    if [c for _, c in expected] != [c for _, c in got]:
        return False
    groups: dict[int, set] = defaultdict(set)
    for key, count in expected:
        groups[count].add(key)
    return all(key in groups[count] for key, count in got) or _boundary_tie(expected, got)


def _boundary_tie(expected, got) -> bool:
    # A tie at the cut-off may legitimately keep a different key than ours.
    if not expected:
        return False
    last = expected[-1][1]
    inner_e = {k for k, c in expected if c != last}
    inner_g = {k for k, c in got if c != last}
    return inner_e == inner_g


def _first_difference(a: list, b: list) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def _pairs(pairs: list[tuple[str, int]]) -> str:
    return ", ".join(f"{k}={c}" for k, c in pairs)


def _iso_minute(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
