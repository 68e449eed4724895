"""Logs Insights over the fixed events of conftest.py; every expected answer is worked out by hand."""

from __future__ import annotations

import pytest

from sandbox.logsearch.insights_eval import DEFAULT_LIMIT, evaluate
from .sample_events import BASE_MS, MESSAGES, at


def rows(query, events):
    return evaluate(query, events).rows


def column(query, events, name):
    return [row.get(name) for row in rows(query, events)]


def test_filter_like_regex_returns_matches_newest_first_with_default_columns(events):
    result = evaluate("filter @message like /ERROR/", events)
    assert result.columns == ["@timestamp", "@message"]
    # ERROR is in E5, E7, E8, E10, E13, E15, E18; newest first.
    assert [r["@message"] for r in result.rows] == [MESSAGES[e] for e in
                                                     ("E5", "E18", "E10", "E15", "E8", "E13", "E7")]
    assert result.rows[0]["@timestamp"] == "2026-11-22 12:14:59.000"
    assert result.scanned == 20


def test_filter_on_json_field_and_fields_projection(events):
    result = evaluate('filter level = "ERROR" | fields @timestamp, path, latency', events)
    assert result.columns == ["@timestamp", "path", "latency"]
    assert result.rows == [
        {"@timestamp": "2026-11-22 12:14:00.000", "path": "/login", "latency": "1000"},
        {"@timestamp": "2026-11-22 12:08:20.000", "path": "/health", "latency": "80"},
        {"@timestamp": "2026-11-22 12:02:30.000", "path": "/api/v1/dags", "latency": "450"},
    ]


def test_numeric_comparisons_and_sort_ascending(events):
    # latencies 120 450 300 80 50 200 1000; in (100, 450]: 120 450 300 200
    query = "filter latency > 100 and latency <= 450 | fields latency | sort latency asc"
    assert column(query, events, "latency") == ["120", "200", "300", "450"]


def test_in_list_or_like_string(events):
    # level WARN (E14) or ERROR (E13 E15 E18), or "WARNING" in the message (E3): 5
    query = 'filter level in ["WARN", "ERROR"] or @message like "WARNING" | stats count(*) as n'
    assert rows(query, events) == [{"n": "5"}]


def test_not_and_not_like(events):
    assert rows("filter not (@message like /ERROR/) | stats count(*) as n", events) == [{"n": "13"}]
    # INFO is in E1 E2 E4 E6 E9 E11 E12 E16 E17: the other 11 remain
    assert rows("filter @message not like /INFO/ | stats count(*) as n", events) == [{"n": "11"}]


def test_not_in(events):
    # JSON events whose level is neither INFO nor WARN: E13 E15 E18
    query = 'filter ispresent(level) and level not in ["INFO", "WARN"] | stats count(*) as n'
    assert rows(query, events) == [{"n": "3"}]


def test_comparison_with_a_missing_field_is_false(events):
    assert rows("filter latency < 100000 | stats count(*) as n", events) == [{"n": "7"}]


def test_regex_match_operator_with_inline_flag(events):
    assert column("filter @message =~ /(?i)connection REFUSED/", events, "@message") == [MESSAGES["E10"]]


def test_stats_aggregates_by_field(events):
    query = ("filter ispresent(level) | stats count(*) as n, sum(latency) as total, avg(latency) as mean,"
             " min(latency) as lo, max(latency) as hi by level")
    assert rows(query, events) == [
        {"level": "ERROR", "n": "3", "total": "1530", "mean": "510", "lo": "80", "hi": "1000"},
        {"level": "INFO", "n": "3", "total": "370", "mean": "123.333333", "lo": "50", "hi": "200"},
        {"level": "WARN", "n": "1", "total": "300", "mean": "300", "lo": "300", "hi": "300"},
    ]


def test_stats_default_column_names_and_missing_group(events):
    result = evaluate("stats count(*), count(level) by level", events)
    assert result.columns == ["level", "count(*)", "count(level)"]
    # events without a level form one group; it sorts last and counts 0 levels
    assert result.rows[-1] == {"count(*)": "13", "count(level)": "0"}
    assert [r.get("level") for r in result.rows] == ["ERROR", "INFO", "WARN", None]


def test_stats_by_bin_5m(events):
    result = evaluate("stats count(*) as n by bin(5m)", events)
    assert result.columns == ["bin(5m)", "n"]
    assert result.rows == [
        {"bin(5m)": "2026-11-22 12:00:00.000", "n": "7"},  # E1 E2 E6 E7 E9 E12 E13
        {"bin(5m)": "2026-11-22 12:05:00.000", "n": "7"},  # E3 E8 E10 E14 E15 E19 E20
        {"bin(5m)": "2026-11-22 12:10:00.000", "n": "6"},  # E4 E5 E11 E16 E17 E18
    ]


def test_errors_per_10_minutes(events):
    query = "filter @message like /ERROR/ | stats count(*) as errors by bin(10m) as window"
    assert rows(query, events) == [{"window": "2026-11-22 12:00:00.000", "errors": "5"},
                                   {"window": "2026-11-22 12:10:00.000", "errors": "2"}]


def test_stats_by_log_group(events):
    assert rows("stats count(*) as n by @log", events) == [
        {"@log": "airflow-test-Scheduler", "n": "5"}, {"@log": "airflow-test-Task", "n": "6"},
        {"@log": "airflow-test-WebServer", "n": "2"}, {"@log": "airflow-test-Worker", "n": "7"}]


