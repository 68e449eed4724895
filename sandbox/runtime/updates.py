"""An MWAA environment update on the native runtime: `python -m sandbox.runtime.updates --project DIR`.

The dagsync loop (sandbox.environment.envstate.Watcher) writes UPDATING with the target object versions
and starts this process. It reads the new requirements.txt, plugins.zip and startup script from the
bucket (never the working tree: MWAA reads S3), runs the startup script, builds (or reuses) the
Airflow environment for the requirements, and only then restarts Airflow's processes on it. A
failed install leaves the running Airflow on its old environment (MWAA rolls back) -> UPDATE_FAILED
with the key line of the error; a restart that fails is rolled back to the old environment, the old
startup script's exports and the old plugins.

It runs as its own process so the sync loop keeps its interval while requirements install.
`sandbox up` installs through `sandbox.runtime.install` too, so an update installs exactly as `up` does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

from sandbox import startup as startup_script
from sandbox.environment import envstate
from sandbox.environment.project import install_plugins, project_requirements
from sandbox.environment.state import StateDir
from sandbox.errors import EnvironmentBuildError, SandboxError
from sandbox.proc import Command, ProcessRecord, runner
from sandbox.runtime.install import Inputs, install_environment
from sandbox.settings import Settings


class PrintProgress:
    """Progress as timestamped lines (the update's log file)."""

    def _line(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)

    def step(self, name: str, message: str) -> None:
        self._line(f"{name}: {message}")

    def done(self, name: str, message: str) -> None:
        self._line(f"{name}: done, {message}")

    def note(self, message: str) -> None:
        self._line(f"note: {message}")


# -- the update ------------------------------------------------------------------------------------
def stage(settings: Settings, s3, target: dict[str, str | None], folder: Path) -> Inputs:
    """Download the target versions of the watched objects into `folder`."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    keys = envstate.watched_keys(settings)
    files: dict[str, Path | None] = {}
    for part, key in keys.items():
        version = target.get(part)
        if version is None:
            files[part] = None  # deleted from the bucket: the update removes it
            continue
        extra = {} if "@" in version else {"VersionId": version}
        body = s3.get_object(Bucket=settings.spec.bucket_name, Key=key, **extra)["Body"].read()
        files[part] = folder / f"{part}-{Path(key).name}"
        files[part].write_bytes(body)
    if "requirements" in keys:
        req = files["requirements"]
        requirements = req.read_text() if req else ""
    else:
        requirements = project_requirements(settings)
    script = files.get("startup")
    return Inputs(requirements, script, files.get("plugins"))


def failure_reason(exc: SandboxError, keys: dict[str, str]) -> str:
    """One line: the key line of the resolver's error, prefixed by the file it came from."""
    if isinstance(exc, EnvironmentBuildError):
        lines = [l.strip() for l in (exc.details or "").splitlines()]
        key = next((l[l.index("Because"):] for l in lines if "Because" in l), None)  # uv's resolver
        key = key or next((l for l in lines if l.lower().startswith("error:")), None) or exc.message
        return f"{keys.get('requirements', 'requirements.txt')}: {key}"
    if isinstance(exc, startup_script.StartupScriptError):
        return f"{keys.get('startup', 'startup script')}: {exc.message}"
    return exc.message


def run_update(settings: Settings, runtime=None, s3=None, progress=None) -> envstate.EnvironmentState:
    """UPDATING -> AVAILABLE | UPDATE_FAILED through the Runtime interface (faked in tests)."""
    from sandbox.delivery.deploy import s3_client

    path = envstate.state_file(settings)
    state = envstate.read(path)
    if state is None or state.state != envstate.UPDATING or state.target is None:
        raise SandboxError(f"no update to run: {path} does not say UPDATING")
    progress = progress or PrintProgress()
    if runtime is None:  # only the native runtime's sync loop starts this process
        from sandbox.runtime.select import make_runtime
        runtime, _ = make_runtime(replace(settings, runtime="native"), progress)
    keys = envstate.watched_keys(settings)
    target = state.target
    progress.step("update", f"{state.reason}: installing {target}")
    try:
        inputs = stage(settings, s3 or s3_client(settings), target, settings.state_dir / "update")
        env, startup = install_environment(settings, runtime.state, progress, inputs)
    except SandboxError as exc:
        reason = failure_reason(exc, keys)
        progress.note(f"UPDATE_FAILED: {reason}; Airflow keeps running on its current environment")
        return envstate.transition(path, envstate.UPDATE_FAILED, reason)
    plugins = (lambda: install_plugins(runtime.state, inputs.plugins)) if "plugins" in keys else None
    try:
        runtime.restart_airflow(env.path, startup, before_start=plugins)
    except SandboxError as exc:
        progress.note(f"the restart failed ({exc.message}): rolling back")
        _roll_back(runtime, progress)
        return envstate.transition(path, envstate.UPDATE_FAILED, f"Airflow did not restart on the new "
                                   f"environment, rolled back: {exc.message}")
    progress.done("update", "AVAILABLE")
    return envstate.transition(path, envstate.AVAILABLE, versions=target, target=None)


def _roll_back(runtime, progress) -> None:
    try:
        if not runtime.roll_back():
            progress.note("no earlier Airflow environment is recorded: nothing to roll back to")
    except SandboxError as exc:
        progress.note(f"the rollback failed too: {exc.message}")


def spawn_update(settings: Settings) -> ProcessRecord:
    """Start the update process (the Watcher's spawn); it inherits this process's environment."""
    log = StateDir(settings.state_dir).log_file(envstate.UPDATE_LOG.removesuffix(".log"))
    cmd = Command.of(sys.executable, "-m", "sandbox.runtime.updates", "--project", settings.project_dir,
                     env=dict(os.environ, PYTHONUNBUFFERED="1"))
    return runner.spawn(cmd, log)


def main(argv: list[str] | None = None) -> int:
    from sandbox.probes import bypass_proxy_for_loopback
    from sandbox.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m sandbox.runtime.updates",
                                     description="Run the pending MWAA environment update.")
    parser.add_argument("--project", required=True, help="the project folder (mwaa.yaml, .sandbox/)")
    args = parser.parse_args(argv)
    bypass_proxy_for_loopback(os.environ)
    try:
        settings = load_settings(Path(args.project))
        result = run_update(settings)
    except SandboxError as exc:  # the Watcher turns a dead updater still UPDATING into UPDATE_FAILED
        print(f"Error: {exc.one_line()}", flush=True)
        return exc.exit_code
    print(f"environment: {result.state} {result.reason}".rstrip(), flush=True)
    return 0 if result.state == envstate.AVAILABLE else 1


if __name__ == "__main__":
    sys.exit(main())
