"""sandbox deploy with nothing running: one clear error naming the remedy, nothing started."""

from __future__ import annotations

import socket

import pytest


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_deploy_without_a_running_sandbox(sandbox, project, monkeypatch, no_subprocesses):
    (project / "dags").mkdir()
    (project / "dags" / "a.py").write_text("x = 1\n")
    monkeypatch.setenv("SANDBOX_AWS_PORT", str(_closed_port()))
    result = sandbox("--project", str(project), "deploy")
    assert result.code == 1
    assert len(result.error_lines) == 1
    line = result.error_lines[0]
    assert "the AWS emulator does not answer" in line and "sandbox up" in line


def test_deploy_watch_without_a_running_sandbox_fails_at_once(sandbox, project, monkeypatch, no_subprocesses):
    monkeypatch.setenv("SANDBOX_AWS_PORT", str(_closed_port()))
    result = sandbox("--project", str(project), "deploy", "--watch")
    assert result.code == 1 and "sandbox up" in result.error_lines[0]
