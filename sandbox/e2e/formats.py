"""Reading records the way the pipeline wrote them.

The e2e proof compares Elasticsearch with the Kafka truth, so it must read each Kafka value as
the user's consumer does: JSON, Apache access-log lines, or the user's own parser. Auto-detection
only answers when one format clearly fits the sample; otherwise it says so and the caller skips
the query checks rather than guessing.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sandbox.errors import ConfigError

Reader = Callable[[bytes | None], Any]

AUTO = "auto"
BUILT_IN = ("json", "apache-common", "apache-combined")
DETECT_SAMPLE = 200
DETECT_THRESHOLD = 0.9


@dataclass
class ParseFailures:
    """How often a user parser raised or returned something other than a dict or None."""

    count: int = 0
    first: str | None = None  # the first failure, e.g. "ValueError: bad line"

    def note(self, problem: str) -> None:
        self.count += 1
        if self.first is None:
            self.first = problem


@dataclass(frozen=True)
class RecordFormat:
    name: str
    reader: Reader = field(repr=False, compare=False)
    guarded: bool = False  # user code: an exception means "unreadable record", never a crash
    failures: ParseFailures = field(default_factory=ParseFailures, repr=False, compare=False)

    def parse(self, value: bytes | None) -> dict | None:
        """The record's fields, or None when this record cannot be read in this format."""
        if not self.guarded:
            return self.reader(value)
        try:
            fields = self.reader(value)
        except Exception as exc:  # noqa: BLE001 - any user-code failure is one unreadable record
            self.failures.note(f"{type(exc).__name__}: {exc}")
            return None
        if fields is not None and not isinstance(fields, dict):
            self.failures.note(f"returned {type(fields).__name__}, not a dict or None")
            return None
        return fields


# -- JSON ----------------------------------------------------------------------------------------
def _read_json(value: bytes | None) -> dict | None:
    try:
        parsed = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


# -- Apache access logs (NCSA common and combined) -----------------------------------------------
def _quoted(name: str) -> str:
    # Apache writes a quote inside a field as \" and a backslash as \\
    return rf'"(?P<{name}>(?:[^"\\]|\\.)*)"'


_COMMON = (r"(?P<ip>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<timestamp>[^\]]+)\] "
           rf"{_quoted('request')} (?P<status>\d{{3}}) (?P<size>\d+|-)")
_TAIL = rf" {_quoted('referrer')} {_quoted('user_agent')}"
_COMMON_LINE = re.compile(rf"{_COMMON}(?:{_TAIL})?")
_COMBINED_LINE = re.compile(rf"{_COMMON}{_TAIL}")
_UNESCAPE = re.compile(r'\\(["\\])')


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(r"\1", text)


def split_request(request: str | None) -> dict[str, str | None]:
    """'GET /x?a=1 HTTP/1.1' -> method, endpoint (path without query string), query, protocol.
    A malformed request line ('-', junk) gives None for all four."""
    parts = (request or "").split()
    if len(parts) not in (2, 3) or not parts[0].isalpha():
        return {"method": None, "endpoint": None, "query": None, "protocol": None}
    target = parts[1]
    if "://" in target:  # proxy-style absolute URI
        split = urlsplit(target)
        path, query = split.path or "/", split.query
    else:
        path, _, query = target.partition("?")
    protocol = parts[2] if len(parts) == 3 else None  # HTTP/0.9 lines have no protocol
    return {"method": parts[0], "endpoint": path, "query": query or None, "protocol": protocol}


def _apache_reader(pattern: re.Pattern[str], combined: bool) -> Reader:
    def read(value: bytes | None) -> dict | None:
        if not value:
            return None
        match = pattern.fullmatch(value.decode("utf-8", errors="replace").rstrip("\r\n"))
        if match is None:
            return None
        found = match.groupdict()
        fields: dict[str, Any] = {
            "ip": found["ip"], "ident": found["ident"], "user": found["user"],
            "timestamp": found["timestamp"], "request": _unescape(found["request"]),
            "status": int(found["status"]),
            "size": 0 if found["size"] == "-" else int(found["size"])}
        fields.update(split_request(fields["request"]))
        if combined:
            fields["referrer"] = _unescape(found["referrer"])
            fields["user_agent"] = _unescape(found["user_agent"])
        return fields
    return read