def test_sort_by_stats_column_text_and_limit(events):
    query = "stats count(*) by @logStream | sort count(*) desc | limit 1"
    assert rows(query, events) == [{"@logStream": "scheduler-1", "count(*)": "5"}]


def test_filter_after_stats(events):
    query = "stats count(*) as n by @logStream | filter n = 3 | display @logStream"
    assert column(query, events, "@logStream") == [
        "dag_id=etl/run_id=manual__1/task_id=extract/attempt=1.log",
        "dag_id=etl/run_id=manual__1/task_id=load/attempt=1.log", "worker-b"]


def test_parse_glob(events):
    query = ("parse @message '\"* * HTTP/1.1\" * *' as method, url, status, bytes"
             " | filter ispresent(status) | fields method, url, status, bytes | sort status desc")
    assert rows(query, events) == [
        {"method": "POST", "url": "/login", "status": "302", "bytes": "0"},
        {"method": "GET", "url": "/home", "status": "200", "bytes": "512"},
    ]


def test_parse_keeps_events_that_do_not_match(events):
    query = 'parse @message "Loading * rows" as nrows | stats count(*) as n, count(nrows) as parsed, sum(nrows) as s'
    assert rows(query, events) == [{"n": "20", "parsed": "1", "s": "120"}]


def test_parse_regex_named_groups(events):
    query = r"parse @message /\{(?<module>\w+)\.py:(?<line>\d+)\}/ | filter ispresent(module) | display module, line"
    assert rows(query, events) == [{"module": "standard_task_runner", "line": "107"},
                                   {"module": "taskinstance", "line": "2"},
                                   {"module": "taskinstance", "line": "1"}]


def test_sort_desc_and_limit(events):
    query = "filter ispresent(latency) | fields @timestamp, latency | sort latency desc | limit 3"
    assert rows(query, events) == [{"@timestamp": "2026-11-22 12:14:00.000", "latency": "1000"},
                                   {"@timestamp": "2026-11-22 12:02:30.000", "latency": "450"},
                                   {"@timestamp": "2026-11-22 12:05:00.000", "latency": "300"}]


def test_multi_key_sort(events):
    query = "filter ispresent(level) | sort level asc, latency desc | fields level, latency"
    assert [(r["level"], r["latency"]) for r in rows(query, events)] == [
        ("ERROR", "1000"), ("ERROR", "450"), ("ERROR", "80"),
        ("INFO", "200"), ("INFO", "120"), ("INFO", "50"), ("WARN", "300")]


def test_natural_sort_puts_text_before_numbers():
    events = [{"@timestamp": BASE_MS + i, "@message": f'{{"v": {v}}}'} for i, v in
              enumerate(['"b10"', "2", '"b9"', "10", '"A"'])]
    assert column("fields v | sort v asc", events, "v") == ["A", "b9", "b10", "2", "10"]


def test_display_replaces_the_columns(events):
    result = evaluate("fields @timestamp, @message, level | filter level = 'WARN' | display level", events)
    assert (result.columns, result.rows) == (["level"], [{"level": "WARN"}])


def test_functions(events):
    # paths longer than 6: /api/v1/dags (E16 E13 E12, newest first), /health (E15 E14)
    query = "filter strlen(path) > 6 | fields toupper(level) as lvl, path | sort path asc"
    assert [(r["lvl"], r["path"]) for r in rows(query, events)] == [
        ("INFO", "/api/v1/dags"), ("ERROR", "/api/v1/dags"), ("INFO", "/api/v1/dags"),
        ("ERROR", "/health"), ("WARN", "/health")]
    assert rows("filter tolower(level) = 'warn' | fields tolower(level)", events) == [{"tolower(level)": "warn"}]
    assert rows("filter isempty(user.name) | stats count(*) as n", events) == [{"n": "15"}]


def test_nested_json_fields_are_dotted(events):
    assert column('filter user.name = "bob" | fields latency', events, "latency") == ["1000", "450"]


def test_arithmetic(events):
    query = "filter ispresent(latency) | fields latency / 1000 as seconds, latency - 50 * 2 as d | sort seconds desc | limit 2"
    assert rows(query, events) == [{"seconds": "1", "d": "900"}, {"seconds": "0.45", "d": "350"}]


def test_timestamp_compares_as_time(events):
    assert rows('filter @timestamp >= "2026-11-22 12:14:00.000" | stats count(*) as n', events) == [{"n": "2"}]
    assert rows(f"filter @timestamp < {at('00:31')} | stats count(*) as n", events) == [{"n": "2"}]


def test_default_limit_is_1000_and_limit_overrides():
    many = [{"@timestamp": BASE_MS + i, "@message": f"line {i}"} for i in range(1205)]
    assert len(rows("fields @message", many)) == DEFAULT_LIMIT == 1000
    assert len(rows("fields @message | limit 1100", many)) == 1100
    assert rows("fields @message | limit 1", many) == [{"@message": "line 1204"}]


def test_stats_over_no_events_returns_no_rows(events):
    assert rows("filter level = 'FATAL' | stats count(*)", events) == []


@pytest.mark.parametrize("query", ["FILTER level = 'WARN' | STATS count(*) as n", "filter level='WARN'|stats count(*) as n"])
def test_case_of_commands_and_spacing(events, query):
    assert rows(query, events) == [{"n": "1"}]
