#!/usr/bin/env python3
"""Benchmark `sandbox up`: cold (empty caches), warm, `down`, e2e at 15000 records, and memory.

Usage: python scripts/bench_up.py [--runtime native|compose] [--skip-cold] [--project DIR]

--runtime native (default): the native runtime's figures (Celery over SQS, the project's
MinWorkers workers) against their targets, beside the LocalExecutor figures measured before the
Celery topology (docs/benchmarks.md, 2026-11-22, same machine) with the ratio Celery/LocalExecutor.
--runtime compose: the compose runtime (offline images) measured, and the native runtime
measured in the same run as the baseline, printed side by side with the ratio compose/native.
Cold compose = the sandbox's images removed first, so it includes building them all.
Runs in a temporary copy of the project on free ports; never touches a running sandbox.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"cold_up_s": 300.0, "warm_up_s": 20.0, "memory_mib": 2048.0, "e2e_15000_s": 30.0}
# The last LocalExecutor measurements (docs/benchmarks.md, 2026-11-22): a past run, the baseline.
LOCAL_EXECUTOR = {"cold_up_s": 64.9, "warm_up_s": 18.3, "memory_mib": 1005.0, "e2e_15000_s": 21.7, "down_s": 10.7}
PORTS = ("airflow_port", "postgres_port", "kafka_port", "elasticsearch_port", "aws_port")


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def sandbox(project: Path, env: dict, *args: str) -> float:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "sandbox", "--project", str(project), *args],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"sandbox {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return time.monotonic() - started


def native_memory_mib(project: Path, env: dict) -> float:
    code = ("from pathlib import Path; from sandbox.settings import load_settings;"
            "from sandbox.runtime.native import NativeRuntime; from sandbox.runtime import sweep;"
            f"rt = NativeRuntime(load_settings(Path({str(project)!r})));"
            "print(sweep.pss_bytes(rt.processes()))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 2**20


_UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "kB": 1e3, "MB": 1e6, "GB": 1e9}


def compose_memory_mib(project: Path, env: dict) -> float:
    """The sum of `docker stats` memory (each container's cgroup usage) over the project's containers."""
    code = ("from pathlib import Path; from sandbox.settings import load_settings;"
            "from sandbox.runtime.compose.runtime import project_name;"
            f"print(project_name(load_settings(Path({str(project)!r}))))")
    name = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={name}"],
                         capture_output=True, text=True, check=True).stdout.split()
    stats = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", *ids],
                           capture_output=True, text=True, check=True).stdout
    total = 0.0
    for line in stats.splitlines():
        used = line.split("/")[0].strip()
        unit = next(u for u in sorted(_UNITS, key=len, reverse=True) if used.endswith(u))
        total += float(used[: -len(unit)]) * _UNITS[unit]
    return total / 2**20


def remove_sandbox_images() -> None:
    images = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "mwaa-sandbox/*"],
                            capture_output=True, text=True, check=True).stdout.split()
    if images:
        subprocess.run(["docker", "rmi", "--force", *images], capture_output=True)


def measure(runtime: str, project: Path, env: dict, work: Path, cold: bool, settle: float) -> dict[str, float]:
    up = ["up", "--runtime", runtime] + (["--offline-images"] if runtime == "compose" else [])
    figures: dict[str, float] = {}
    if cold:
        cold_env = dict(env, SANDBOX_CACHE_DIR=str(work / f"cold-cache-{runtime}"))
        if runtime == "compose":
            remove_sandbox_images()
        figures["cold_up_s"] = sandbox(project, cold_env, *up)
        sandbox(project, cold_env, "reset", "--yes")
    sandbox(project, env, *up)  # fills the shared cache if needed
    sandbox(project, env, "down")
    figures["warm_up_s"] = sandbox(project, env, *up)
    time.sleep(settle)
    memory = compose_memory_mib if runtime == "compose" else native_memory_mib
    figures["memory_mib"] = memory(project, env)
    figures["e2e_15000_s"] = sandbox(project, env, "e2e", "--count", "15000", "--seed", "42")
    figures["down_s"] = sandbox(project, env, "down")
    sandbox(project, env, "reset", "--yes")
    return figures


def run(runtime: str, source: Path, cold: bool, settle: float) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-up-{runtime}-"))
    project = work / "project"
    shutil.copytree(source, project, ignore=shutil.ignore_patterns(".sandbox", ".venv", ".git"))
    env = dict(os.environ)
    env.update({f"SANDBOX_{k.upper()}": str(p) for k, p in zip(PORTS, free_ports(len(PORTS)))})
    try:
        return measure(runtime, project, env, work, cold, settle)
    finally:
        subprocess.run([sys.executable, "-m", "sandbox", "--project", str(project), "reset", "--yes"],
                       env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def table(results: dict[str, dict[str, float]], baseline: str, label: str) -> None:
    """Both columns, the target, and the measured column against the baseline and the target."""
    measured = next(c for c in results if c != baseline)
    print(f"{'figure':<14}{measured:>11}{baseline:>11} {'target':>8} {label:>22} {'vs target':>10}")
    for name, value in results[measured].items():
        target, base = TARGETS.get(name), results[baseline].get(name)
        print(f"{name:<14}{value:>11.1f}{base if base else float('nan'):>11.1f} {target if target else '-':>8} "
              f"{f'{value / base:.2f}' if base else '-':>22} {f'{value / target:.2f}' if target else '-':>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=("native", "compose"), default="native")
    parser.add_argument("--skip-cold", action="store_true", help="skip the empty-cache run")
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds idle before measuring memory")
    args = parser.parse_args()
    results = {"native": run("native", args.project, not args.skip_cold, args.settle)}
    if args.runtime == "compose":
        results["compose"] = run("compose", args.project, not args.skip_cold, args.settle)
    print(f"machine: {platform.node()} {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}")
    if args.runtime == "compose":
        table(results, "native", "compose/native")
    else:
        table({**results, "LocalExec": LOCAL_EXECUTOR}, "LocalExec", "native/LocalExecutor")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