JSON = RecordFormat("json", _read_json)
# Common also reads combined lines (ignoring the tail): common is a prefix of combined.
APACHE_COMMON = RecordFormat("apache-common", _apache_reader(_COMMON_LINE, combined=False))
APACHE_COMBINED = RecordFormat("apache-combined", _apache_reader(_COMBINED_LINE, combined=True))
_BUILT_IN = {f.name: f for f in (JSON, APACHE_COMMON, APACHE_COMBINED)}


# -- user parsers --------------------------------------------------------------------------------
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_FIX = ("use json, apache-common, apache-combined, auto, or module.function naming a parser "
        "in your project (its root, dags/ or plugins/)")


def _split_dotted(dotted: str) -> tuple[str, str]:
    module, sep, attr = dotted.partition(":")
    if not sep:
        module, _, attr = dotted.rpartition(".")
    if not module or not _DOTTED.fullmatch(module) or not _DOTTED.fullmatch(attr) or "." in attr:
        raise ConfigError(f"record format {dotted!r} is not a built-in name nor a "
                          f"module.function path", hint=_FIX)
    return module, attr


def _import(module: str, dotted: str, roots: list[Path]):
    saved = list(sys.path)
    sys.path[:0] = [str(r) for r in roots]
    try:
        importlib.invalidate_caches()
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            raise ConfigError(f"record parser {dotted}: no module {module} in {roots[0]}",
                              hint=_FIX) from exc
        raise ConfigError(f"record parser {dotted}: importing {module} failed: {exc}",
                          hint="install what it imports in requirements.txt") from exc
    except Exception as exc:  # noqa: BLE001 - user code may raise anything while importing
        raise ConfigError(f"record parser {dotted}: importing {module} raised "
                          f"{type(exc).__name__}: {exc}", hint=f"fix {module}") from exc
    finally:
        sys.path[:] = saved


def load_parser(dotted: str, project_dir: Path) -> RecordFormat:
    """The user's parser `package.module.function` (or `package.module:function`), importable
    from the project root, its dags/ or its plugins/ (as Airflow would put them on sys.path).
    The callable takes the raw value (bytes or None) and returns a dict or None; a record on
    which it raises reads as None and is counted in the format's `failures`."""
    module, attr = _split_dotted(dotted.strip())
    project_dir = Path(project_dir)
    loaded = _import(module, dotted, [project_dir, project_dir / "dags", project_dir / "plugins"])
    if not hasattr(loaded, attr):
        raise ConfigError(f"record parser {dotted}: module {module} has no {attr}",
                          hint=f"define def {attr}(value: bytes) -> dict | None in {module}")
    parser = getattr(loaded, attr)
    if not callable(parser):
        raise ConfigError(f"record parser {dotted}: {module}.{attr} is a "
                          f"{type(parser).__name__}, not a function",
                          hint=f"make {attr} a function taking the record's bytes")
    return RecordFormat(dotted, parser, guarded=True)


def format_named(name: str, project_dir: Path) -> RecordFormat | None:
    """The format a setting names. None means "auto": the caller detects it with `detect` once
    the records are read (this split lets a bad name fail before the pipeline runs)."""
    key = name.strip()
    if key.lower() == AUTO:
        return None
    if key.lower() in _BUILT_IN:
        return _BUILT_IN[key.lower()]
    if "." not in key and ":" not in key:
        raise ConfigError(f"unknown record format {name!r}", hint=_FIX)
    return load_parser(key, project_dir)


