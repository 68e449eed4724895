"""Read events from the emulated CloudWatch Logs with boto3 (FilterLogEvents, every page).

The filter pattern is applied here rather than sent to moto, which understands only plain terms
and returns everything for other patterns.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from sandbox.errors import NotRunningError, SandboxError
from sandbox.logsearch.errors import LogSearchError
from sandbox.logsearch.filter_pattern import compile_pattern
from sandbox.mwaa.logs import LOG_GROUP_SUFFIXES, log_group

POLL_SECONDS = 2.0
_SINCE = re.compile(r"(\d+)\s*(s|m|h|d)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> int:
    """'15m', '1h', '2d', '30s' -> milliseconds."""
    match = _SINCE.fullmatch((text or "").strip())
    if not match:
        raise LogSearchError(f"--since {text!r} is not a duration",
                             hint="use a number and s, m, h or d, e.g. 15m, 1h, 2d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)] * 1000


def group_names(env_name: str, groups: list[str] | None) -> list[str]:
    """MWAA group names from suffixes (Task, scheduler, ...), or full names as given."""
    suffixes = list(LOG_GROUP_SUFFIXES.values())
    if not groups:
        return [log_group(env_name, s) for s in suffixes]
    names = []
    for group in groups:
        found = next((s for s in suffixes if s.lower() == group.lower()), None)
        if found:
            names.append(log_group(env_name, found))
        elif group.startswith("airflow-"):
            names.append(group)
        else:
            raise LogSearchError(f"unknown log group {group!r}",
                                 hint=f"use one of {', '.join(suffixes)} or a full group name")
    return names


def to_event(raw: dict, group: str) -> dict:
    """A FilterLogEvents event as the fields Logs Insights shows."""
    return {"@timestamp": raw["timestamp"], "@message": raw.get("message", ""),
            "@logStream": raw.get("logStreamName", ""), "@log": group,
            "@ingestionTime": raw.get("ingestionTime"), "@ptr": raw.get("eventId")}


def read_events(logs, group: str, start_ms: int | None = None, end_ms: int | None = None,
                pattern: str | None = None) -> list[dict]:
    """Every event of the group in [start_ms, end_ms], oldest first, matching the pattern."""
    matcher = compile_pattern(pattern)
    kwargs: dict = {"logGroupName": group}
    if start_ms is not None:
        kwargs["startTime"] = int(start_ms)
    if end_ms is not None:
        kwargs["endTime"] = int(end_ms)
    from botocore.exceptions import EndpointConnectionError

    events = []
    try:
        for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
            events.extend(to_event(e, group) for e in page.get("events", []) if matcher(e.get("message", "")))
    except logs.exceptions.ResourceNotFoundException:
        raise SandboxError(f"log group {group} does not exist in the emulator",
                             hint="`sandbox up` creates the five MWAA groups") from None
    except EndpointConnectionError:
        raise NotRunningError(f"the AWS emulator is not answering on {logs.meta.endpoint_url}",
                              hint="start it with `sandbox up`") from None
    events.sort(key=lambda e: e["@timestamp"])
    return events


def read_groups(logs, groups: list[str], start_ms: int | None, end_ms: int | None = None) -> list[dict]:
    events = []
    for group in groups:
        events.extend(read_events(logs, group, start_ms, end_ms))
    return events


@dataclass
class Follower:
    """Polls a group for events newer than the last one seen (tail -f)."""

    logs: object
    group: str
    start_ms: int
    pattern: str | None = None
    interval: float = POLL_SECONDS
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self):
        self._last_ms = self.start_ms
        self._seen_at_last: set = set()

    def poll(self) -> list[dict]:
        """New events since the previous poll; the same event is never returned twice."""
        fresh = [e for e in read_events(self.logs, self.group, self._last_ms, pattern=self.pattern)
                 if not (e["@timestamp"] == self._last_ms and e["@ptr"] in self._seen_at_last)]
        if fresh:
            newest = fresh[-1]["@timestamp"]
            if newest != self._last_ms:
                self._seen_at_last = set()
            self._last_ms = newest
            self._seen_at_last |= {e["@ptr"] for e in fresh if e["@timestamp"] == newest}
        return fresh

    def follow(self, polls: int | None = None) -> Iterator[dict]:
        """Yield events as they arrive; `polls` bounds the loop (None: until interrupted)."""
        count = 0
        while polls is None or count < polls:
            if count:
                self.sleep(self.interval)
            yield from self.poll()
            count += 1
