"""The `unknown` verdict's reasons: constraints pip would have to fetch, and pip failures that
say something about this machine rather than about MWAA."""

from __future__ import annotations

import shutil

import pytest

from sandbox.deps.undecided import from_pip, unfetched_constraints
from sandbox.mwaa.data import MwaaData

URL_281 = "https://raw.githubusercontent.com/apache/airflow/constraints-2.8.1/constraints-3.11.txt"
URL_292 = "https://raw.githubusercontent.com/apache/airflow/constraints-2.9.2/constraints-3.11.txt"


@pytest.fixture
def data(shared_data_dir, tmp_path) -> MwaaData:
    return MwaaData(shutil.copytree(shared_data_dir, tmp_path / "2.9.2"))


def _never(url):
    raise AssertionError(f"probed {url}")


def test_offline_names_the_url_and_the_missing_copy(data):
    reason = unfetched_constraints(f"-c {URL_281}\nsix\n", data, "offline mode is on", _never)
    assert reason == (f"the constraints {URL_281} cannot be fetched: offline mode is on; the MWAA data "
                      "folder has no copy of the Airflow 2.8.1 / Python 3.11 constraints")


def test_online_probes_and_names_the_problem(data):
    probed = []

    def probe(url):
        probed.append(url)
        return "[Errno -2] Name or service not known"

    reason = unfetched_constraints(f"-c {URL_281}\n", data, None, probe)
    assert probed == [URL_281]
    assert reason.startswith(f"the constraints URL {URL_281} is unreachable from here ([Errno -2] Name")
    assert unfetched_constraints(f"-c {URL_281}\n", data, None, lambda url: None) is None


def test_unrecognised_url_and_local_files(data):
    reason = unfetched_constraints("-c https://x.example/c.txt\n", data, "offline mode is on", _never)
    assert reason == "the constraints https://x.example/c.txt cannot be fetched: offline mode is on"
    assert unfetched_constraints("-c /tmp/c.txt\n-c file:///tmp/d.txt\n", data, "offline", _never) is None


def test_urls_served_locally_are_not_fetched(data):
    text = f"-c {data.constraints}\n"  # plan_install already replaced the official URL
    assert unfetched_constraints(text, data, "offline mode is on", _never) is None


@pytest.mark.parametrize("name", ["index_refused", "constraints_url_refused", "constraints_url_no_dns",
                                  "constraints_url_timeout", "constraints_url_503"])
def test_network_failures_are_unknown_online_and_offline(pip_output, data, name):
    lines = pip_output(name).splitlines()
    for mode in ("online", "offline"):
        assert from_pip(lines, mode, None, data).startswith("pip could not reach the network from here: ")
    assert from_pip(lines, "private", None, data) is None  # MWAA's private servers have no network


def test_real_failures_stay_failures(pip_output, data):
    assert from_pip(pip_output("constraints_url_404").splitlines(), "online", None, data) is None
    no_such = ["ERROR: Could not find a version that satisfies the requirement nope==1 (from versions: none)",
               "ERROR: No matching distribution found for nope==1"]
    assert from_pip(no_such, "online", None, data) is None


def test_offline_missing_distribution_is_unknown(data):
    lines = ["ERROR: Could not find a version that satisfies the requirement kafka-python==2.0.2 (from versions: none)",
             "ERROR: No matching distribution found for kafka-python==2.0.2"]
    reason = from_pip(lines, "offline", "the package index http://127.0.0.1:9/simple is unreachable", data)
    assert reason == ("kafka-python==2.0.2 is not in the wheelhouse and the check cannot ask the index "
                      "(the package index http://127.0.0.1:9/simple is unreachable)")


def test_mysqlclient_build_here_is_unknown(pip_output, data):
    data.system_packages.write_text("bash-5.2.15\nMariaDB-devel-11.4.3\n")
    reason = from_pip(pip_output("mysqlclient_no_headers").splitlines(), "online", None, data)
    assert reason == ("mysqlclient could not be prepared on this machine: its build needs the MySQL client "
                      "library (MariaDB Connector/C) (MWAA's image has MariaDB-devel)")
