"""What Docker's restart policy did to each container, for `status` (as the native supervisor
reports it): how often a component was replaced, and why the last run ended (its exit code from
Docker's `die` events, its last log line). Docker keeps restarting with a growing delay; a
container it is still backing off from after LOOPING restarts is called crash-looping."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sandbox.proc import Command
from sandbox.runtime.compose import engine

LOOPING = 5  # restarts after which a container Docker is restarting again is crash-looping


@dataclass(frozen=True)
class Restarts:
    count: int
    last_exit: str = ""
    looping: bool = False


def _docker(*args: str, timeout: float = 30):
    return engine.runner.run(Command.of("docker", *args, timeout=timeout))


def inspect(ids: list[str]) -> list[dict]:
    result = _docker("inspect", *ids) if ids else None
    if result is None or not result.ok:
        return []
    try:
        return json.loads(result.stdout)
    except ValueError:
        return []


def exit_codes(container_id: str, since: str) -> list[str]:
    """The exit code of each time the container died since it was created (Docker's events)."""
    result = _docker("events", "--since", since, "--until", "0s", "--filter", f"container={container_id}",
                     "--filter", "event=die", "--format", "{{json .Actor.Attributes}}")
    codes = []
    for line in (result.stdout.splitlines() if result.ok else []):
        try:
            codes.append(str(json.loads(line).get("exitCode", "?")))
        except ValueError:
            continue
    return codes


def last_log_line(container_id: str, finished_at: str) -> str:
    """The container's last words before it ended (as the native supervisor quotes them). Docker
    applies --tail before --until, so the window is bounded by time instead: 10 minutes."""
    ended = _parse_time(finished_at)
    since = str(int(ended - 600)) if ended else "10m"
    result = _docker("logs", "--since", since, "--until", finished_at, container_id)
    lines = [l.strip() for l in (result.stdout + result.stderr).splitlines() if l.strip()] if result.ok else []
    return lines[-1][:200] if lines else ""


def _parse_time(stamp: str) -> float | None:
    """Docker's RFC 3339 time with nanoseconds -> epoch seconds."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(stamp[:19] + "+00:00").timestamp()
    except ValueError:
        return None


def describe(info: dict) -> Restarts:
    count = int(info.get("RestartCount") or 0)
    if not count:
        return Restarts(0)
    state = info.get("State") or {}
    codes = exit_codes(info["Id"], info.get("Created", "0s"))
    finished = state.get("FinishedAt", "")
    words = last_log_line(info["Id"], finished) if finished else ""
    code = f"exit code {codes[-1]}" if codes else "exited"
    oom = "; killed for memory (OOM)" if state.get("OOMKilled") else ""
    when = f" at {finished[11:19]}" if len(finished) >= 19 else ""
    last = f"{code}{when}{oom}" + (f"; last log line: {words}" if words else "")
    return Restarts(count, last, looping=state.get("Status") == "restarting" and count >= LOOPING)


def by_service(rows: list[dict]) -> dict[str, Restarts]:
    """`compose ps` rows -> what Docker's restarts were, by service (only those restarted)."""
    ids = {row["ID"]: row.get("Service", "") for row in rows if row.get("ID")}
    seen = {}
    for info in inspect(list(ids)):
        service = next((s for i, s in ids.items() if info.get("Id", "").startswith(i)), None)
        if service and int(info.get("RestartCount") or 0):
            seen[service] = describe(info)
    return seen
