"""The startup script on the compose runtime: run inside the Airflow image, as MWAA runs it in
each component's container, with the same wrapper and rules as natively (sandbox.startup).

Its exports are kept in .sandbox/compose/startup.json beside the script's hash, so a later
command renders the same compose file without running the script again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from sandbox import startup as startup_script
from sandbox.proc import Command, Result, runner
from sandbox.environment.state import StateDir
from sandbox.settings import Settings

CONTAINER_CWD = "/opt/airflow"  # AIRFLOW_HOME in the image: MWAA runs the script from there


class ContainerRunner:
    """Runs the startup wrapper (the command's last argument) in a throw-away container of
    `image` instead of on the host: the wrapper's folder (where it records the environment) is
    mounted read-write and the script's folder read-only, each at the same path; the command's
    environment becomes the container's (values passed by name, never on argv)."""

    def __init__(self, image: str, script_dir: Path):
        self.image = image
        self.script_dir = script_dir

    def argv(self, cmd: Command) -> tuple[str, ...]:
        wrapper_dir = Path(cmd.argv[-1]).parent
        volumes = ["--volume", f"{wrapper_dir}:{wrapper_dir}", "--volume", f"{self.script_dir}:{self.script_dir}:ro"]
        names = [a for k in sorted(cmd.env or {}) for a in ("--env", k)]
        return ("docker", "run", "--rm", "--workdir", CONTAINER_CWD, *volumes, *names, self.image, *cmd.argv)

    def run(self, cmd: Command) -> Result:
        env = {**os.environ, **(cmd.env or {})}
        result = runner.run(Command(self.argv(cmd), env=env, timeout=cmd.timeout))
        return Result(cmd, result.returncode, result.stdout, result.stderr, result.seconds)


def record_file(state: StateDir) -> Path:
    return state.root / "compose" / "startup.json"


def script_digest(script: Path | None) -> str | None:
    return hashlib.sha256(script.read_bytes()).hexdigest() if script else None


def run_in_image(settings: Settings, state: StateDir, image: str, env: dict[str, str], progress):
    """`up`: run the project's startup script (if any) in the Airflow image; raises where MWAA
    would not start the component; records the exports for later renders."""
    script = startup_script.find_script(settings)
    result = None
    if script is not None:
        progress.step("startup-script", f"running {script.name} in {image} as MWAA does "
                                        f"(bash, {settings.startup_timeout:.0f} s limit)")
        container = ContainerRunner(image, script.resolve().parent)
        result = startup_script.run_script(script, env, cwd=state.airflow_home, limit=settings.startup_timeout,
                                           runner=container)
        startup_script.write_local_copy(state, result)
        startup_script.check_for_up(state, result, progress)
    path = record_file(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"script_sha256": script_digest(script),
                                "exported": result.exported if result else {}}))
    path.chmod(0o600)  # exports may hold credentials
    return result


def recorded_exports(settings: Settings, state: StateDir) -> dict[str, str] | None:
    """The exports of the last run, or None when the script changed since (or never ran)."""
    try:
        record = json.loads(record_file(state).read_text())
    except (OSError, ValueError):
        return None
    if record.get("script_sha256") != script_digest(startup_script.find_script(settings)):
        return None
    return dict(record.get("exported") or {})
