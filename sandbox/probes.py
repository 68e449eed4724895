"""Readiness probes: small objects with one `check()`, sharing one bounded poll loop."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from typing import Callable, Protocol

from sandbox.errors import ReadinessTimeout


@dataclass(frozen=True)
class Outcome:
    ready: bool
    detail: str = ""


class Probe(Protocol):
    description: str

    def check(self) -> Outcome: ...


@dataclass(frozen=True)
class TcpProbe:
    host: str
    port: int

    @property
    def description(self) -> str:
        return f"TCP {self.host}:{self.port}"

    def check(self) -> Outcome:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0):
                return Outcome(True)
        except OSError as exc:
            return Outcome(False, str(exc))


# Local services are never reached through a proxy the user may have configured.
_LOCAL_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def bypass_proxy_for_loopback(environ: dict) -> None:
    """Add the loopback names to NO_PROXY (both spellings), for us and every process we start."""
    for key in ("NO_PROXY", "no_proxy"):
        present = [p for p in environ.get(key, "").split(",") if p]
        environ[key] = ",".join(present + [n for n in LOOPBACK_NAMES if n not in present])


def http_get(url: str, *, auth: tuple[str, str] | None = None, timeout: float = 3.0) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if auth:
        token = b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with _LOCAL_OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


@dataclass(frozen=True)
class HttpJsonProbe:
    """GET a URL; ready when it answers 200 and `accept(json)` says so."""

    url: str
    accept: Callable[[dict], tuple[bool, str]] = lambda body: (True, "")

    @property
    def description(self) -> str:
        return f"GET {self.url}"

    def check(self) -> Outcome:
        try:
            status, body = http_get(self.url)
        except (OSError, ValueError) as exc:
            return Outcome(False, str(getattr(exc, "reason", exc)))
        if status != 200:
            return Outcome(False, f"HTTP {status}")
        try:
            ready, detail = self.accept(json.loads(body))
        except (ValueError, KeyError, TypeError) as exc:
            return Outcome(False, f"unexpected answer: {exc}")
        return Outcome(ready, detail)


@dataclass(frozen=True)
class CallableProbe:
    """A probe from a function that raises or returns a detail string when ready."""

    description: str
    fn: Callable[[], object]

    def check(self) -> Outcome:
        try:
            self.fn()
            return Outcome(True)
        except Exception as exc:  # any failure just means "not ready yet"
            return Outcome(False, f"{type(exc).__name__}: {exc}".strip())


def wait_for(probe: Probe, *, timeout: float, interval: float = 0.5,
             still_running: Callable[[], bool] = lambda: True,
             clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> float:
    """Poll until ready; returns the seconds it took. Raises ReadinessTimeout naming the probe
    and its last answer. `still_running` lets a dead process end the wait early (returns -1)."""
    started = clock()
    last = Outcome(False, "never checked")
    while True:
        last = probe.check()
        if last.ready:
            return clock() - started
        if not still_running():
            return -1.0
        if clock() - started >= timeout:
            raise ReadinessTimeout(
                f"{probe.description} not ready after {timeout:.0f} s (last answer: {last.detail or 'none'})")
        sleep(interval)
