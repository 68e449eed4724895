#!/usr/bin/env python3
"""Benchmark `sandbox up` on the native runtime: cold (empty caches), warm (environment cached),
`down`, and the whole sandbox's memory (sum of PSS). Prints figures and the ratio to each target.

Usage: python scripts/bench_up.py [--skip-cold] [--project DIR]
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
TARGETS = {"cold_up_s": 300.0, "warm_up_s": 30.0, "memory_mib": 2048.0}
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
        sys.exit(f"sandbox {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.monotonic() - started


def memory_mib(project: Path, env: dict) -> float:
    code = ("from pathlib import Path; from sandbox.settings import load_settings;"
            "from sandbox.runtime.native import NativeRuntime; from sandbox.runtime import sweep;"
            f"rt = NativeRuntime(load_settings(Path({str(project)!r})));"
            "print(sweep.pss_bytes(rt.processes()))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cold", action="store_true", help="skip the empty-cache run")
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds idle before measuring memory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-up-"))
    project = work / "project"
    shutil.copytree(args.project, project, ignore=shutil.ignore_patterns(".sandbox", ".venv", ".git"))
    env = dict(os.environ)
    env.update({f"SANDBOX_{k.upper()}": str(p) for k, p in zip(PORTS, free_ports(len(PORTS)))})
    figures: dict[str, float] = {}
    try:
        if not args.skip_cold:
            cold = dict(env, SANDBOX_CACHE_DIR=str(work / "cold-cache"))
            figures["cold_up_s"] = sandbox(project, cold, "up", "--runtime", "native")
            sandbox(project, cold, "reset", "--yes")
        sandbox(project, env, "up", "--runtime", "native")  # fills the shared cache if needed
        sandbox(project, env, "down")
        figures["warm_up_s"] = sandbox(project, env, "up", "--runtime", "native")
        time.sleep(args.settle)
        figures["memory_mib"] = memory_mib(project, env)
        figures["down_s"] = sandbox(project, env, "down")
    finally:
        subprocess.run([sys.executable, "-m", "sandbox", "--project", str(project), "reset", "--yes"],
                       env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {platform.node()} {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}")
    print(f"{'figure':<12} {'measured':>10} {'target':>10} {'ratio':>7}")
    for name, value in figures.items():
        target = TARGETS.get(name)
        ratio = f"{value / target:.2f}" if target else "-"
        print(f"{name:<12} {value:>10.1f} {target if target else '-':>10} {ratio:>7}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
