"""Evaluate a parsed Logs Insights query over raw events, as CloudWatch would.

Events are dicts with @timestamp (ms), @message, @logStream and @log; a JSON message's keys
become fields (nested keys dotted). Choices where CloudWatch leaves the order open:
- without `sort`, events come newest first; stats rows in ascending order of their `by` values;
- a comparison with a missing field is false (so `not` of it is true);
- without `fields`, `display` or `stats` the columns are @timestamp and @message;
- without `limit` at most 1000 rows come back (CloudWatch's default).
Every value in the result is a string, as GetQueryResults returns.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field

from sandbox.logsearch.insights_parser import (
    Bin, Binary, Call, Display, Expr, FieldRef, Fields, Filter, InList, Limit, Literal, Not, Parse,
    Query, Sort, Star, Stats, parse_query,
)
from sandbox.logsearch.values import Timestamp, as_text, event_row, natural_key, to_number, truthy

DEFAULT_LIMIT = 1000
DEFAULT_COLUMNS = ("@timestamp", "@message")
_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
               "%": operator.mod}


@dataclass
class InsightsResult:
    columns: list[str]
    rows: list[dict[str, str]] = field(default_factory=list)
    scanned: int = 0  # events read, like GetQueryResults' statistics.recordsScanned


def evaluate(query: Query | str, events: list[dict]) -> InsightsResult:
    parsed = parse_query(query) if isinstance(query, str) else query
    rows = [event_row(e) for e in events]
    rows.sort(key=lambda r: r.get("@timestamp") or 0, reverse=True)
    columns: list[str] | None = None
    for command in parsed.commands:
        rows, columns = _apply(command, rows, columns)
    if not any(isinstance(c, Limit) for c in parsed.commands):
        rows = rows[:DEFAULT_LIMIT]
    columns = list(columns if columns is not None else DEFAULT_COLUMNS)
    out = [{c: as_text(row[c]) for c in columns if row.get(c) is not None} for row in rows]
    return InsightsResult(columns, out, len(events))


def _apply(command, rows: list[dict], columns: list[str] | None) -> tuple[list[dict], list[str] | None]:
    if isinstance(command, Filter):
        return [r for r in rows if truthy(value_of(command.expr, r))], columns
    if isinstance(command, Fields):
        return _fields(command, rows, columns)
    if isinstance(command, Display):
        return rows, list(command.names)
    if isinstance(command, Parse):
        for row in rows:
            _parse_into(command, row)
        return rows, columns
    if isinstance(command, Stats):
        return _stats(command, rows)
    if isinstance(command, Sort):
        return sort_rows(rows, command.keys), columns
    if isinstance(command, Limit):
        return rows[:command.count], columns
    raise TypeError(f"unknown command {command!r}")  # the parser only makes the ones above


def _fields(command: Fields, rows: list[dict], columns: list[str] | None):
    columns = list(columns or [])
    for expr, name in command.items:
        if not (isinstance(expr, FieldRef) and expr.name == name):
            for row in rows:
                value = value_of(expr, row)
                if value is not None:
                    row[name] = value
        if name not in columns:
            columns.append(name)
    return rows, columns


def _parse_into(command: Parse, row: dict) -> None:
    """Matched groups become fields; an event that does not match is kept, without them."""
    source = row.get(command.source)
    if source is None:
        return
    match = command.regex.search(as_text(source))
    if not match:
        return
    values = match.groupdict() if command.regex.groupindex else dict(zip(command.names, match.groups()))
    for name in command.names:
        if values.get(name) is not None:
            row[name] = values[name]


def _stats(command: Stats, rows: list[dict]) -> tuple[list[dict], list[str]]:
    groups: dict[tuple, tuple[dict, list[dict]]] = {}
    for row in rows:
        keys = {name: value_of(expr, row) for expr, name in command.by}
        signature = tuple(None if v is None else as_text(v) for v in keys.values())
        groups.setdefault(signature, (keys, []))[1].append(row)
    out = []
    for keys, members in groups.values():
        result = {name: value for name, value in keys.items() if value is not None}
        for call, name in command.aggregates:
            value = aggregate(call, members)
            if value is not None:
                result[name] = value
        out.append(result)
    by_names = [name for _, name in command.by]
    out = sort_rows(out, tuple((FieldRef(n, n), False) for n in by_names))
    return out, by_names + [name for _, name in command.aggregates]


def aggregate(call: Call, rows: list[dict]):
    arg = call.args[0]
    if call.name == "count":
        return len(rows) if isinstance(arg, Star) else sum(1 for r in rows if value_of(arg, r) is not None)
    numbers = [n for n in (to_number(value_of(arg, r)) for r in rows) if n is not None]
    if not numbers:
        return None
    if call.name == "sum":
        return sum(numbers)
    if call.name == "avg":
        return sum(numbers) / len(numbers)
    return min(numbers) if call.name == "min" else max(numbers)


def sort_rows(rows: list[dict], keys) -> list[dict]:
    """Stable multi-key sort; rows missing a key go last whichever the direction."""
    for expr, descending in reversed(keys):
        present = [(value_of(expr, r), r) for r in rows]
        missing = [r for v, r in present if v is None]
        ordered = sorted(((v, r) for v, r in present if v is not None),
                         key=lambda pair: natural_key(pair[0]), reverse=descending)
        rows = [r for _, r in ordered] + missing
    return rows


def value_of(expr: Expr, row: dict):
    if isinstance(expr, FieldRef):
        return row.get(expr.name)
    if expr.text in row:  # a stats column such as `count(*)` referred to later by its text
        return row[expr.text]
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Not):
        return not truthy(value_of(expr.operand, row))
    if isinstance(expr, Binary):
        return _binary(expr, row)
    if isinstance(expr, InList):
        value = value_of(expr.operand, row)
        return value is not None and any(_equal(value, v) for v in expr.values)
    if isinstance(expr, Call):
        return _function(expr, row)
    if isinstance(expr, Bin):
        stamp = row.get("@timestamp")
        return None if stamp is None else Timestamp(int(stamp) // expr.period_ms * expr.period_ms)
    raise TypeError(f"cannot evaluate {expr!r}")


def _binary(expr: Binary, row: dict):
    if expr.op == "and":
        return truthy(value_of(expr.left, row)) and truthy(value_of(expr.right, row))
    if expr.op == "or":
        return truthy(value_of(expr.left, row)) or truthy(value_of(expr.right, row))
    left = value_of(expr.left, row)
    if expr.op in ("like", "=~"):
        return left is not None and _matches(left, expr.right.value)
    right = value_of(expr.right, row)
    if left is None or right is None:
        return None if expr.op in _ARITHMETIC else False
    if expr.op in _ARITHMETIC:
        return _arithmetic(expr.op, left, right)
    if expr.op == "=":
        return _equal(left, right)
    if expr.op == "!=":
        return not _equal(left, right)
    a, b = to_number(left), to_number(right)
    if a is not None and b is not None:
        return _ORDERING[expr.op](a, b)
    return _ORDERING[expr.op](as_text(left), as_text(right))


def _matches(value, pattern) -> bool:
    if isinstance(pattern, re.Pattern):
        return pattern.search(as_text(value)) is not None
    return str(pattern) in as_text(value)


def _equal(left, right) -> bool:
    a, b = to_number(left), to_number(right)
    if a is not None and b is not None:
        return a == b
    return as_text(left) == as_text(right)


def _arithmetic(op: str, left, right):
    a, b = to_number(left), to_number(right)
    if a is None or b is None or (op in ("/", "%") and b == 0):
        return None
    return _ARITHMETIC[op](a, b)


def _function(call: Call, row: dict):
    value = value_of(call.args[0], row)
    if call.name == "ispresent":
        return value is not None
    if call.name == "isempty":
        return value is None or as_text(value) == ""
    if value is None:
        return None
    if call.name == "strlen":
        return len(as_text(value))
    if call.name == "tolower":
        return as_text(value).lower()
    if call.name == "toupper":
        return as_text(value).upper()
    raise TypeError(f"unknown function {call.name}")  # the parser rejects every other name
