"""The Airflow environment install, as MWAA runs it on every start: the startup script, then the
requirements (cached by content). `up` and an environment update both come through here, so an
update installs exactly as `up` does."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sandbox import startup as startup_script
from sandbox.environment.airflow_env import AirflowEnvironment, EnvironmentBuilder
from sandbox.environment.state import StateDir
from sandbox.mwaa.data import locate
from sandbox.settings import Settings


@dataclass(frozen=True)
class Inputs:
    """What an install uses: requirements text, the startup script (None: the project default)."""

    requirements: str
    script: Path | None = None
    plugins: Path | None = None


def install_environment(settings: Settings, state: StateDir, progress,
                        inputs: Inputs) -> tuple[AirflowEnvironment, startup_script.StartupResult | None]:
    """MWAA's order: the startup script, then the requirements install (cached by content)."""
    data = locate(settings.mwaa_data_dir, settings.cache_dir, settings.offline)
    builder = EnvironmentBuilder(
        data=data, requirements=inputs.requirements, python=settings.python, cache_dir=settings.cache_dir,
        offline=settings.offline, progress=lambda msg: progress.step("airflow-env", msg))
    startup = startup_script.run_for_up(settings, state, builder.env_dir(), progress, script=inputs.script)
    cached = builder.is_built()
    progress.step("airflow-env", "checking the Airflow 2.9.2 environment")
    started = time.monotonic()
    env = builder.ensure()
    progress.done("airflow-env", "cached" if cached else f"built in {time.monotonic() - started:.0f} s")
    for message in env.plan.messages:
        progress.note(message)
    return env, startup