def detect(values: list[bytes | None]) -> RecordFormat | None:
    """The built-in format reading at least 90 % of the first 200 non-empty values (json, then
    apache-combined before apache-common); None when none does - never a guess."""
    sample = [v for v in values if v and v.strip()][:DETECT_SAMPLE]
    if not sample:
        return None
    for candidate in (JSON, APACHE_COMBINED, APACHE_COMMON):
        read = sum(candidate.parse(v) is not None for v in sample)
        if read >= DETECT_THRESHOLD * len(sample):
            return candidate
    return None


# -- timestamps ----------------------------------------------------------------------------------
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_ISO_HEAD = re.compile(r"\d{4}-\d{2}-\d{2}")
_TEXT_STYLES = ("%d/%b/%Y:%H:%M:%S %z",  # Apache: 10/Oct/2000:13:55:36 -0700
                "%b %d %Y, %H:%M:%S")  # Oct 10 2000, 13:55:36
EPOCH_MS_ABOVE = 1e11  # larger epoch numbers are milliseconds (1e11 s is the year 5138)


def _utc(stamp: datetime) -> datetime:
    if stamp.tzinfo is None:  # naive times are taken as UTC, as Elasticsearch does
        return stamp.replace(tzinfo=timezone.utc)
    return stamp.astimezone(timezone.utc)


def parse_timestamp_text(text: str) -> datetime | None:
    """A textual timestamp (ISO-8601, Apache, 'Oct 10 2000, 13:55:36') as aware UTC; None for
    anything else, bare numbers included."""
    text = text.strip().strip("[]")
    if _ISO_HEAD.match(text):
        try:
            return _utc(datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")))
        except ValueError:
            return None
    for style in _TEXT_STYLES:
        try:
            return _utc(datetime.strptime(text, style))
        except ValueError:
            continue
    return None


def parse_timestamp(value: Any) -> datetime | None:
    """Any timestamp style the pipeline may write, as aware UTC: the textual ones, and epoch
    seconds or milliseconds (numbers or numeric strings; above 1e11 means milliseconds)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not _NUMBER.fullmatch(value.strip()):
            return parse_timestamp_text(value)
        value = float(value)
    if not isinstance(value, (int, float)):
        return None
    try:
        seconds = value / 1000 if abs(value) > EPOCH_MS_ABOVE else value
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


# -- the three fields the reference queries need -------------------------------------------------
@dataclass(frozen=True)
class QueryRecord:
    timestamp: datetime  # aware, UTC
    endpoint: str
    status: int


TIMESTAMP_KEYS = ("timestamp", "@timestamp", "time")
STATUS_KEYS = ("status", "status_code", "response")


def _query_timestamp(fields: dict) -> datetime | None:
    return next((t for k in TIMESTAMP_KEYS if (t := parse_timestamp(fields.get(k))) is not None),
                None)


def _query_endpoint(fields: dict) -> str | None:
    for key in ("endpoint", "path"):
        if isinstance(fields.get(key), str) and fields[key]:
            return fields[key]
    if isinstance(fields.get("url"), str) and fields["url"]:
        return urlsplit(fields["url"]).path or None
    if isinstance(fields.get("request"), str):
        return split_request(fields["request"])["endpoint"]
    return None


def as_int(value: Any) -> int | None:
    """An int from an int, an integral float or a digit string; None otherwise (bools too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _query_status(fields: dict) -> int | None:
    return next((s for k in STATUS_KEYS if (s := as_int(fields.get(k))) is not None), None)


def missing_query_fields(fields: dict) -> list[str]:
    """Which of timestamp, endpoint, status cannot be read from these fields (empty: all can)."""
    found = {"timestamp": _query_timestamp(fields), "endpoint": _query_endpoint(fields),
             "status": _query_status(fields)}
    return [name for name, value in found.items() if value is None]


def query_view(fields: dict) -> QueryRecord | None:
    """The record as the reference queries see it; None when a field is missing (see
    `missing_query_fields` for which)."""
    stamp, endpoint, status = _query_timestamp(fields), _query_endpoint(fields), _query_status(fields)
    if stamp is None or endpoint is None or status is None:
        return None
    return QueryRecord(stamp, endpoint, status)
