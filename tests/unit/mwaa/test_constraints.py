"""The `-c` targets of requirements.txt: every form pip reads, which Airflow/Python they name,
and the data folder's copy of the same file (any version it has a folder for)."""

from __future__ import annotations

import shutil

import pytest

from sandbox.mwaa import constraints
from sandbox.mwaa.constraints import ConstraintsRef, describe, local_copies, recognise, targets
from sandbox.mwaa.data import MwaaData

APACHE = "https://raw.githubusercontent.com/apache/airflow/constraints-{a}/constraints-{v}{p}.txt"
MWAA_ETC = "https://raw.githubusercontent.com/aws/amazon-mwaa-docker-images/{ref}/images/airflow/{a}/etc/{f}"


@pytest.fixture
def data(shared_data_dir, tmp_path) -> MwaaData:
    """A data root like the shared one: 2.9.2 (the real files) beside a 3.3.1 folder."""
    root = tmp_path / "mwaa"
    shutil.copytree(shared_data_dir, root / "2.9.2")
    other = root / "3.3.1"
    other.mkdir()
    (other / "constraints-3.3.1-py3.12.txt").write_text(
        "# https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt\n"
        "apache-airflow==3.3.1\n")
    (other / "mwaa-essential-constraints-3.3.1.txt").write_text("apache-airflow==3.3.1\n")
    return MwaaData(root / "2.9.2")


def _none(_):
    return None


@pytest.mark.parametrize("text,expected", [
    ("-c https://x.example/c.txt\nsix\n", ["https://x.example/c.txt"]),
    ('-c "https://x.example/c.txt"\n', ["https://x.example/c.txt"]),
    ("--constraint https://x.example/c.txt\n", ["https://x.example/c.txt"]),
    ("--constraint=https://x.example/c.txt\n", ["https://x.example/c.txt"]),
    ("-chttps://x.example/c.txt\n", ["https://x.example/c.txt"]),
    ("-c /usr/local/airflow/plugins/c.txt  # ours\n", ["/usr/local/airflow/plugins/c.txt"]),
    ("-c a.txt\n--constraint b.txt\n", ["a.txt", "b.txt"]),
    ("# -c https://x.example/c.txt\nsix\n", []),  # pip skips comments (MWAA's regex does not)
    ("six  # -c https://x.example/c.txt\n", []),
    ("--index-url https://pypi.org/simple\nsix==1.16.0\n", []),
    ("", []),
])
def test_targets(text, expected):
    assert targets(text) == expected


@pytest.mark.parametrize("url,airflow,python,variant,publisher", [
    (APACHE.format(a="2.8.1", v="", p="3.11"), "2.8.1", "3.11", "", "apache/airflow"),
    (APACHE.format(a="2.8.1", v="no-providers-", p="3.10"), "2.8.1", "3.10", "no-providers", "apache/airflow"),
    (APACHE.format(a="2.10.3", v="source-providers-", p="3.12"), "2.10.3", "3.12", "source-providers",
     "apache/airflow"),
    ("https://raw.githubusercontent.com/apache/airflow/refs/heads/constraints-2.7.2/constraints-3.8.txt",
     "2.7.2", "3.8", "", "apache/airflow"),
    ("https://github.com/apache/airflow/raw/constraints-2.9.2/constraints-3.11.txt",
     "2.9.2", "3.11", "", "apache/airflow"),
    (MWAA_ETC.format(ref="main", a="2.10.1", f="airflow_constraints.txt"), "2.10.1", None, "",
     "aws/amazon-mwaa-docker-images"),
    (MWAA_ETC.format(ref="9d2bebb", a="2.10.1", f="mwaa_essential_constraints.txt"), "2.10.1", None,
     "MWAA essential", "aws/amazon-mwaa-docker-images"),
])
def test_recognised_urls(data, url, airflow, python, variant, publisher):
    ref = recognise(url, data, _none)
    assert (ref.airflow_version, ref.python_version, ref.variant, ref.publisher) == (
        airflow, python, variant, publisher)


@pytest.mark.parametrize("url", [
    "https://example.com/constraints-2.8.1/constraints-3.11.txt",  # not apache's repository
    "https://github.com/apache/airflow/blob/constraints-2.9.2/constraints-3.11.txt",  # an HTML page
    "https://raw.githubusercontent.com/apache/airflow/constraints-2.9.2/constraints-3.11.txt.bak",
])
def test_other_urls_are_not_recognised(data, url):
    ref = recognise(url, data, _none)
    assert ref.publisher == "url" and ref.airflow_version is None and ref.local_copy is None


def test_own_version_is_served_from_its_folder(data):
    ref = recognise(APACHE.format(a="2.9.2", v="", p="3.11"), data, _none)
    assert ref.local_copy == data.constraints
    assert ref.matches(data) is True and ref.mismatch_line(data) is None


def test_sibling_version_is_served_from_its_folder(data):
    ref = recognise(APACHE.format(a="3.3.1", v="", p="3.12"), data, _none)
    assert ref.local_copy == data.directory.parent / "3.3.1" / "constraints-3.3.1-py3.12.txt"


