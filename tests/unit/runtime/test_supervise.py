"""The supervisor's decisions: restart what died, leave Airflow alone while not AVAILABLE, give up
on a crash loop with a clear reason, and keep what it saw for `status`."""

from __future__ import annotations

import os

import pytest

from sandbox.environment.state import StateDir
from sandbox.proc import ProcessRecord, start_ticks
from sandbox.runtime import supervise

DEAD = ProcessRecord(pid=2 ** 22 + 7, start_ticks=1, argv0="airflow", log="")


@pytest.fixture
def state(tmp_path):
    state = StateDir(tmp_path / ".sandbox")
    state.logs.mkdir(parents=True)
    return state


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make(state, available=True, clock=None):
    spawned: list[str] = []

    def spawn(name):
        spawned.append(name)
        return DEAD  # it dies again at once

    sup = supervise.Supervisor(state, ["airflow-scheduler", "airflow-triggerer"], spawn, lambda: available,
                               log=lambda line: None, clock=clock or Clock())
    return sup, spawned


def test_a_dead_component_is_restarted_with_its_last_words(state):
    me = ProcessRecord(os.getpid(), start_ticks(os.getpid()), "python", "")
    state.save_registry({"airflow-scheduler": DEAD, "airflow-triggerer": me})
    state.log_file("airflow-scheduler").write_text("starting\nMemoryError: out of memory\n")
    sup, spawned = make(state)
    assert sup.check() == ["airflow-scheduler"] and spawned == ["airflow-scheduler"]
    seen = supervise.read_status(state)["airflow-scheduler"]
    assert seen.restarts == 1 and seen.last_exit == "exited; last log line: MemoryError: out of memory"
    assert "airflow-triggerer" not in supervise.read_status(state)  # alive: untouched


def test_nothing_is_restarted_while_the_environment_is_not_available(state):
    state.save_registry({"airflow-scheduler": DEAD})
    sup, spawned = make(state, available=False)
    assert sup.check() == [] and spawned == []


def test_a_crash_loop_is_given_up_on(state):
    state.save_registry({"airflow-scheduler": DEAD})
    clock = Clock()
    sup, spawned = make(state, clock=clock)
    for _ in range(supervise.MAX_RESTARTS + 3):
        sup.check()
        clock.now += 10
    assert len(spawned) == supervise.MAX_RESTARTS
    seen = supervise.read_status(state)["airflow-scheduler"]
    assert seen.gave_up and seen.last_exit == "exited without a log line (killed?)"


def test_crashes_far_apart_are_not_a_loop(state):
    state.save_registry({"airflow-scheduler": DEAD})
    clock = Clock()
    sup, spawned = make(state, clock=clock)
    for _ in range(supervise.MAX_RESTARTS + 3):
        sup.check()
        clock.now += supervise.WINDOW / 2
    assert len(spawned) == supervise.MAX_RESTARTS + 3
    assert not supervise.read_status(state)["airflow-scheduler"].gave_up


def test_a_record_that_is_gone_is_not_restarted(state):
    state.save_registry({})  # `down` forgot it
    sup, spawned = make(state)
    assert sup.check() == [] and spawned == []


class Workers:
    """Start and stop as the runtime would: a started worker is recorded, a stopped one forgotten."""

    def __init__(self, state):
        self.state, self.events = state, []

    def start(self, name):
        self.events.append(f"+{name}")
        self.state.record_process(name, DEAD)

    def stop(self, name):
        self.events.append(f"-{name}")
        self.state.forget_process(name)


def scaling(state, demand, clock):
    names = [f"airflow-worker-{n}" for n in range(1, 5)]
    workers = Workers(state)
    scaler = supervise.Autoscaler(5, 1, 4, idle_seconds=60)
    return supervise.WorkerScaling(state, scaler, names, lambda: demand[0], workers.start, workers.stop,
                                   log=lambda line: None, clock=clock), workers


def test_autoscaling_adds_the_next_workers_and_removes_the_extra_ones_highest_first(state):
    state.save_registry({"airflow-worker-1": DEAD})
    demand, clock = [13], Clock()
    scale, workers = scaling(state, demand, clock)
    assert scale.check() == 3 and workers.events == ["+airflow-worker-2", "+airflow-worker-3"]
    assert supervise.read_scaling(state)["workers"] == 3
    demand[0] = 0
    assert scale.check() == 3  # not idle long enough yet
    clock.now += 61
    assert scale.check() == 1
    assert workers.events[2:] == ["-airflow-worker-3", "-airflow-worker-2"]
    assert set(state.load_registry()) == {"airflow-worker-1"}
    assert "back to MinWorkers (1)" in supervise.read_scaling(state)["reason"]
