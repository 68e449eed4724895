"""Values as Logs Insights sees them: discovered JSON fields, numbers, text, natural sort order."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

_NUMERIC = re.compile(r"-?\d+(?:\.\d+)?")
_CHUNKS = re.compile(r"\d+|\D+")
TIME_FIELDS = ("@timestamp", "@ingestionTime")


class Timestamp(int):
    """Milliseconds since the epoch; shown as CloudWatch shows it: 2026-11-22 12:00:00.000."""

    def __str__(self) -> str:
        return format_timestamp(self)


def format_timestamp(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"


def event_row(event: dict) -> dict:
    """An event's fields: its JSON message's keys (nested ones dotted), then the @ fields."""
    row: dict = {}
    message = event.get("@message")
    if isinstance(message, str) and message.lstrip().startswith("{"):
        try:
            parsed = json.loads(message)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            _flatten(parsed, "", row)
    for key, value in event.items():
        row[key] = Timestamp(value) if key in TIME_FIELDS and value is not None else value
    return row


def _flatten(value, prefix: str, out: dict) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{prefix}{key}.", out)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _flatten(inner, f"{prefix}{index}.", out)
    elif value is not None:
        out[prefix[:-1]] = value


def to_number(value):
    """The value as int/float if it is a number or a numeric string; None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        text = value.strip()
        return float(text) if "." in text else int(text)
    return None


def as_text(value) -> str:
    """CloudWatch returns every value as a string."""
    if isinstance(value, Timestamp):
        return format_timestamp(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.6f}".rstrip("0").rstrip(".")
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def natural_key(value):
    """CloudWatch's sort: non-numbers before numbers; text compared chunk by chunk, digit runs
    by length and then value, everything else by Unicode code point."""
    number = to_number(value)
    if number is not None:
        return (1, (float(number),))
    chunks = []
    for chunk in _CHUNKS.findall(as_text(value)):
        if chunk[0].isdigit():
            chunks.append((0x30, len(chunk.lstrip("0") or "0"), int(chunk)))
        else:
            chunks.append(tuple(ord(c) for c in chunk))
    return (0, tuple(chunks))


def truthy(value) -> bool:
    return value is not None and value is not False and value != "" and value != 0
