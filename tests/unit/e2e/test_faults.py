"""Scenario names, the guarantees table, a scenario's verdict, and finding a run's task process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from sandbox.e2e import faults, suite
from sandbox.e2e.result import Check, E2EResult
from sandbox.errors import ConfigError


def test_all_names_every_scenario_and_unknown_names_fail_with_the_list():
    assert faults.parse_scenarios("all") == list(faults.SCENARIOS)
    assert faults.parse_scenarios("retry, overlap,retry") == ["retry", "overlap"]
    with pytest.raises(ConfigError) as caught:
        faults.parse_scenarios("retry,chaos")
    assert "chaos" in caught.value.message and "fresh-group" in caught.value.hint


def _s(name, status, lost=0, duplicates=0, error=""):
    return {"name": name, "status": status, "lost": lost, "duplicates": duplicates, "error": error}


def test_guarantees_name_the_scenario_that_breaks_each_row():
    rows = {r["guarantee"]: r for r in faults.guarantees([
        _s("fresh-group", "failed", lost=2000), _s("retry", "failed", duplicates=37),
        _s("overlap", "passed"), _s("broker-restart", "passed"), _s("es-restart", "not exercised")])}
    assert rows["at-least-once delivery"] == {"guarantee": "at-least-once delivery", "verdict": "broken",
                                              "scenarios": "fresh-group"}
    assert rows["no duplicates"]["verdict"] == "broken" and rows["no duplicates"]["scenarios"] == "retry"
    assert rows["survives a broker restart"]["verdict"] == "holds"
    assert rows["survives an Elasticsearch restart"]["verdict"] == "not decided"
    assert "es-restart: not exercised" in rows["survives an Elasticsearch restart"]["scenarios"]


def test_a_row_no_scenario_ran_for_is_not_decided():
    rows = faults.guarantees([_s("retry", "passed")])
    assert [r["verdict"] for r in rows] == ["holds", "holds", "not decided", "not decided"]


class _Fault:
    def __init__(self, exercised=True, details=(), caveats=()):
        self.exercised, self.details, self.caveats = exercised, list(details), list(caveats)


def _result(lost=0, duplicates=0):
    r = E2EResult("p", "c", "t", "i", "")
    r.lost, r.duplicates, r.produced = lost, duplicates, 100
    r.checks = [Check("no_loss", lost == 0), Check("no_duplicates", duplicates == 0)]
    return r


def test_duplicates_after_a_rebalance_on_the_stand_in_are_not_a_verdict():
    summary = suite.summarise("overlap", _result(duplicates=12), _Fault(), "", {"kafka", "elasticsearch"})
    assert summary["status"] == "not provable on this runtime" and summary["passed"] is None
    assert faults.NOIDA_REBALANCE in summary["caveats"]
    checks = suite._checks("overlap", _result(duplicates=12), summary)
    assert [(c.name, c.status) for c in checks] == [("overlap/no_loss", "SKIPPED"), ("overlap/no_duplicates", "SKIPPED")]


def test_the_same_duplicates_on_real_kafka_fail_and_a_retry_never_blames_the_stand_in():
    assert suite.summarise("overlap", _result(duplicates=12), _Fault(), "", set())["status"] == "failed"
    assert suite.summarise("retry", _result(duplicates=12), _Fault(), "", {"kafka"})["status"] == "failed"


def test_a_failure_that_never_happened_leaves_the_scenario_undecided():
    summary = suite.summarise("retry", _result(), _Fault(exercised=False, details=["finished first"]), "", set())
    assert summary["status"] == "not exercised" and summary["passed"] is None
    assert "finished first" in summary["detail"]


def test_a_run_broken_by_the_failure_fails_the_scenario_with_the_reason():
    summary = suite.summarise("es-restart", E2EResult("p", "c", "t", "i", ""), _Fault(), "log_consumer run x ended failed", set())
    assert summary["status"] == "failed" and "ended failed" in summary["detail"]
    assert [c.name for c in suite._checks("es-restart", E2EResult("p", "c", "t", "i", ""), summary)] == ["es-restart/run"]


def test_a_runs_task_process_is_found_by_airflows_title_and_only_that_run():
    pytest.importorskip("setproctitle")
    script = ("import setproctitle, time; setproctitle.setproctitle("
              "'airflow task runner: my_dag consume manual__2026-12-03T06:00:00+00:00 17'); time.sleep(30)")
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 10
        while not faults.task_runners("my_dag", "manual__2026-12-03T06:00:00+00:00"):
            assert time.monotonic() < deadline, "the retitled process was never found"
            time.sleep(0.05)
        assert faults.task_runners("my_dag", "manual__2026-12-03T06:00:00+00:00") == [child.pid]
        assert faults.task_runners("my_dag", "manual__2026-12-03T06:00:00") == []
        assert faults.task_runners("my", "manual__2026-12-03T06:00:00+00:00") == []
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


def test_a_scenario_is_judged_on_delivery_not_on_the_whole_index_queries():
    result = _result()
    result.checks.append(Check("query_top_endpoints", False, detail="top endpoints differ"))
    summary = suite.summarise("fresh-group", result, _Fault(), "", set())
    assert summary["status"] == "passed"
    assert [c.name for c in suite._checks("fresh-group", result, summary)] == ["fresh-group/no_loss",
                                                                              "fresh-group/no_duplicates"]


TREE = """import setproctitle, subprocess, sys, time
setproctitle.setproctitle(sys.argv[1])
if len(sys.argv) > 2:
    subprocess.Popen([sys.executable, __file__, *sys.argv[2:]])
time.sleep(60)
"""


def test_the_celery_main_process_above_a_task_is_found_with_its_whole_family(tmp_path):
    """A real process tree titled as Celery and Airflow title it: MainProcess -> pool -> task."""
    import os
    import subprocess
    import sys
    import time

    import psutil

    (tmp_path / "tree.py").write_text(TREE)
    main = subprocess.Popen([sys.executable, str(tmp_path / "tree.py"), "[celeryd: w@h:MainProcess] -active-",
                             "[celeryd: w@h:ForkPoolWorker-1]", "airflow task runner: dag task run"])
    try:
        deadline = time.monotonic() + 20
        while len(faults.family(main.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # the last child titles itself
        members = faults.family(main.pid)
        task = next(p for p in members if " ".join(psutil.Process(p).cmdline()).startswith("airflow task runner"))
        assert faults.celery_main_process(task) == main.pid
        assert members[0] == main.pid and len(members) == 3
        assert faults.celery_main_process(os.getpid()) is None  # pytest is nobody's Celery
    finally:
        for pid in reversed(faults.family(main.pid)):
            os.kill(pid, 9)
        main.wait(timeout=10)
