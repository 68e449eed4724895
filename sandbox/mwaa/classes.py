"""MWAA environment classes (default concurrent tasks per worker, DAG capacity, sizes)."""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED_AIRFLOW_VERSIONS = ("2.9.2",)
PYTHON_VERSION = "3.11"


@dataclass(frozen=True)
class EnvironmentClass:
    name: str
    tasks_per_worker: int
    dag_capacity: int
    vcpu: int
    memory_gb: int
    max_schedulers: int = 5
    min_schedulers: int = 2
    hybrid: bool = False  # scheduler and worker in one container (mw1.micro)
    max_webservers: int = 5
    min_webservers: int = 2


ENVIRONMENT_CLASSES: dict[str, EnvironmentClass] = {
    c.name: c
    for c in (
        # mw1.micro runs scheduler and worker in one container (exactly one of each) and one
        # web server (MWAA's API: MinWebservers/MaxWebservers 1 for mw1.micro, 2 to 5 otherwise).
        EnvironmentClass("mw1.micro", 3, 25, 1, 3, max_schedulers=1, min_schedulers=1, hybrid=True,
                         max_webservers=1, min_webservers=1),
        EnvironmentClass("mw1.small", 5, 50, 1, 2),
        EnvironmentClass("mw1.medium", 10, 250, 2, 4),
        EnvironmentClass("mw1.large", 20, 1000, 4, 8),
        EnvironmentClass("mw1.xlarge", 40, 2000, 8, 24),
        EnvironmentClass("mw1.2xlarge", 80, 4000, 16, 48),
    )
}
