"""CloudWatch filter patterns over the fixed messages of sample_events.py (answers by hand)."""

from __future__ import annotations

import pytest

from sandbox.logsearch.errors import FilterPatternError
from sandbox.logsearch.filter_pattern import compile_pattern, matches

from .sample_events import ROWS


def matching(pattern: str) -> list[str]:
    test = compile_pattern(pattern)
    return [event_id for event_id, _, _, _, message in ROWS if test(message)]


@pytest.mark.parametrize("pattern, expected", [
    ("", [f"E{i}" for i in range(1, 21)]),
    ("   ", [f"E{i}" for i in range(1, 21)]),
    ("ERROR", ["E5", "E7", "E8", "E10", "E13", "E15", "E18"]),
    ("error", []),  # case-sensitive
    ("ERROR Connection", ["E10"]),  # every term
    ("?WARN ?WARNING", ["E3", "E14"]),  # any term
    ("?Connection ?heartbeat", ["E5", "E10"]),
    ('"Failed to import"', ["E7"]),
    ('"to import" foo', ["E7"]),
    ('"import foo"', []),  # the phrase must appear as written
    ("ERROR -Task", ["E5", "E7", "E10", "E13", "E15", "E18"]),
    ('-INFO -"{"', ["E3", "E5", "E10", "E19", "E20"]),  # { is in the task lines and the JSON
])
def test_term_patterns(pattern, expected):
    assert matching(pattern) == expected


@pytest.mark.parametrize("pattern, expected", [
    ('{ $.level = "ERROR" }', ["E13", "E15", "E18"]),
    ("{ $.level = ERROR }", ["E13", "E15", "E18"]),  # unquoted value
    ('{ $.level = "ERR" }', []),  # the whole value, unless there is a *
    ('{ $.level = "ERR*" }', ["E13", "E15", "E18"]),
    ('{ $.level != "INFO" }', ["E13", "E14", "E15", "E18"]),
    ("{ $.latency > 100 }", ["E12", "E13", "E14", "E17", "E18"]),
    ("{ $.latency <= 80 }", ["E15", "E16"]),
    ("{ $.latency = 450 }", ["E13"]),
    ('{ $.level = "ERROR" && $.latency < 500 }', ["E13", "E15"]),
    ('{ $.path = "/api*" || $.latency >= 1000 }', ["E12", "E13", "E16", "E18"]),
    ('{ ($.level = "INFO" || $.level = "WARN") && $.latency >= 200 }', ["E14", "E17"]),
    ('{ $.user.name = "bob" }', ["E13", "E18"]),
    ("{ $.user.name = * }", ["E12", "E13", "E15", "E16", "E18"]),
    ("{ $.user.name NOT EXISTS }", ["E14", "E17"]),  # only JSON events can match a JSON pattern
    ('{ $.path = "*h*" }', ["E14", "E15"]),
])
def test_json_patterns(pattern, expected):
    assert matching(pattern) == expected


def test_json_arrays_null_and_booleans():
    message = '{"items": [{"id": 3}, {"id": 7}], "gone": null, "ok": true, "bad": false}'
    assert matches("{ $.items[1].id = 7 }", message)
    assert not matches("{ $.items[0].id = 7 }", message)
    assert not matches("{ $.items[5].id = 7 }", message)
    assert matches("{ $.gone IS NULL }", message)
    assert not matches("{ $.ok IS NULL }", message)
    assert matches("{ $.ok IS TRUE && $.bad IS FALSE }", message)
    assert not matches("{ $.bad IS TRUE }", message)


def test_numbers_only_compare_with_numbers():
    assert not matches("{ $.latency > 10 }", '{"latency": "fast"}')
    assert not matches("{ $.latency > 10 }", "latency 50")


@pytest.mark.parametrize("pattern, fragment", [
    ("[ip, user, ...]", "space-delimited patterns"),
    ("%ERR[0-9]+%", "regular-expression patterns"),
    ('{ $.level = "ERROR"', "must end with }"),
    ("{ $.level = }", "where a value was expected"),
    ("{ $.level = ( }", "expected a value after ="),
    ('{ $.latency > "abc" }', "> needs a number"),
    ("{ level = 1 }", "expected a $.selector"),
    ("{ $.a = 1 $.b = 2 }", "unexpected"),
    ("{ $.a IS MAYBE }", "IS MAYBE is not supported"),
    ("?ERROR Connection", "mixing ?term with other terms"),
    ('"open', "unterminated quote"),
])
def test_unsupported_or_invalid_patterns(pattern, fragment):
    with pytest.raises(FilterPatternError) as info:
        compile_pattern(pattern)
    assert fragment in info.value.message
    assert info.value.one_line().startswith("filter pattern: ")
    assert info.value.exit_code == 2
