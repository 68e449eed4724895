"""MWAA's worker autoscaling, simplified (MWAA user guide, "How worker scaling works"):

- required workers = ceil((running tasks + queued tasks) / tasks per worker), between MinWorkers
  and MaxWorkers; when more are required than run, workers are added up to that number;
- when no task has been running or queued for a while (MWAA: two to five minutes, the time its
  metrics take to show a steady zero), the extra workers are removed, back to MinWorkers.

The sandbox reads the two figures from Airflow's metadata database (task instances `running` and
`queued`), where MWAA reads the same figures as CloudWatch metrics. Pure logic: the supervisor
supplies the figures and starts or stops the workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEMAND_SQL = "select count(*) from task_instance where state in ('running', 'queued')"


def required_workers(demand: int, tasks_per_worker: int, min_workers: int, max_workers: int) -> int:
    needed = math.ceil(demand / max(tasks_per_worker, 1))
    return max(min_workers, min(max_workers, needed))


@dataclass
class Decision:
    target: int
    reason: str = ""  # empty: nothing changes


class Autoscaler:
    """Decides the number of workers from one demand figure per check."""

    def __init__(self, tasks_per_worker: int, min_workers: int, max_workers: int, idle_seconds: float):
        self.tasks_per_worker, self.min, self.max = tasks_per_worker, min_workers, max_workers
        self.idle_seconds = idle_seconds
        self.idle_since: float | None = None

    def decide(self, demand: int, current: int, now: float) -> Decision:
        if demand > 0:
            self.idle_since = None
            needed = required_workers(demand, self.tasks_per_worker, self.min, self.max)
            if needed > current:
                return Decision(needed, f"{demand} task(s) running or queued need {needed} worker(s) "
                                        f"at {self.tasks_per_worker} per worker")
            return Decision(current)  # never removes a worker while tasks run or wait
        if current <= self.min:
            self.idle_since = None
            return Decision(current)
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.idle_seconds:
            return Decision(current)
        self.idle_since = None
        return Decision(self.min, f"no task running or queued for {self.idle_seconds:.0f} s: back to "
                                  f"MinWorkers ({self.min})")
