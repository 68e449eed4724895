"""Shared fixtures for the unit tests: a clean SANDBOX_* environment and throwaway projects."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# MWAA's reference files live beside the repository (../shared), or wherever the caller points.
SHARED_DATA = Path(os.environ.get("SANDBOX_MWAA_DATA_DIR") or REPO.parent / "shared" / "mwaa" / "2.9.2")


@pytest.fixture(autouse=True)
def clean_sandbox_env(monkeypatch, tmp_path_factory):
    """No SANDBOX_* variable leaks in from the shell, and nothing ever writes to ~/.cache."""
    for name in list(os.environ):
        if name.startswith("SANDBOX_"):
            monkeypatch.delenv(name)
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("SANDBOX_CACHE_DIR", str(cache))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache / "xdg"))
    return cache


@pytest.fixture(autouse=True)
def no_docker_engine(monkeypatch):
    """`--runtime auto` sees no Docker engine unless a test says otherwise: the machine running
    the tests may have one, and unit tests must not depend on it."""
    from sandbox.runtime.compose import engine

    monkeypatch.setattr(engine, "engine_version", lambda timeout=10: None)


@pytest.fixture
def shared_data_dir(monkeypatch) -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"MWAA reference data not found at {SHARED_DATA}; set SANDBOX_MWAA_DATA_DIR")
    monkeypatch.setenv("SANDBOX_MWAA_DATA_DIR", str(SHARED_DATA))
    return SHARED_DATA


@pytest.fixture
def project(tmp_path) -> Path:
    """An empty project folder; write mwaa.yaml into it as a test needs."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def repo_dir() -> Path:
    return REPO


def write_spec(project: Path, text: str) -> Path:
    path = project / "mwaa.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def spec_writer(project):
    """Write mwaa.yaml into the project and return the project folder."""

    def write(text: str) -> Path:
        write_spec(project, text)
        return project

    return write


@pytest.fixture
def versioned_bucket(monkeypatch):
    """`with versioned_bucket(name) as s3:` moto's in-process S3 with one versioned bucket."""
    return lambda bucket: _mocked_versioned_bucket(monkeypatch, bucket)


@contextmanager
def _mocked_versioned_bucket(monkeypatch, bucket: str):
    """moto's in-process S3 with one versioned bucket (no emulator, no endpoint override)."""
    from moto import mock_aws
    import boto3

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        yield client
