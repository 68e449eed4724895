"""DAG import errors as the Airflow UI and MWAA's DAGProcessing log group show them."""

from __future__ import annotations

import pytest

from sandbox.mwaa import dag_errors
from sandbox.mwaa.dag_errors import FileParse, ParseReport

MISSING = ("Traceback (most recent call last):\n"
           '  File "/p/dags/a.py", line 5, in <module>\n'
           "    from kafka import KafkaConsumer\n"
           "ModuleNotFoundError: No module named 'kafka'\n")
TIMEOUT = ("Traceback (most recent call last):\n"
           '  File "/p/dags/slow.py", line 7, in <module>\n'
           "    time.sleep(30)\n"
           "airflow.exceptions.AirflowTaskTimeout: DagBag import timeout for /p/dags/slow.py after 2.0s.\n"
           "Please take a look at these docs to improve your DAG import time:\n"
           "* https://airflow.apache.org/docs/apache-airflow/2.9.2/best-practices.html#top-level-python-code\n")


def test_exception_line_is_the_last_exception_line():
    assert dag_errors.exception_line(MISSING) == "ModuleNotFoundError: No module named 'kafka'"


def test_exception_line_skips_the_docs_links_after_a_timeout():
    assert dag_errors.exception_line(TIMEOUT).startswith(
        "airflow.exceptions.AirflowTaskTimeout: DagBag import timeout for /p/dags/slow.py")


def test_syntax_error_line():
    text = '  File "/p/dags/x.py", line 6\n    with DAG(:\n        ^\nSyntaxError: invalid syntax\n'
    assert dag_errors.exception_line(text) == "SyntaxError: invalid syntax"


def test_import_timeout_is_recognised_only_for_the_dagbag_timeout():
    assert dag_errors.is_import_timeout(TIMEOUT)
    assert not dag_errors.is_import_timeout(MISSING)
    assert FileParse("/p/dags/slow.py", error=TIMEOUT).timed_out


def test_ui_banner_names_the_file_then_the_traceback():
    banner = dag_errors.ui_banner("/p/dags/a.py", MISSING)
    assert banner.splitlines()[0] == "Broken DAG: [/p/dags/a.py]"
    assert banner.endswith("No module named 'kafka'")


def test_dag_processing_stream_is_scheduler_and_the_base_name():
    assert dag_errors.stream_name("/p/dags/sub/a.py") == "scheduler_a.py.log"
    assert dag_errors.log_group("dev") == "airflow-dev-DAGProcessing"


def test_processor_lines_warn_when_no_dag_came_out():
    failed = FileParse("/p/dags/a.py", error=MISSING, seconds=0.5, started=1718000000.0, pid=7,
                       log=("Failed to import: /p/dags/a.py",))
    lines = [text for _, text in dag_errors.processor_lines(failed)]
    assert "Started process (PID=7) to work on /p/dags/a.py" in lines[0]
    assert any("Failed to import: /p/dags/a.py" in l for l in lines)
    assert "WARNING - No viable dags retrieved from /p/dags/a.py" in lines[-2]
    assert lines[-1].endswith("Processing /p/dags/a.py took 0.500 seconds")
    healthy = FileParse("/p/dags/b.py", dags=("b",), seconds=0.1, started=1718000000.0)
    assert not any("No viable dags" in t for _, t in dag_errors.processor_lines(healthy))


@pytest.mark.parametrize("options,expected", [
    ({}, 30.0), ({"core.dagbag_import_timeout": "2"}, 2.0),
    ({"core.dagbag_import_timeout": "0"}, 0.0), ({"core.dagbag_import_timeout": "soon"}, 30.0),
])
def test_import_timeout_from_configuration_options(options, expected):
    assert dag_errors.import_timeout(options) == expected


def test_report_lists_dags_errors_and_timeouts():
    report = ParseReport((FileParse("/p/dags/ok.py", dags=("b", "a")),
                          FileParse("/p/dags/a.py", error=MISSING),
                          FileParse("/p/dags/slow.py", error=TIMEOUT)))
    assert report.dag_ids == ["a", "b"]
    assert [f.path for f in report.errors] == ["/p/dags/a.py", "/p/dags/slow.py"]
    assert [f.path for f in report.timeouts] == ["/p/dags/slow.py"]
