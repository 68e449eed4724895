"""Helpers for driving `sandbox` in-process: main([...]) with its exit code and output."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from sandbox.cli import main
from sandbox.proc import Runner

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("Error:")]


@pytest.fixture
def sandbox(capsys):
    """Run the CLI in-process; returns exit code, stdout and stderr (colour codes removed)."""

    def run(*args: str) -> Outcome:
        with pytest.raises(SystemExit) as info:
            main(list(args))
        captured = capsys.readouterr()
        code = info.value.code if isinstance(info.value.code, int) else (0 if info.value.code is None else 1)
        return Outcome(code, _ANSI.sub("", captured.out), _ANSI.sub("", captured.err))

    return run


@pytest.fixture
def no_subprocesses(monkeypatch):
    """Fail the test if the command tries to run or start any program."""

    def forbidden(self, cmd, *args, **kwargs):
        raise AssertionError(f"unexpected subprocess: {cmd.display()}")

    monkeypatch.setattr(Runner, "run", forbidden)
    monkeypatch.setattr(Runner, "spawn", forbidden)
