"""MWAA's worker autoscaling rule: workers for the tasks running or queued, extra ones removed
only after a steady zero."""

from __future__ import annotations

import pytest

from sandbox.mwaa.autoscale import Autoscaler, required_workers


@pytest.mark.parametrize("demand, expected", [(0, 1), (5, 1), (6, 2), (10, 2), (11, 3), (400, 4)])
def test_required_workers_is_demand_over_tasks_per_worker_within_bounds(demand, expected):
    assert required_workers(demand, 5, 1, 4) == expected


def test_scales_up_at_once_to_what_the_demand_needs():
    scaler = Autoscaler(5, 1, 4, idle_seconds=120)
    decision = scaler.decide(demand=12, current=1, now=0)
    assert decision.target == 3 and "12 task(s) running or queued need 3 worker(s)" in decision.reason


def test_never_removes_a_worker_while_tasks_run_or_wait():
    scaler = Autoscaler(5, 1, 4, idle_seconds=10)
    assert scaler.decide(demand=1, current=3, now=0).target == 3
    assert scaler.decide(demand=1, current=3, now=1000).reason == ""


def test_back_to_min_workers_only_after_a_steady_zero():
    scaler = Autoscaler(5, 1, 4, idle_seconds=120)
    assert scaler.decide(0, 3, now=0).reason == ""
    assert scaler.decide(0, 3, now=119).reason == ""
    assert scaler.decide(2, 3, now=120).reason == ""  # a task came: the idle clock restarts
    assert scaler.decide(0, 3, now=130).reason == ""
    decision = scaler.decide(0, 3, now=250)
    assert decision.target == 1 and "back to MinWorkers (1)" in decision.reason


def test_nothing_to_do_at_min_workers():
    scaler = Autoscaler(5, 2, 4, idle_seconds=0)
    assert scaler.decide(0, 2, now=5).reason == "" and scaler.decide(10, 2, now=6).reason == ""
