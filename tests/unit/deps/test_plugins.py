"""plugins.zip extraction with fake wheels, missing-wheel reporting, requirement lines."""

from __future__ import annotations

import zipfile

import pytest

from sandbox.deps import plugins
from sandbox.errors import ConfigError

GOOD = "mwaa_fake_alpha-1.0.0-py3-none-any.whl"
MAC = "mwaa_fake_gamma-1.0.0-cp311-cp311-macosx_11_0_arm64.whl"


def test_extract_copies_top_level_wheels_and_flags_bad_ones(make_plugins_zip, tmp_path):
    folder = plugins.extract(make_plugins_zip(GOOD, MAC, nested=("deep-1.0-py3-none-any.whl",)),
                             tmp_path / "out")
    assert sorted(folder.files) == sorted([GOOD, MAC])
    assert (tmp_path / "out" / GOOD).is_file() and not (tmp_path / "out" / "deep-1.0-py3-none-any.whl").exists()
    assert any(p.startswith(MAC + ": built for macOS on Apple Silicon") for p in folder.problems)
    assert any(p.startswith("wheels/deep-1.0-py3-none-any.whl: not at the top") for p in folder.problems)
    assert folder.usable_names() == {"mwaa-fake-alpha"}
    with zipfile.ZipFile(tmp_path / "out" / GOOD) as wheel:  # a real, readable wheel
        assert "mwaa_fake_alpha-1.0.0.dist-info/METADATA" in wheel.namelist()


def test_extract_rejects_a_broken_zip(tmp_path):
    bad = tmp_path / "plugins.zip"
    bad.write_text("not a zip")
    with pytest.raises(ConfigError, match="not a readable zip"):
        plugins.extract(bad, tmp_path / "out")


def test_missing_wheels(make_plugins_zip, tmp_path):
    folder = plugins.extract(make_plugins_zip(GOOD, MAC), tmp_path / "out")
    text = ("--no-index\n--find-links /usr/local/airflow/plugins\n# a comment\n"
            "mwaa-fake-alpha==1.0.0\nmwaa_fake_beta==1.0.0 ; python_version>'3'\n"
            "mwaa-fake-gamma==1.0.0\nboto3==1.34.106\nbotocore==1.35.0\nPyYAML>=5\n")
    pins = {"boto3": "1.34.106", "botocore": "1.34.106", "pyyaml": "6.0.1"}
    assert plugins.missing_wheels(text, folder, pins) == [
        "mwaa_fake_beta==1.0.0: no wheel in plugins.zip",
        "mwaa-fake-gamma==1.0.0: only an incompatible wheel in plugins.zip",
        "botocore==1.35.0: no wheel in plugins.zip",  # the image has another version
    ]


def test_requirement_specs_skip_options_urls_and_comments():
    text = "-c x.txt\n--find-links /p\n# pandas\nhttps://x/y.whl\n./local\nA_B[extra]>=1 # why\n"
    assert plugins.requirement_specs(text) == [("a-b", "A_B[extra]>=1")]


def test_url_constraints():
    text = ('--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-2.9.2/constraints-3.11.txt"\n'
            "# -c https://commented.example/c.txt\n-c /usr/local/airflow/plugins/constraints.txt\n")
    assert plugins.url_constraints(text) == [
        "https://raw.githubusercontent.com/apache/airflow/constraints-2.9.2/constraints-3.11.txt"]
