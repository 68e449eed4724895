"""Every subprocess goes through this seam: value objects in, value objects out.

Tests replace `runner` (or pass their own Runner) to fake subprocesses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from sandbox.errors import CommandFailed, ToolMissingError


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    env: Mapping[str, str] | None = None  # full environment; None inherits ours
    cwd: Path | None = None
    user: str | None = None  # run as this system user (PostgreSQL refuses root)
    timeout: float | None = None
    input: str | None = None

    @classmethod
    def of(cls, *argv: str | os.PathLike, **kwargs) -> "Command":
        return cls(tuple(str(a) for a in argv), **kwargs)

    def display(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True)
class Result:
    command: Command
    returncode: int
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def check(self, what: str | None = None) -> "Result":
        if not self.ok:
            tail = "\n".join((self.stderr or self.stdout).strip().splitlines()[-15:])
            raise CommandFailed(
                f"{what or self.command.argv[0]} failed with exit code {self.returncode}",
                details=tail or None,
            )
        return self


@dataclass(frozen=True)
class ProcessRecord:
    """What we remember about a background process, enough to tell it from a reused pid."""

    pid: int
    start_ticks: int
    argv0: str
    log: str = ""
    extra: dict = field(default_factory=dict)


def _identity(user: str | None) -> dict:
    """Run as `user` with its own group and no supplementary groups: a root group left behind
    would let the group bits (not the 'other' bits) decide what it may access."""
    if user is None:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class Runner:
    """Runs commands for real."""

    def run(self, cmd: Command) -> Result:
        started = time.monotonic()
        try:
            done = subprocess.run(
                list(cmd.argv), env=cmd.env, cwd=cmd.cwd, input=cmd.input,
                capture_output=True, text=True, timeout=cmd.timeout, **_identity(cmd.user),
            )
        except FileNotFoundError as exc:
            raise ToolMissingError(f"{cmd.argv[0]} not found", hint="check the installation") from exc
        except subprocess.TimeoutExpired as exc:
            raise CommandFailed(f"{cmd.display()} did not finish within {cmd.timeout:.0f} s") from exc
        return Result(cmd, done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def stream(self, cmd: Command, on_line: Callable[[str], None]) -> Result:
        """Run to completion, handing each output line (stdout and stderr merged) to on_line as
        it comes: progress for long steps (image builds, `compose up`)."""
        started = time.monotonic()
        deadline = started + cmd.timeout if cmd.timeout else None
        try:
            child = subprocess.Popen(list(cmd.argv), env=cmd.env, cwd=cmd.cwd, text=True, errors="replace",
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, **_identity(cmd.user))
        except FileNotFoundError as exc:
            raise ToolMissingError(f"{cmd.argv[0]} not found", hint="check the installation") from exc
        lines: list[str] = []
        timer = threading.Timer(cmd.timeout, child.kill) if cmd.timeout else None
        if timer:
            timer.start()
        try:
            for line in child.stdout:  # type: ignore[union-attr]
                lines.append(line)
                on_line(line.rstrip("\n"))
            child.wait()
        finally:
            if timer:
                timer.cancel()
            if child.poll() is None:  # on_line raised (e.g. Ctrl-C): leave nothing running
                child.kill()
                child.wait()
        if deadline and time.monotonic() >= deadline and child.returncode != 0:
            raise CommandFailed(f"{cmd.display()} did not finish within {cmd.timeout:.0f} s",
                                details="".join(lines[-15:]) or None)
        return Result(cmd, child.returncode, "".join(lines), "", time.monotonic() - started)

    def follow(self, cmd: Command) -> Iterator[str]:
        """Output lines of a command that runs until stopped (`logs --follow`); the process is
        killed when the reader stops reading."""
        try:
            child = subprocess.Popen(list(cmd.argv), env=cmd.env, cwd=cmd.cwd, text=True, errors="replace",
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except FileNotFoundError as exc:
            raise ToolMissingError(f"{cmd.argv[0]} not found", hint="check the installation") from exc
        try:
            for line in child.stdout:  # type: ignore[union-attr]
                yield line.rstrip("\n")
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()

    def spawn(self, cmd: Command, log_path: Path) -> ProcessRecord:
        """Start a long-running process in its own session, output appended to log_path."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            try:
                child = subprocess.Popen(
                    list(cmd.argv), env=cmd.env, cwd=cmd.cwd, **_identity(cmd.user),
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,  # own process group: we stop the whole tree
                )
            except FileNotFoundError as exc:
                raise ToolMissingError(f"{cmd.argv[0]} not found") from exc
        return ProcessRecord(child.pid, start_ticks(child.pid) or 0, cmd.argv[0], str(log_path))


runner = Runner()


def start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[19])


def is_alive(record: ProcessRecord) -> bool:
    """True only if the pid is running *and* is the process we started (not a reused pid)."""
    ticks = start_ticks(record.pid)
    if ticks is None or ticks != record.start_ticks:
        return False
    try:
        state = Path(f"/proc/{record.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def reap(pid: int) -> None:
    """Collect a finished child so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop(record: ProcessRecord, *, grace: float = 15.0, sig: int = signal.SIGTERM,
         leader_only: bool = False) -> bool:
    """Signal the process group (or only its leader, which then stops its children itself), wait
    up to `grace` s, then SIGKILL the group. True if it had to be killed."""
    if not is_alive(record):
        return False
    if leader_only:
        os.kill(record.pid, sig)  # verified ours just above
    else:
        _signal(record.pid, sig, group_only=False)
    if _wait_gone(record, grace):
        _signal(record.pid, signal.SIGKILL, group_only=True)  # stragglers left in its group
        return False
    _signal(record.pid, signal.SIGKILL, group_only=True)
    _wait_gone(record, 5.0)
    return True


def _wait_gone(record: ProcessRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        reap(record.pid)
        if not is_alive(record):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _signal(pid: int, sig: int, *, group_only: bool) -> None:
    """Signal the process group led by pid. A bare pid is signalled only while we know it is
    ours: once the leader is gone the number may belong to someone else."""
    try:
        os.killpg(pid, sig)
        return
    except (ProcessLookupError, PermissionError):
        if group_only:
            return
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_checked(argv: Sequence[str | os.PathLike], what: str, **kwargs) -> Result:
    return runner.run(Command.of(*argv, **kwargs)).check(what)
