"""Preflight checks: a held port is named with its service and the setting that moves it."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from sandbox.errors import PortInUseError, SandboxError
from sandbox.runtime import preflight
from sandbox.runtime.preflight import check_port_free, ensure_reachable, require


@pytest.fixture
def held_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_port_in_use_names_port_service_and_env_var(held_port):
    with pytest.raises(PortInUseError) as info:
        check_port_free("127.0.0.1", held_port, "airflow", "airflow_port")
    error = info.value
    assert str(error).startswith(f"port {held_port} for airflow is already in use on 127.0.0.1")
    assert "SANDBOX_AIRFLOW_PORT" in error.hint
    assert "Sandbox.airflow_port" in error.hint
    assert error.exit_code == 1


def test_port_in_use_names_the_holder_when_known(held_port):
    with pytest.raises(PortInUseError) as info:
        check_port_free("127.0.0.1", held_port, "postgres", "postgres_port")
    # We hold the port ourselves, so psutil can name this very process.
    assert f"held by {preflight.port_holder(held_port)}" in str(info.value)
    assert f"(pid {os.getpid()})" in str(info.value)


def test_port_held_on_all_interfaces_counts(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        port = sock.getsockname()[1]
        monkeypatch.setattr(preflight, "port_holder", lambda port: None)
        with pytest.raises(PortInUseError) as info:
            check_port_free("127.0.0.1", port, "kafka", "kafka_port")
    assert "held by" not in str(info.value)
    assert "SANDBOX_KAFKA_PORT" in info.value.hint


def test_free_port_passes():
    port = free_port()
    assert check_port_free("127.0.0.1", port, "aws", "aws_port") is None
    check_port_free("127.0.0.1", port, "aws", "aws_port")  # the check itself leaves it free


def test_port_holder_of_free_port_is_none():
    assert preflight.port_holder(free_port()) is None


def test_ensure_reachable_adds_search_permission(tmp_path, monkeypatch):
    # ensure_reachable walks up to /, so chmod is recorded instead of applied: a unit test must
    # not loosen permissions of folders it does not own (pytest's base temp, /root, ...).
    locked = tmp_path / "a" / "b"
    target = locked / "data"
    target.mkdir(parents=True)
    os.chmod(tmp_path / "a", 0o700)
    os.chmod(locked, 0o750)
    calls = []
    monkeypatch.setattr(os, "chmod", lambda path, mode: calls.append((path, mode)))
    changed = ensure_reachable(target, "postgres")
    assert changed == [path for path, _ in calls]
    modes = {path: mode for path, mode in calls}
    assert modes[(tmp_path / "a").resolve()] & 0o7777 == 0o701
    assert modes[locked.resolve()] & 0o7777 == 0o751
    assert target.resolve() not in modes  # only the parents
    assert all(not os.stat(p).st_mode & stat.S_IXOTH for p, _ in calls)  # only folders lacking o+x
    assert os.stat(tmp_path / "a").st_mode & 0o777 == 0o700  # nothing really changed


def test_require():
    require(True, "never shown")
    with pytest.raises(SandboxError) as info:
        require(False, "python3.11 is missing", hint="install it")
    assert info.value.one_line() == "python3.11 is missing (install it)"
