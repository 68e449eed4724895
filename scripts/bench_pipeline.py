#!/usr/bin/env python3
"""Benchmark the reference pipeline: `sandbox e2e` wall time, each phase's time and the producer's
and consumer's rates for N = 15000, 100000 and 1000000, beside a raw ceiling measured in the same
run on the same services (confluent-kafka producing the same records outside Airflow; an
Elasticsearch bulk of the same documents), then `e2e --scenarios all`. Prints a table with the
pipeline/ceiling ratios and the verify phase's seconds per 100000 records (it must grow linearly).

Usage: python scripts/bench_pipeline.py [--counts 15000,100000[,1000000]] [--scenarios-count 15000|0]
Runs in a temporary copy of the project on free ports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_up import PORTS, REPO, free_ports  # noqa: E402

TARGET_E2E_15000_S = 30.0
TARGET_E2E_1M_S = 600.0
TARGET_SCENARIOS_S = 180.0
TARGET_RATIO = 0.5


def sandbox(project: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sandbox", "--project", str(project), *args],
                          env=env, capture_output=True, text=True)


def e2e(project: Path, env: dict, count: int, *extra: str) -> dict:
    done = sandbox(project, env, "e2e", "--json", "--count", str(count), "--timeout", "3600", *extra)
    try:
        return json.loads(done.stdout)
    except ValueError:
        sys.exit(f"e2e failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


def ceiling(project: Path, env: dict, count: int) -> dict:
    python = project / ".sandbox" / "airflow-env" / "bin" / "python"
    done = subprocess.run([str(python), str(REPO / "scripts" / "raw_ceiling.py"),
                           "--bootstrap", f"127.0.0.1:{env['SANDBOX_KAFKA_PORT']}",
                           "--es", f"http://127.0.0.1:{env['SANDBOX_ELASTICSEARCH_PORT']}",
                           "--count", str(count), "--dags", str(project / "dags")],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"raw ceiling failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


PHASES = ("parse", "produce", "read truth", "consume", "verify")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="15000,100000",
                        help="1000000 stalls on noida-db (docs/benchmarks.md): its consumer backlog exceeds 100 MB")
    parser.add_argument("--scenarios-count", type=int, default=15000, help="0: no scenarios run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    project = work / "project"
    shutil.copytree(REPO, project, ignore=shutil.ignore_patterns(".sandbox", ".venv", ".git", "tests"))
    env = dict(os.environ)
    env.update({f"SANDBOX_{k.upper()}": str(p) for k, p in zip(PORTS, free_ports(len(PORTS)))})
    rows = []
    suite = None
    try:
        up = sandbox(project, env, "up", "--runtime", "native")
        if up.returncode != 0:
            sys.exit(f"up failed:\n{up.stderr[-3000:]}")
        for count in (int(c) for c in args.counts.split(",")):
            result = e2e(project, env, count)
            raw = ceiling(project, env, count)
            rows.append((count, result, raw))
        suite = e2e(project, env, args.scenarios_count, "--scenarios", "all") if args.scenarios_count else None
    finally:
        sandbox(project, env, "reset", "--yes")
        shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}")
    print(f"{'N':>7} {'e2e s':>7} {'passed':>6} | {'producer r/s':>12} {'raw r/s':>9} {'ratio':>5} "
          f"| {'consumer r/s':>12} {'bulk r/s':>9} {'ratio':>5} | task s (prod/cons)")
    for count, result, raw in rows:
        prod_s = result["outputs"]["producer"].get("seconds") or result["producer_seconds"]
        cons_s = result["outputs"]["consumer"].get("seconds") or result["consumer_seconds"]
        prod_rate, cons_rate = count / prod_s, count / cons_s
        print(f"{count:>7} {result['seconds']:>7.1f} {str(result['passed']):>6} | {prod_rate:>12.0f} "
              f"{raw['produce_rate']:>9} {prod_rate / raw['produce_rate']:>5.2f} | {cons_rate:>12.0f} "
              f"{raw['bulk_rate']:>9} {cons_rate / raw['bulk_rate']:>5.2f} | "
              f"{result['producer_seconds']:.1f}/{result['consumer_seconds']:.1f}")
    print(f"\n{'N':>7} | " + " | ".join(f"{p:>10}" for p in PHASES) + " | verify s per 100000")
    for count, result, _ in rows:
        phases = result.get("phases", {})
        print(f"{count:>7} | " + " | ".join(f"{phases.get(p, 0):>10.1f}" for p in PHASES)
              + f" | {phases.get('verify', 0) * 100000 / count:.2f}")
    if suite is not None:
        print(f"\n--scenarios all at {args.scenarios_count}: {suite['seconds']:.1f} s, passed {suite['passed']}: "
              + ", ".join(f"{s['name']} {s['status']}" for s in suite["scenarios"]))
    print(f"targets: e2e at 15000 <= {TARGET_E2E_15000_S:.0f} s, at 1000000 <= {TARGET_E2E_1M_S:.0f} s; "
          f"--scenarios all at 15000 <= {TARGET_SCENARIOS_S:.0f} s; pipeline rates >= {TARGET_RATIO:.0%} of the ceiling")
    print(json.dumps([{"count": c, "e2e_seconds": r["seconds"], "passed": r["passed"],
                       "phases": r.get("phases"), "outputs": r["outputs"], "raw": raw} for c, r, raw in rows]))


if __name__ == "__main__":
    main()
