"""Reading pip's output: the one-line conflict, the problems, MWAA's log lines."""

from __future__ import annotations

import pytest

from sandbox.deps import piplog

CONSTRAINT_CONFLICT = """\
ERROR: Cannot install pandas==1.3.0 because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested pandas==1.3.0
    The user requested (constraint) pandas==2.1.4

Additionally, some packages in these conflicts have no matching distributions available for your environment:
    pandas

To fix this you could try to:
1. loosen the range of package versions you've specified
2. remove package versions to allow pip to attempt to solve the dependency conflict

ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts
""".splitlines()

NO_MATCH = """\
Looking in links: /tmp/x/plugins
ERROR: Could not find a version that satisfies the requirement mwaa-fake-beta==1.0.0 (from versions: none)
ERROR: No matching distribution found for mwaa-fake-beta==1.0.0
""".splitlines()


def test_conflict_block_becomes_one_line():
    failure = piplog.read_failure(CONSTRAINT_CONFLICT, 1)
    assert failure.conflict == (
        "Cannot install pandas==1.3.0 because these package versions have conflicting dependencies: "
        "The user requested pandas==1.3.0; The user requested (constraint) pandas==2.1.4")
    assert "\n" not in failure.conflict
    assert failure.problems == ("The user requested pandas==1.3.0",
                                "The user requested (constraint) pandas==2.1.4")


def test_missing_distribution():
    failure = piplog.read_failure(NO_MATCH, 1)
    assert failure.conflict == "No matching distribution found for mwaa-fake-beta==1.0.0"
    assert piplog.unsatisfied(NO_MATCH) == ["mwaa-fake-beta==1.0.0"]


def test_other_errors_and_bare_exit():
    failure = piplog.read_failure(["ERROR: Invalid requirement: 'foo=='", "ERROR: ResolutionImpossible: x"], 1)
    assert failure.conflict == "Invalid requirement: 'foo=='"
    assert piplog.read_failure([], 2).conflict == "pip exited with code 2"


def test_fetched_files():
    lines = ["Collecting awswrangler==2.19.0 (from -r r.txt (line 1))",
             "  Downloading awswrangler-2.19.0-py3-none-any.whl (267 kB)",
             "  Using cached backoff-2.2.1-py3-none-any.whl.metadata (14 kB)",
             "  Using cached numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl (18.3 MB)",
             "  Downloading pandas-1.3.0.tar.gz (4.7 MB)"]
    # a .whl.metadata fetch names the wheel: offline, pip needs the wheel for that metadata
    assert piplog.fetched_files(lines) == [
        "awswrangler-2.19.0-py3-none-any.whl", "backoff-2.2.1-py3-none-any.whl", "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl",
        "pandas-1.3.0.tar.gz"]


def _item(name, version, requires=(), requested=False):
    return {"metadata": {"name": name, "version": version, "requires_dist": list(requires)},
            "requested": requested}


def test_install_order_is_deepest_first_then_name_descending():
    report = [_item("requests", "2.32.3", ["urllib3<3", "idna", "socks; extra == 'socks'"], True),
              _item("urllib3", "2.2.1"), _item("idna", "3.7"), _item("six", "1.16.0", [], True)]
    assert piplog.install_order(report) == [
        ("urllib3", "2.2.1"), ("idna", "3.7"), ("six", "1.16.0"), ("requests", "2.32.3")]


def test_mwaa_lines_maps_paths_drops_ours_and_spells_the_install():
    lines = ["Looking in links: /cache/wheelhouse",
             "Collecting six (from -r /tmp/w/requirements.txt (line 1))",
             "Requirement already satisfied: boto3 in /cache/envs/k/lib/python3.11/site-packages (1.34)",
             "Would install idna-3.7 six-1.16.0", ""]
    out = piplog.mwaa_lines(
        lines, {"/tmp/w/requirements.txt": piplog.MWAA_REQUIREMENTS_PATH,
                "/cache/envs/k/lib/python3.11/site-packages": piplog.MWAA_SITE_PACKAGES},
        drop=["Looking in links: /cache/wheelhouse"], order=[("six", "1.16.0"), ("idna", "3.7")])
    assert out == [
        "Collecting six (from -r /usr/local/airflow/requirements/requirements.txt (line 1))",
        "Requirement already satisfied: boto3 in /usr/local/airflow/.local/lib/python3.11/site-packages (1.34)",
        "Installing collected packages: six, idna",
        "Successfully installed idna-3.7 six-1.16.0"]


@pytest.mark.parametrize("name,expected", [
    ("index_refused", "pip gave up reaching 127.0.0.1:9 for /simple/kafka-python/ "
                      "(Failed to establish a new connection: [Errno 111] Connection refused)"),
    ("constraints_url_refused", "Failed to connect to 127.0.0.1 while fetching "
                                "http://127.0.0.1:9/constraints-3.11.txt ([Errno 111] Connection refused)"),
    ("constraints_url_no_dns", "Failed to connect to raw.githubusercontent.com while fetching "
                               "https://raw.githubusercontent.com/apache/airflow/constraints-2.8.1/"
                               "constraints-3.11.txt (Failed to resolve IP address for "
                               "'raw.githubusercontent.com' ([Errno -2] Name or service not known))"),
    ("constraints_url_timeout", "Unable to fetch http://127.0.0.1:18504/c.txt "
                                "(127.0.0.1 didn't respond within 1.0 seconds)"),
    ("constraints_url_503", "pip could not reach a server: HTTPConnectionPool(host='127.0.0.1', port=18503): "
                            "Max retries exceeded with url: /x/c.txt (Caused by ResponseError('too many 503 "
                            "error responses'))"),
])
def test_network_failure_in_one_line(pip_output, name, expected):
    assert piplog.network_failure(pip_output(name).splitlines()) == expected


@pytest.mark.parametrize("name", ["constraints_url_404", "mysqlclient_no_headers"])
def test_not_a_network_failure(pip_output, name):
    assert piplog.network_failure(pip_output(name).splitlines()) is None


def test_network_failure_ignores_retries_that_later_succeed():
    lines = ["WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after "
             "connection broken by 'ReadTimeoutError(\"HTTPSConnectionPool(host='pypi.org', port=443): Read "
             "timed out. (read timeout=15)\")': /simple/six/", *CONSTRAINT_CONFLICT]
    assert piplog.network_failure(lines) is None
    assert piplog.network_failure(NO_MATCH) is None


def test_network_failure_from_a_traceback():
    lines = ["ERROR: Exception:", "Traceback (most recent call last):",
             "pip._vendor.urllib3.exceptions.ReadTimeoutError: HTTPSConnectionPool(host='files.pythonhosted.org', "
             "port=443): Read timed out."]
    assert piplog.network_failure(lines) == ("pip could not reach a server: HTTPSConnectionPool("
                                             "host='files.pythonhosted.org', port=443): Read timed out.")
