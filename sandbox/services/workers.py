"""MWAA's Celery workers (`airflow celery worker`): MinWorkers of them, each with its own scratch
space, as each MWAA worker is a container of its own. The dags and plugins folders are shared,
as MWAA syncs them to every worker; a file a task leaves on local disk is not."""

from __future__ import annotations

from pathlib import Path

from sandbox.mwaa.celery import WORKER_NAME_VAR
from sandbox.probes import CallableProbe
from sandbox.settings import Settings

PREFIX = "airflow-worker-"
AUTOSCALING_PROFILE = "autoscaling"  # compose: the workers beyond MinWorkers
READY = " ready."  # Celery's line once the worker consumes: "celery@host ready."


def bounds(settings: Settings) -> tuple[int, int]:
    """How many workers run: MinWorkers at start, up to MaxWorkers by autoscaling (MinWorkers
    when the sandbox's autoscaling is off); mw1.micro's one hybrid worker whatever they say."""
    spec = settings.spec
    if spec.env_class.hybrid:
        return 1, 1
    return spec.min_workers, spec.max_workers if settings.worker_autoscaling else spec.min_workers


def names(settings: Settings) -> list[str]:
    """The workers started with the environment (MinWorkers)."""
    return [f"{PREFIX}{n}" for n in range(1, bounds(settings)[0] + 1)]


def all_names(settings: Settings) -> list[str]:
    """Every worker autoscaling may run, in the order they are added."""
    return [f"{PREFIX}{n}" for n in range(1, bounds(settings)[1] + 1)]


def is_worker(name: str) -> bool:
    return name.startswith(PREFIX)


def argv(name: str) -> list[str]:
    """MWAA starts `airflow celery worker` with no flags; natively the workers share a host, so
    each gets a node name, and no log server (it binds 0.0.0.0:8793; logs go to CloudWatch)."""
    return ["airflow", "celery", "worker", "--skip-serve-logs", "--celery-hostname", f"{name}@%h"]


def scratch(state_root: Path, name: str) -> Path:
    return state_root / "workers" / name


def scratch_env(state_root: Path, name: str) -> dict[str, str]:
    """Its own HOME, TMPDIR and working directory (created here), and its own hostname."""
    folder = scratch(state_root, name)
    for sub in ("home", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {"HOME": str(folder / "home"), "TMPDIR": str(folder / "tmp"), WORKER_NAME_VAR: name}


def probe(log: Path) -> CallableProbe:
    """Ready once this start of the worker logged Celery's ready line."""
    start = log.stat().st_size if log.exists() else 0

    def ready() -> None:
        with open(log, "rb") as fh:
            fh.seek(start)
            if READY.encode() not in fh.read():
                raise RuntimeError("no `ready.` line from Celery yet")

    return CallableProbe(f"Celery's ready line in {log.name}", ready)
