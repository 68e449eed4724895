"""The project's MWAA inputs as `up` reads them (requirements.txt, plugins.zip at mwaa.yaml's
keys), and where Airflow's copies of them live under `.sandbox/`."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from sandbox.environment.state import StateDir
from sandbox.settings import Settings


def project_requirements(settings: Settings) -> str:
    """`up`'s requirements.txt: the project's file at RequirementsS3Path; empty when the spec
    names none (MWAA installs nothing then; `up` warns about an unnamed requirements.txt)."""
    rel = settings.spec.requirements_s3_path
    path = settings.project_dir / rel if rel else None
    return path.read_text() if path and path.is_file() else ""


def project_plugins(settings: Settings) -> Path | None:
    """`up`'s plugins.zip: the project's file at PluginsS3Path (the one `up` deploys); MWAA reads
    none without that key."""
    key = settings.spec.plugins_s3_path
    path = settings.project_dir / key if key else None
    return path if path is not None and path.is_file() else None


def install_plugins(state: StateDir, archive: Path | None) -> None:
    """plugins.zip unpacked into Airflow's plugins folder, as MWAA does (emptied when there is none)."""
    folder = state.plugins_folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    if archive is not None and zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(folder)


def link_environment(state: StateDir, venv: Path) -> None:
    """.sandbox/airflow-env: a stable path to the environment in use."""
    link = state.root / "airflow-env"
    tmp = state.root / f".airflow-env.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(venv)
    tmp.replace(link)  # atomic: readers never see it missing
