"""The subprocess seam: run, check, spawn, liveness that survives pid reuse, stop, tail."""

from __future__ import annotations

import os
import pwd
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from sandbox.errors import CommandFailed, ToolMissingError
from sandbox.proc import (Command, ProcessRecord, Result, Runner, _identity, is_alive, run_checked,
                          start_ticks, stop, tail)


def gone_or_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def reap_quietly(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


@pytest.fixture
def spawned(tmp_path):
    """Spawn `sleep 30` children; whatever a test leaves running is killed afterwards."""
    records: list[ProcessRecord] = []

    def spawn(argv=("sleep", "30"), log_name="child.log") -> ProcessRecord:
        record = Runner().spawn(Command.of(*argv), tmp_path / "logs" / log_name)
        records.append(record)
        return record

    yield spawn
    for record in records:
        if is_alive(record):
            stop(record, grace=2.0)
        reap_quietly(record.pid)


def test_command_of_stringifies_and_displays(tmp_path):
    cmd = Command.of("ls", tmp_path, "-l", timeout=3)
    assert cmd.argv == ("ls", str(tmp_path), "-l")
    assert cmd.timeout == 3
    assert cmd.display() == f"ls {tmp_path} -l"


def test_run_returns_output_and_code():
    result = Runner().run(Command.of("sh", "-c", "echo out; echo err >&2; exit 3"))
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert result.ok is False
    assert result.seconds >= 0


def test_run_passes_input_env_and_cwd(tmp_path):
    cmd = Command.of("sh", "-c", 'read line; echo "$line $GREETING $(pwd)"', input="hi\n",
                     env={"GREETING": "there", "PATH": os.environ["PATH"]}, cwd=tmp_path)
    result = Runner().run(cmd)
    assert result.ok
    assert result.stdout.strip() == f"hi there {tmp_path}"


def test_check_passes_on_success():
    result = Runner().run(Command.of("true"))
    assert result.check("true") is result


def test_check_raises_with_stderr_tail():
    script = "for i in $(seq 1 20); do echo line$i >&2; done; exit 4"
    result = Runner().run(Command.of("sh", "-c", script))
    with pytest.raises(CommandFailed) as info:
        result.check("building things")
    assert str(info.value) == "building things failed with exit code 4"
    lines = info.value.details.splitlines()
    assert lines == [f"line{i}" for i in range(6, 21)]  # the last 15 lines


def test_check_falls_back_to_stdout_and_argv0():
    result = Result(Command.of("tool", "x"), 1, stdout="only stdout\n", stderr="")
    with pytest.raises(CommandFailed) as info:
        result.check()
    assert str(info.value) == "tool failed with exit code 1"
    assert info.value.details == "only stdout"


def test_check_without_output_has_no_details():
    with pytest.raises(CommandFailed) as info:
        Result(Command.of("tool"), 2).check()
    assert info.value.details is None


def test_missing_binary():
    with pytest.raises(ToolMissingError) as info:
        Runner().run(Command.of("definitely-not-a-real-binary-xyz", "--version"))
    assert "definitely-not-a-real-binary-xyz not found" in str(info.value)


def test_missing_binary_on_spawn(tmp_path):
    with pytest.raises(ToolMissingError):
        Runner().spawn(Command.of("definitely-not-a-real-binary-xyz"), tmp_path / "x.log")


def test_timeout_becomes_command_failed():
    started = time.monotonic()
    with pytest.raises(CommandFailed, match="did not finish within"):
        Runner().run(Command.of("sleep", "10", timeout=0.3))
    assert time.monotonic() - started < 5


def test_run_checked_uses_module_runner(monkeypatch):
    seen = []

    class FakeRunner:
        def run(self, cmd):
            seen.append(cmd)
            return Result(cmd, 0, "fine")

    monkeypatch.setattr("sandbox.proc.runner", FakeRunner())
    result = run_checked(["airflow", "version"], "airflow version", timeout=5)
    assert result.stdout == "fine"
    assert seen == [Command(("airflow", "version"), timeout=5)]


def test_identity_of_no_user_is_empty():
    assert _identity(None) == {}


def test_identity_uses_the_users_own_group():
    entry = pwd.getpwnam("nobody")
    assert _identity("nobody") == {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_run_as_user_drops_root_groups():
    entry = pwd.getpwnam("nobody")
    result = Runner().run(Command.of("id", "-u", user="nobody")).check()
    assert result.stdout.strip() == str(entry.pw_uid)
    groups = Runner().run(Command.of("id", "-G", user="nobody")).check().stdout.split()
    assert groups == [str(entry.pw_gid)]  # no supplementary root group left behind


def test_start_ticks_of_ourselves_and_of_nobody():
    ticks = start_ticks(os.getpid())
    assert isinstance(ticks, int) and ticks > 0
    assert start_ticks(os.getpid()) == ticks
    assert start_ticks(2**22 + 12345) is None  # above pid_max: never a process


def test_spawn_is_alive_and_stop(spawned):
    record = spawned()
    assert record.argv0 == "sleep"
    assert record.start_ticks == start_ticks(record.pid)
    assert is_alive(record)
    assert os.getpgid(record.pid) == record.pid  # its own session and process group
    started = time.monotonic()
    assert stop(record, grace=5.0) is False  # SIGTERM was enough
    assert time.monotonic() - started < 5.0
    assert not is_alive(record)
    assert gone_or_zombie(record.pid)


def test_stop_kills_after_grace(spawned):
    record = spawned(("sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"))
    log = Path(record.log)
    deadline = time.monotonic() + 5
    while "ready" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stop(record, grace=0.5) is True  # ignored SIGTERM: killed
    # stop() returns right after SIGKILL without waiting for it to land (see the report), so poll.
    deadline = time.monotonic() + 3
    while is_alive(record) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not is_alive(record)


def test_spawn_appends_output_to_log(spawned, tmp_path):
    log = tmp_path / "logs" / "echo.log"
    log.parent.mkdir(parents=True)
    log.write_text("earlier run\n")
    record = spawned(("sh", "-c", "echo hello; echo oops >&2"), "echo.log")
    assert record.log == str(log)
    deadline = time.monotonic() + 5
    while "oops" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert log.read_text().splitlines() == ["earlier run", "hello", "oops"]


def test_pid_reuse_is_not_alive_and_not_killed(spawned):
    real = spawned()
    impostor = replace(real, start_ticks=real.start_ticks + 1)  # same pid, another process's start
    assert not is_alive(impostor)
    assert stop(impostor, grace=0.5) is False
    time.sleep(0.1)
    assert is_alive(real), "stop() on a reused pid must not signal the live process"
    assert psutil.Process(real.pid).status() != psutil.STATUS_ZOMBIE
    stop(real, grace=5.0)
    assert not is_alive(real)


def test_exited_process_is_not_alive(spawned):
    record = spawned(("true",))
    deadline = time.monotonic() + 5
    while is_alive(record) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not is_alive(record)  # a zombie child counts as gone
    assert stop(record) is False


def test_record_of_unknown_pid_is_not_alive():
    assert not is_alive(ProcessRecord(pid=2**22 + 12345, start_ticks=1, argv0="ghost"))
    me = ProcessRecord(pid=os.getpid(), start_ticks=start_ticks(os.getpid()), argv0=sys.executable)
    assert is_alive(me)


def test_tail(tmp_path):
    path = tmp_path / "service.log"
    path.write_text("".join(f"line {i}\n" for i in range(1, 31)))
    assert tail(path, 3) == "line 28\nline 29\nline 30"
    assert tail(path).splitlines()[0] == "line 11"  # 20 lines by default


def test_tail_of_large_file_and_missing_file(tmp_path):
    path = tmp_path / "big.log"
    path.write_bytes(b"x" * 200_000 + b"\nlast but one\nlast\n")
    assert tail(path, 2) == "last but one\nlast"
    assert tail(tmp_path / "missing.log") == ""


def test_stop_does_not_signal_a_bare_pid_once_gone(spawned, monkeypatch):
    record = spawned()
    real_killpg = os.killpg
    bare_kills = []

    def killpg(pgid, sig):
        if sig == signal.SIGKILL:
            raise ProcessLookupError  # the group is empty: everyone already exited
        real_killpg(pgid, sig)

    monkeypatch.setattr(os, "killpg", killpg)
    monkeypatch.setattr(os, "kill", lambda pid, sig: bare_kills.append((pid, sig)))
    assert stop(record, grace=5.0) is False
    assert (record.pid, signal.SIGKILL) not in bare_kills


def test_stream_hands_over_each_line_in_order():
    seen = []
    result = Runner().stream(Command.of(sys.executable, "-c",
                                        "import sys; print('one'); print('two', file=sys.stderr); sys.exit(3)"),
                             seen.append)
    assert seen == ["one", "two"]
    assert result.returncode == 3 and result.stdout == "one\ntwo\n"


def test_stream_timeout_kills_and_raises():
    with pytest.raises(CommandFailed, match="did not finish within 1 s"):
        Runner().stream(Command.of(sys.executable, "-c", "import time; print('x', flush=True); time.sleep(30)",
                                   timeout=1), lambda line: None)


def test_stream_missing_binary():
    with pytest.raises(ToolMissingError):
        Runner().stream(Command.of("/nonexistent/tool"), lambda line: None)


def test_follow_yields_lines_and_kills_the_command_when_the_reader_stops():
    lines = Runner().follow(Command.of(sys.executable, "-u", "-c",
                                       "import time\nfor i in range(100):\n    print(i); time.sleep(0.05)"))
    assert [next(lines) for _ in range(3)] == ["0", "1", "2"]
    lines.close()  # what Ctrl-C on `sandbox logs -f` does to the generator


def test_stop_leader_only_lets_the_leader_stop_its_children_itself(spawned, tmp_path):
    """As a Celery worker's warm shutdown: only the main process gets SIGTERM; a child that
    ignores nothing is still alive when the leader handles the signal."""
    marker = tmp_path / "child-saw-term"
    script = (f"sh -c 'trap \"touch {marker}; exit 0\" TERM; while :; do sleep 0.1; done' & child=$!; "
              "trap 'sleep 0.3; kill -KILL $child; exit 0' TERM; echo ready; wait")
    record = spawned(("sh", "-c", script))
    log = Path(record.log)
    deadline = time.monotonic() + 5
    while "ready" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stop(record, grace=5.0, leader_only=True) is False
    assert not marker.exists()  # the group signal would have reached the child
