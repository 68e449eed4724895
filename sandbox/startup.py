"""Runs a project's startup script the way MWAA does and records what it exported.

The rules (protected variables, the wrapper, log names) live in sandbox.mwaa.startup; this
module runs bash through the proc seam, writes the startup_script_execution stream (a local
copy under .sandbox/logs/, and CloudWatch Logs when the AWS emulator answers) and, for
`sandbox up`, hands the exported variables to Airflow's processes.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from sandbox.errors import ConfigError, SandboxError
from sandbox.mwaa import startup as rules
from sandbox.proc import Command, Runner
from sandbox.proc import runner as default_runner
from sandbox.environment.state import StateDir
from sandbox.settings import Settings

# The timeout(1) exit statuses: 124 after SIGTERM, 137 after the SIGKILL that follows.
_TIMEOUT_STATUSES = (124, 137)


class StartupScriptError(SandboxError):
    """The startup script failed the way it would stop an MWAA component from starting."""


@dataclass(frozen=True)
class StartupResult:
    script: Path
    exported: dict[str, str]  # what reaches Airflow's processes
    rejected: list[str]  # protected variables the script set (MWAA puts them back)
    log_lines: list[rules.LogLine]
    exit_code: int
    timed_out: bool
    env_captured: bool  # the wrapper's exit handler ran (MWAA needs its environment file)
    seconds: float
    started: float  # epoch seconds
    limit: float = rules.MAX_EXECUTION_SECONDS
    host: str = field(default_factory=socket.gethostname)
    crlf: bool = False  # Windows line endings: run as they are, as MWAA does, and said

    @property
    def stream(self) -> str:
        return rules.stream_name(self.host, self.started)

    @property
    def ok(self) -> bool:
        return not self.problems()

    def problems(self) -> list[str]:
        """Why the run counts as failed, most serious first."""
        found = []
        if self.timed_out:
            found.append(f"the startup script did not finish within {self.limit_text}; MWAA stops it "
                         "and the component does not start")
        elif not self.env_captured:
            found.append("the startup script ended before MWAA's wrapper could record its environment "
                         f"(exit status {self.exit_code}: `set -e`, `exec`, a kill, or a function named "
                         f"{rules.EXIT_HANDLER}); MWAA fails to start the component")
        elif self.exit_code != 0:
            found.append(f"the startup script exited with status {self.exit_code} (MWAA carries on, "
                         "but whatever failed in it did not happen)")
        if self.rejected:
            found.append(rules.protected_message(self.rejected))
        return found

    def warnings(self) -> list[str]:
        """What MWAA carries on with but the user should fix; not a failure."""
        if not self.crlf:
            return []
        return [rules.crlf_message(self.script.name, rules.carriage_return_names(self.exported))]

    @property
    def limit_text(self) -> str:
        return f"{self.limit:g} s"

    def text(self) -> str:
        return "\n".join(line.format() for line in self.log_lines) + "\n"


def find_script(settings: Settings) -> Path | None:
    """The script MWAA runs: mwaa.yaml's StartupScriptS3Path, None when the spec names none (MWAA
    ignores a startup.sh it is not told about; `up` and `deploy` warn about one)."""
    named = settings.spec.startup_script_s3_path
    if not named:
        return None
    path = settings.project_dir / named
    if not path.is_file():
        raise ConfigError(f"mwaa.yaml: StartupScriptS3Path: {named} not found in {settings.project_dir}",
                          hint="put the script at that path in the project, or fix the key")
    return path


def script_to_test(settings: Settings) -> Path | None:
    """`sandbox startup-script test` without a FILE: the script MWAA runs, else the project's
    startup.sh (trying a script before naming it in mwaa.yaml is what the command is for)."""
    named = find_script(settings)
    default = settings.project_dir / rules.DEFAULT_SCRIPT
    return named or (default if default.is_file() else None)


def run_script(script: Path, env: Mapping[str, str], *, cwd: Path, limit: float,
               runner: Runner | None = None, clock: Callable[[], float] = time.time) -> StartupResult:
    """Run the script in bash as MWAA does and collect its exports, status and log lines."""
    runner = runner or default_runner
    with tempfile.TemporaryDirectory(prefix="sandbox-startup-") as tmp:
        files = {name: Path(tmp) / name for name in ("before", "after", "status")}
        wrapper = Path(tmp) / "execute-user-startup-script"
        wrapper.write_text(rules.wrapper_script(script.resolve(), **files))
        term_at = rules.sigterm_after(limit)
        patience = limit - term_at
        argv = ("timeout", "--kill-after", f"{patience:g}", f"{term_at:g}", "/bin/bash", str(wrapper))
        started = clock()
        result = runner.run(Command(argv, env=dict(env), cwd=cwd, timeout=limit + 30))
        seconds = clock() - started
        return _collect(script, files, result, started, seconds, limit)


def _collect(script: Path, files: dict[str, Path], result, started: float, seconds: float,
             limit: float) -> StartupResult:
    before = rules.parse_env0(files["before"].read_bytes()) if files["before"].exists() else {}
    captured = files["after"].exists()
    after = rules.parse_env0(files["after"].read_bytes()) if captured else {}
    exported, rejected = rules.split_protected(rules.exported_changes(before, after))
    timed_out = result.returncode in _TIMEOUT_STATUSES and seconds >= rules.sigterm_after(limit) * 0.9
    status = result.returncode
    if captured and files["status"].exists():
        text = files["status"].read_text().strip()
        status = int(text) if text.lstrip("-").isdigit() else status
    ended = started + seconds
    lines = [rules.LogLine(started, line) for line in result.stdout.splitlines()]
    if timed_out:
        lines.append(rules.LogLine(ended, rules.timeout_message(seconds, limit), "WARNING"))
    lines.append(rules.LogLine(ended, rules.execution_time_message(seconds)))
    if not captured:
        lines.append(rules.LogLine(ended, rules.ENV_FILE_MISSING, "ERROR"))
    return StartupResult(script, exported, rejected, lines, status, timed_out, captured,
                         seconds, started, limit, crlf=rules.has_crlf(script.read_bytes()))


def starting_environment(settings: Settings, state: StateDir, venv: Path) -> dict[str, str]:
    """What the script starts with on MWAA: Airflow's environment (MWAA's variables and config)."""
    from sandbox.services import airflow as airflow_service

    return airflow_service.environment(settings, state, venv)


def default_venv(settings: Settings, state: StateDir) -> Path:
    """The Airflow environment in use (`up` links it), for PATH; it need not exist yet."""
    link = state.root / "airflow-env"
    return link.resolve() if link.exists() else settings.cache_dir / "envs" / "not-built"


def run_for_project(settings: Settings, script: Path, *, venv: Path | None = None,
                    runner: Runner | None = None) -> StartupResult:
    """Run `script` for this project (cwd: Airflow's home, as on MWAA) and keep its log."""
    state = StateDir(settings.state_dir)
    state.ensure()
    env = starting_environment(settings, state, venv or default_venv(settings, state))
    result = run_script(script, env, cwd=state.airflow_home, limit=settings.startup_timeout, runner=runner)
    write_local_copy(state, result)
    return result


def write_local_copy(state: StateDir, result: StartupResult) -> Path:
    path = state.logs / result.stream
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.text())
    return path


