"""Long build commands (debootstrap, docker build): output kept in a log file, and while they
run, progress shows the current build step and newest output line every few seconds."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from sandbox.errors import EnvironmentBuildError
from sandbox.proc import Command, Result, runner

REPORT_EVERY = 10.0  # seconds between progress lines while a build runs
_LINE_WIDTH = 100
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # the legacy builder colours stderr red


@dataclass(frozen=True)
class LoggedRun:
    name: str  # the progress step this run reports under
    what: str  # "building mwaa-sandbox/airflow:…", for messages
    log: Path
    timeout: float = 3600.0


class _Reporter:
    """Turns a stream of output lines into a progress line every REPORT_EVERY seconds."""

    def __init__(self, run: LoggedRun, progress):
        self.run, self.progress = run, progress
        self.started = self.last_report = time.monotonic()
        self.step = ""

    def line(self, raw: str) -> None:
        text = _ANSI.sub("", raw).strip()
        if not text:
            return
        if text.startswith("Step ") or text.startswith("#"):  # legacy builder / BuildKit steps
            self.step = text
        now = time.monotonic()
        if now - self.last_report >= REPORT_EVERY:
            self.last_report = now
            self.progress.step(self.run.name, f"{now - self.started:.0f} s: {summary(self.step, text)}")


def run_logged(argv: Sequence[str], run: LoggedRun, progress) -> Result:
    """Run argv, streaming its output into run.log and the progress; raise when it fails."""
    run.log.parent.mkdir(parents=True, exist_ok=True)
    reporter = _Reporter(run, progress)
    with open(run.log, "w", encoding="utf-8") as log:

        def on_line(line: str) -> None:
            log.write(line + "\n")
            reporter.line(line)

        result = runner.stream(Command.of(*argv, timeout=run.timeout), on_line)
    if not result.ok:
        raise build_failed(run, result)
    return result


def summary(step: str, last: str) -> str:
    """The current build step, plus the newest output line when it is another line."""
    if not step or step == last:
        return _clip(last)
    return f"{_clip(step, 60)} | {_clip(last, 60)}"


def _clip(text: str, width: int = _LINE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# What docker prints when a base image cannot be pulled: no registry, or a locked-down network.
_REGISTRY_SIGNS = ("registry-1.docker.io", "pull access denied", "manifest unknown", "failed to resolve",
                   "toomanyrequests", "error pulling image")
REGISTRY_HINT = ("no container registry reachable? `sandbox up --offline-images` builds every image "
                 "locally (or set SANDBOX_OFFLINE_IMAGES=true)")


def registry_unreachable(text: str) -> bool:
    lowered = text.lower()
    return any(sign in lowered for sign in _REGISTRY_SIGNS)


def build_failed(run: LoggedRun, result: Result) -> EnvironmentBuildError:
    output = _ANSI.sub("", result.stdout + result.stderr)
    lines = [l.rstrip() for l in output.splitlines() if l.strip()]
    last = _last_error(lines)
    hint = REGISTRY_HINT if registry_unreachable(output) else "check network access to PyPI and deb.debian.org"
    return EnvironmentBuildError(
        f"{run.what} failed (exit code {result.returncode}){': ' + last if last else ''}",
        hint=f"{hint}; full output in {run.log}", details="\n".join(lines[-20:]) or None)


def _last_error(lines: list[str]) -> str:
    for line in reversed(lines):
        lowered = line.lower()
        if "error" in lowered or "failed" in lowered or "mismatch" in lowered:
            return _clip(line.strip())
    return _clip(lines[-1].strip()) if lines else ""
