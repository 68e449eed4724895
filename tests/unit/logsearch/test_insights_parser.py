"""The query parser: the AST it builds, and a clear error for everything outside the subset."""

from __future__ import annotations

import pytest

from sandbox.errors import ConfigError
from sandbox.logsearch.errors import InsightsSyntaxError, InsightsUnsupported
from sandbox.logsearch.insights_eval import evaluate
from sandbox.logsearch.insights_parser import (
    Bin, Binary, Display, FieldRef, Fields, Filter, Limit, Parse, Sort, Stats, glob_to_regex, parse_query,
)


def test_commands_become_an_ast():
    query = parse_query("fields @timestamp, latency as l | filter l > 5 | sort l desc, @timestamp | limit 10 | display l")
    fields, filt, sort, limit, display = query.commands
    assert isinstance(fields, Fields) and [name for _, name in fields.items] == ["@timestamp", "l"]
    assert isinstance(filt, Filter) and isinstance(filt.expr, Binary) and filt.expr.op == ">"
    assert isinstance(sort, Sort) and [(e.text, d) for e, d in sort.keys] == [("l", True), ("@timestamp", False)]
    assert limit == Limit(10) and display == Display(("l",))


def test_stats_by_bin_period_in_milliseconds():
    (stats,) = parse_query("stats avg(latency) as a, count(*) by bin(5m), level").commands
    assert isinstance(stats, Stats)
    assert [(call.name, name) for call, name in stats.aggregates] == [("avg", "a"), ("count", "count(*)")]
    (bin_expr, bin_name), (level, level_name) = stats.by
    assert bin_expr == Bin("bin(5m)", 300_000) and bin_name == "bin(5m)"
    assert isinstance(level, FieldRef) and level_name == "level"


@pytest.mark.parametrize("period, ms", [("30s", 30_000), ("1h", 3_600_000), ("1d", 86_400_000), ("500ms", 500)])
def test_bin_units(period, ms):
    (stats,) = parse_query(f"stats count(*) by bin({period})").commands
    assert stats.by[0][0].period_ms == ms


def test_parse_translates_cloudwatch_named_groups():
    (parse,) = parse_query(r"parse @message /user=(?<user>\w+) id=(?<id>\d+)/").commands
    assert isinstance(parse, Parse) and parse.names == ("user", "id")
    assert parse.regex.search("x user=bob id=7").groupdict() == {"user": "bob", "id": "7"}


def test_parse_without_field_reads_the_message():
    (parse,) = parse_query('parse "took * ms" as took').commands
    assert parse.source == "@message" and parse.names == ("took",)


@pytest.mark.parametrize("glob, text, groups", [
    ("took * ms", "it took 35 ms today", ("35",)),
    ("a=*", "x a=1 b=2", ("1 b=2",)),  # a trailing * takes the rest
    ("*: *", "k: v: w", ("k", "v: w")),
    ("[x.y]*", "pre [x.y]z", ("z",)),  # everything but * is literal
])
def test_glob_to_regex(glob, text, groups):
    assert glob_to_regex(glob).search(text).groups() == groups


def test_division_and_regex_are_told_apart():
    (fields,) = parse_query("fields latency / 1000 as s").commands
    assert fields.items[0][0].op == "/"
    (filt,) = parse_query("filter @message like /a b/").commands
    assert filt.expr.right.value.pattern == "a b"


@pytest.mark.parametrize("query, part", [
    ("dedup level", "'dedup'"),
    ("fields @message | pattern @message", "'pattern'"),
    ("unmask @message", "'unmask'"),
    ("stats pct(latency, 50)", "the stats function 'pct()'"),
    ("stats count_distinct(level)", "the stats function 'count_distinct()'"),
    ("stats stddev(latency) by level", "the stats function 'stddev()'"),
    ("fields datefloor(@timestamp, 1m)", "the function 'datefloor()'"),
    ("filter replace(@message, 'a', 'b') = 'x'", "the function 'replace()'"),
    ("filter bin(5m) = 1", "bin() outside `stats ... by`"),
    ("stats count(*) by bin(1mo)", "the time unit 'mo' in '1mo'"),
])
def test_unsupported_parts_are_named(query, part):
    with pytest.raises(InsightsUnsupported) as info:
        parse_query(query)
    assert info.value.part == part
    assert info.value.one_line().startswith(f"Logs Insights: {part} is not supported by the sandbox (supported: ")
    assert info.value.exit_code == 2 and isinstance(info.value, ConfigError)


def test_unsupported_command_message_lists_the_subset():
    with pytest.raises(InsightsUnsupported) as info:
        evaluate("dedup level", [])
    assert info.value.one_line() == ("Logs Insights: 'dedup' is not supported by the sandbox "
                                     "(supported: fields, filter, parse, stats, sort, limit, display)")


@pytest.mark.parametrize("query, fragment", [
    ("", "empty query"),
    ("filter (level = 'x'", "expected )"),
    ("filter level == 'x'", "expected a field, a value or ("),
    ("limit 0", "limit needs a positive whole number"),
    ("limit ten", "expected a number of rows"),
    ('parse @message "a * b * c" as x', "has 2 * but 1 names"),
    ('parse @message "a *"', "expected `as`"),
    (r"parse @message /(\d+)/", "needs named groups"),
    ("filter @message like /unterminated", "unterminated /regex/"),
    ("filter @message like 'open", "unterminated ' quote"),
    ("filter @message like /a(/", "invalid regex"),
    ("fields a |", "expected a command"),
    ("fields a b", "expected | or the end of the query"),
    ("filter strlen(a, b) > 1", "strlen() takes one argument"),
    ("stats level", "expected an aggregate function"),
])
def test_syntax_errors_say_what_and_where(query, fragment):
    with pytest.raises(InsightsSyntaxError) as info:
        parse_query(query)
    assert fragment in info.value.message
    assert info.value.exit_code == 2