@pytest.mark.parametrize("url", [
    APACHE.format(a="3.3.1", v="", p="3.11"),  # the data has 3.3.1 for Python 3.12 only
    APACHE.format(a="3.3.1", v="no-providers-", p="3.12"),  # another file than the data's
    APACHE.format(a="2.8.1", v="", p="3.11"),  # no 2.8.1 folder
])
def test_no_copy_when_the_data_lacks_that_exact_file(data, url):
    assert recognise(url, data, _none).local_copy is None


def test_mwaa_copy_takes_python_from_the_data_file(data):
    ref = recognise(MWAA_ETC.format(ref="main", a="3.3.1", f="airflow_constraints.txt"), data, _none)
    assert ref.python_version == "3.12"
    assert ref.local_copy.name == "constraints-3.3.1-py3.12.txt"
    essential = recognise(MWAA_ETC.format(ref="main", a="3.3.1", f="mwaa_essential_constraints.txt"),
                          data, _none)
    assert essential.local_copy.name == "mwaa-essential-constraints-3.3.1.txt"


def test_single_version_folder_has_no_siblings(shared_data_dir, tmp_path):
    alone = MwaaData(shutil.copytree(shared_data_dir, tmp_path / "only"))
    assert recognise(APACHE.format(a="3.3.1", v="", p="3.12"), alone, _none).local_copy is None
    assert recognise(APACHE.format(a="2.9.2", v="", p="3.11"), alone, _none).local_copy == alone.constraints


def test_local_file_names_its_version_by_the_airflow_pin(data, tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("# https://raw.githubusercontent.com/apache/airflow/constraints-2.8.1/constraints-3.10.txt\n"
                    "apache-airflow-providers-amazon==8.16.0\nApache_Airflow==2.8.1\nboto3==1.33.0\n")
    ref = recognise("mine.txt", data, lambda t: tmp_path / t)
    assert (ref.publisher, ref.airflow_version, ref.python_version) == ("file", "2.8.1", "3.10")
    assert ref.mismatch_line(data) == ("requirements.txt constrains to Airflow 2.8.1 / Python 3.10 "
                                       "constraints, but the environment runs Airflow 2.9.2 on Python 3.11")


def test_local_file_without_pin_or_missing(data, tmp_path):
    path = tmp_path / "pins.txt"
    path.write_text("boto3==1.33.0\n")
    assert recognise("pins.txt", data, lambda t: path).airflow_version is None
    missing = recognise("nope.txt", data, _none)
    assert missing == ConstraintsRef("nope.txt", "file")
    assert missing.matches(data) is None and missing.mismatch_line(data) is None


def test_mismatch_line_wording(data):
    ref = recognise(APACHE.format(a="2.8.1", v="", p="3.11"), data, _none)
    assert ref.mismatch_line(data) == ("requirements.txt constrains to Airflow 2.8.1 / Python 3.11 "
                                       "constraints, but the environment runs Airflow 2.9.2 on Python 3.11")
    python_only = recognise(APACHE.format(a="2.9.2", v="", p="3.12"), data, _none)
    assert python_only.matches(data) is False
    assert "Airflow 2.9.2 / Python 3.12 constraints, but" in python_only.mismatch_line(data)
    variant = recognise(APACHE.format(a="2.8.1", v="no-providers-", p="3.11"), data, _none)
    assert "Python 3.11 constraints (no-providers), but" in variant.mismatch_line(data)
    no_python = recognise(MWAA_ETC.format(ref="main", a="2.8.1", f="airflow_constraints.txt"), data, _none)
    assert no_python.mismatch_line(data).startswith("requirements.txt constrains to Airflow 2.8.1 "
                                                    "constraints, but")


def test_json_shape(data):
    ref = recognise(APACHE.format(a="3.3.1", v="", p="3.12"), data, _none)
    payload = ref.to_json(data)
    assert payload["source"] == APACHE.format(a="3.3.1", v="", p="3.12")
    assert (payload["airflow_version"], payload["python_version"]) == ("3.3.1", "3.12")
    assert payload["matches_environment"] is False
    assert payload["local_copy"].endswith("3.3.1/constraints-3.3.1-py3.12.txt")
    assert payload["line"] == ref.mismatch_line(data)


def test_describe_prefers_the_target_naming_a_version(data):
    text = f"-c https://x.example/mine.txt\n-c {APACHE.format(a='2.8.1', v='', p='3.11')}\n"
    assert describe(text, data, _none).airflow_version == "2.8.1"
    assert describe("-c https://x.example/mine.txt\n", data, _none).publisher == "url"
    assert describe("six\n", data, _none) is None


def test_local_copies_maps_each_served_url(data):
    own, other = APACHE.format(a="2.9.2", v="", p="3.11"), APACHE.format(a="3.3.1", v="", p="3.12")
    text = f"-c {own}\n--constraint \"{other}\"\n-c {APACHE.format(a='2.8.1', v='', p='3.11')}\n"
    assert local_copies(text, data) == {own: data.constraints,
                                        other: data.directory.parent / "3.3.1" / "constraints-3.3.1-py3.12.txt"}


def test_is_url():
    assert constraints.is_url("https://x/c.txt") and constraints.is_url("HTTP://x/c.txt")
    assert not constraints.is_url("file:///tmp/c.txt") and not constraints.is_url("/tmp/c.txt")
