"""Readiness probes and the shared poll loop (fake clock), against sockets and servers we own."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sandbox.errors import ReadinessTimeout
from sandbox.probes import CallableProbe, HttpJsonProbe, Outcome, TcpProbe, http_get, wait_for


@dataclass
class ScriptedProbe:
    """Answers from a script of outcomes; the last one repeats."""

    outcomes: list[Outcome]
    description: str = "scripted thing"
    calls: int = 0

    def check(self) -> Outcome:
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        return outcome


@dataclass
class FakeClock:
    now: float = 100.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_for_returns_elapsed_when_ready():
    clock = FakeClock()
    probe = ScriptedProbe([Outcome(False, "refused")] * 3 + [Outcome(True)])
    elapsed = wait_for(probe, timeout=60, interval=2.0, clock=clock, sleep=clock.sleep)
    assert elapsed == 6.0
    assert probe.calls == 4
    assert clock.sleeps == [2.0, 2.0, 2.0]


def test_wait_for_ready_at_once_does_not_sleep():
    clock = FakeClock()
    assert wait_for(ScriptedProbe([Outcome(True)]), timeout=5, clock=clock, sleep=clock.sleep) == 0.0
    assert clock.sleeps == []


def test_wait_for_timeout_names_probe_and_last_detail():
    clock = FakeClock()
    probe = ScriptedProbe([Outcome(False, "first"), Outcome(False, "connection refused")],
                          description="GET http://127.0.0.1:8080/health")
    with pytest.raises(ReadinessTimeout) as info:
        wait_for(probe, timeout=10, interval=1.0, clock=clock, sleep=clock.sleep)
    message = str(info.value)
    assert "GET http://127.0.0.1:8080/health" in message
    assert "not ready after 10 s" in message
    assert "last answer: connection refused" in message
    assert clock.now - 100.0 == 10.0  # gave up at the timeout, not before or long after
    assert probe.calls == 11


def test_wait_for_timeout_without_detail():
    clock = FakeClock()
    with pytest.raises(ReadinessTimeout, match=r"last answer: none"):
        wait_for(ScriptedProbe([Outcome(False)]), timeout=1, clock=clock, sleep=clock.sleep)


def test_wait_for_returns_minus_one_when_process_died():
    clock = FakeClock()
    probe = ScriptedProbe([Outcome(False, "refused")])
    alive = iter([True, True, False])
    result = wait_for(probe, timeout=60, interval=1.0, still_running=lambda: next(alive),
                      clock=clock, sleep=clock.sleep)
    assert result == -1.0
    assert probe.calls == 3


def test_ready_wins_over_dead_process():
    clock = FakeClock()
    result = wait_for(ScriptedProbe([Outcome(True)]), timeout=5, still_running=lambda: False,
                      clock=clock, sleep=clock.sleep)
    assert result == 0.0


def test_callable_probe():
    assert CallableProbe("ok", lambda: None).check() == Outcome(True)

    def broken():
        raise ConnectionError("no broker")

    assert CallableProbe("kafka", broken).check() == Outcome(False, "ConnectionError: no broker")


def test_tcp_probe_ready_on_listening_socket():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        probe = TcpProbe("127.0.0.1", port)
        assert probe.description == f"TCP 127.0.0.1:{port}"
        assert probe.check().ready is True


def test_tcp_probe_not_ready_on_closed_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = holder.getsockname()[1]
        outcome = TcpProbe("127.0.0.1", port).check()
    assert outcome.ready is False
    assert outcome.detail  # the connection error, e.g. "Connection refused"


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, str]] = {}

    def do_GET(self):
        status, body = self.routes.get(self.path, (404, "{}"))
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_server():
    _Handler.routes = {
        "/health": (200, json.dumps({"scheduler": {"status": "healthy"}})),
        "/starting": (200, json.dumps({"scheduler": {"status": "unhealthy"}})),
        "/broken": (500, json.dumps({"error": "boom"})),
        "/not-json": (200, "<html>"),
        "/empty": (200, "{}"),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def _scheduler_healthy(body: dict) -> tuple[bool, str]:
    status = body["scheduler"]["status"]
    return status == "healthy", f"scheduler {status}"


def test_http_probe_ready(http_server):
    probe = HttpJsonProbe(f"{http_server}/health", _scheduler_healthy)
    assert probe.description == f"GET {http_server}/health"
    assert probe.check() == Outcome(True, "scheduler healthy")


def test_http_probe_accept_says_not_yet(http_server):
    assert HttpJsonProbe(f"{http_server}/starting", _scheduler_healthy).check() == \
        Outcome(False, "scheduler unhealthy")


def test_http_probe_500_not_ready(http_server):
    assert HttpJsonProbe(f"{http_server}/broken").check() == Outcome(False, "HTTP 500")


def test_http_probe_unexpected_answers(http_server):
    not_json = HttpJsonProbe(f"{http_server}/not-json").check()
    assert not not_json.ready and not_json.detail.startswith("unexpected answer")
    missing_key = HttpJsonProbe(f"{http_server}/empty", _scheduler_healthy).check()
    assert not missing_key.ready and "unexpected answer" in missing_key.detail


def test_http_probe_nothing_listening():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        outcome = HttpJsonProbe(f"http://127.0.0.1:{port}/health").check()
    assert outcome.ready is False and outcome.detail


def test_http_get_returns_error_status_and_body(http_server):
    status, body = http_get(f"{http_server}/broken")
    assert status == 500 and json.loads(body) == {"error": "boom"}


def test_wait_for_with_real_http_probe(http_server):
    probe = HttpJsonProbe(f"{http_server}/health", _scheduler_healthy)
    assert wait_for(probe, timeout=5, interval=0.01) >= 0.0


def test_http_probe_ignores_proxy_for_local_services(http_server, monkeypatch):
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))  # a proxy address that refuses connections
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{dead.getsockname()[1]}")
        # urlopen caches its opener (and the proxies it read) on first use: start afresh, as a new
        # `sandbox` process would.
        monkeypatch.setattr(urllib.request, "_opener", None)
        assert HttpJsonProbe(f"{http_server}/health", _scheduler_healthy).check().ready
