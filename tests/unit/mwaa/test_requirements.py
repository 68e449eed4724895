"""MWAA's requirements.txt rules: the constraint-line test, forced constraints, local URLs."""

from __future__ import annotations

import shutil

import pytest

from sandbox.mwaa.data import CONSTRAINTS_URL, MwaaData
from sandbox.mwaa.requirements import (FORCED_WARNING, FORCING_LINE, has_constraint_line,
                                       localize_constraint_urls, plan_install)


@pytest.fixture
def data(shared_data_dir, tmp_path) -> MwaaData:
    copy = tmp_path / "mwaa-data"
    shutil.copytree(shared_data_dir, copy)
    return MwaaData(copy)


@pytest.mark.parametrize("text", [
    "-c https://example.com/constraints.txt\nboto3\n",
    "boto3\n--constraint /tmp/constraints.txt\n",
    "# -c https://example.com/constraints.txt\nboto3\n",  # MWAA counts commented lines too
    "boto3  # pinned with -c elsewhere\n",
])
def test_constraint_line_found(text):
    assert has_constraint_line(text) is True


@pytest.mark.parametrize("text", [
    "",
    "boto3==1.34\napache-airflow-providers-apache-kafka==1.4.1\n",
    "--constraint=/tmp/c.txt\n",  # MWAA's regex wants a space after the flag
    "-cfoo\n",
])
def test_constraint_line_absent(text):
    assert has_constraint_line(text) is False


def test_forced_plan_uses_both_constraint_files(data):
    plan = plan_install("kafka-python==2.0.2\n", data)
    assert plan.forced is True
    assert plan.constraint_files == (data.essential_constraints, data.constraints)
    assert plan.messages == (FORCED_WARNING, FORCING_LINE)
    assert plan.messages[0].startswith("WARNING: Constraints should be specified for requirements.txt.")
    assert plan.messages[1] == "Forcing local constraints"
    assert plan.requirements == "kafka-python==2.0.2\n"
    assert all(path.is_file() for path in plan.constraint_files)


def test_forced_plan_for_empty_requirements(data):
    plan = plan_install("", data)
    assert plan.forced and len(plan.constraint_files) == 2


def test_user_constraints_keep_only_essential(data, tmp_path):
    own = tmp_path / "mine.txt"
    plan = plan_install(f"-c {own}\nboto3\n", data)
    assert plan.forced is False
    assert plan.constraint_files == (data.essential_constraints,)
    assert plan.messages == ()
    assert plan.requirements == f"-c {own}\nboto3\n"


def test_official_constraints_url_becomes_local_file(data):
    text = f"--constraint \"{CONSTRAINTS_URL}\"\napache-airflow-providers-elasticsearch\n"
    plan = plan_install(text, data)
    assert plan.forced is False
    assert CONSTRAINTS_URL not in plan.requirements
    first = plan.requirements.splitlines()[0]
    assert first == f"--constraint {data.constraints}"


def test_unquoted_url_is_rewritten(data):
    out = localize_constraint_urls(f"-c {CONSTRAINTS_URL}\n", data)
    assert out == f"-c {data.constraints}\n"


def test_other_urls_are_left_alone(data):
    text = "-c https://raw.githubusercontent.com/apache/airflow/constraints-2.8.1/constraints-3.11.txt\n"
    assert localize_constraint_urls(text, data) == text


def test_other_versions_are_served_only_when_asked(data):
    other = data.directory.parent / "3.3.1"
    other.mkdir()
    (other / "constraints-3.3.1-py3.12.txt").write_text("apache-airflow==3.3.1\n")
    url = "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt"
    assert plan_install(f"-c {url}\n", data).requirements == f"-c {url}\n"  # environment builds
    served = plan_install(f"-c {url}\n", data, other_versions=True)
    assert served.requirements == f"-c {other / 'constraints-3.3.1-py3.12.txt'}\n"
    assert served.forced is False and served.constraint_files == (data.essential_constraints,)


def test_mwaa_copy_of_our_version_is_served_locally(data):
    url = ("https://raw.githubusercontent.com/aws/amazon-mwaa-docker-images/main/images/airflow/2.9.2/"
           "etc/airflow_constraints.txt")
    assert localize_constraint_urls(f"-c {url}\n", data) == f"-c {data.constraints}\n"