def emulator_answers(settings: Settings) -> bool:
    from sandbox.probes import TcpProbe

    return TcpProbe(settings.host, settings.aws_port).check().ready


def publish(settings: Settings, result: StartupResult) -> list[str]:
    """Put the stream into each component's log group; [] when the AWS emulator is not running."""
    if not emulator_answers(settings):
        return []
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _put_stream(settings, result)
    except (BotoCoreError, ClientError):
        return []  # something else holds the port: the local copy is the log


def _put_stream(settings: Settings, result: StartupResult) -> list[str]:
    from sandbox.services import aws

    logs = aws.client(settings, "logs")
    events = [{"timestamp": int(line.when * 1000), "message": line.format()}
              for line in result.log_lines]
    groups = rules.log_groups(settings.spec.name)
    for group in groups:
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.create_log_stream(logGroupName=group, logStreamName=result.stream)
        if events:
            logs.put_log_events(logGroupName=group, logStreamName=result.stream, logEvents=events)
    return groups


def run_for_up(settings: Settings, state: StateDir, venv: Path, progress,
               script: Path | None = None) -> StartupResult | None:
    """`sandbox up` (and an environment update, with `script` from the bucket): run the startup
    script before the requirements install. Raises when MWAA would not start the component;
    warns where MWAA carries on."""
    script = script or find_script(settings)
    if script is None:
        return None
    progress.step("startup-script", f"running {script.name} as MWAA does (bash, "
                                    f"{settings.startup_timeout:.0f} s limit)")
    result = run_for_project(settings, script, venv=venv)
    check_for_up(state, result, progress)
    return result


def check_for_up(state: StateDir, result: StartupResult, progress) -> None:
    """Raise where MWAA would not start the component, note where it carries on (the run's
    local log copy is already written)."""
    log = state.logs / result.stream
    if result.timed_out or not result.env_captured:
        raise StartupScriptError(result.problems()[0], hint=f"see {log}",
                                 details="\n".join(l.format() for l in result.log_lines[-15:]))
    for problem in result.problems() + result.warnings():
        progress.note(problem)
    progress.done("startup-script", f"{len(result.exported)} variable(s) exported, "
                                    f"{result.seconds:.1f} s (log: {log})")
