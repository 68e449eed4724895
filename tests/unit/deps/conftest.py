"""Fake wheels and plugins.zip built on the fly (no binary fixtures are committed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

CORPUS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "mwaa_failures"
PIP_OUTPUTS = CORPUS_DIR.parent / "pip_outputs"  # pip 26.3's words, captured from real runs
sys.path.insert(0, str(CORPUS_DIR))

import requirements_corpus  # noqa: E402


@pytest.fixture
def make_plugins_zip(tmp_path):
    def make(*wheel_names: str, nested: tuple[str, ...] = ()) -> Path:
        target = requirements_corpus.plugins_zip(tmp_path / "plugins.zip", wheel_names)
        if nested:
            import zipfile
            with zipfile.ZipFile(target, "a") as archive:
                for name in nested:
                    archive.write(requirements_corpus.fake_wheel(tmp_path / "n", name), f"wheels/{name}")
        return target

    return make


@pytest.fixture
def pip_output():
    """pip's captured output by name (tests/fixtures/pip_outputs/<name>.txt)."""
    return lambda name: (PIP_OUTPUTS / f"{name}.txt").read_text()
