#!/usr/bin/env python3
"""Benchmark the reference pipeline: `sandbox e2e` wall time and the producer's and consumer's
rates for N = 15000 and 100000, beside a raw ceiling measured in the same run on the same services
(confluent-kafka producing the same records outside Airflow; an Elasticsearch bulk of the same
documents). Prints a table with the pipeline/ceiling ratio.

Usage: python scripts/bench_pipeline.py [--counts 15000,100000]
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

TARGET_E2E_15000_S = 60.0
TARGET_RATIO = 0.5


def sandbox(project: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sandbox", "--project", str(project), *args],
                          env=env, capture_output=True, text=True)


def e2e(project: Path, env: dict, count: int) -> dict:
    done = sandbox(project, env, "e2e", "--json", "--count", str(count), "--timeout", "1200")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="15000,100000")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    project = work / "project"
    shutil.copytree(REPO, project, ignore=shutil.ignore_patterns(".sandbox", ".venv", ".git", "tests"))
    env = dict(os.environ)
    env.update({f"SANDBOX_{k.upper()}": str(p) for k, p in zip(PORTS, free_ports(len(PORTS)))})
    rows = []
    try:
        up = sandbox(project, env, "up", "--runtime", "native")
        if up.returncode != 0:
            sys.exit(f"up failed:\n{up.stderr[-3000:]}")
        for count in (int(c) for c in args.counts.split(",")):
            result = e2e(project, env, count)
            raw = ceiling(project, env, count)
            rows.append((count, result, raw))
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
    print(f"targets: e2e at 15000 <= {TARGET_E2E_15000_S:.0f} s; pipeline rates >= {TARGET_RATIO:.0%} of the ceiling")
    print(json.dumps([{"count": c, "e2e_seconds": r["seconds"], "passed": r["passed"],
                       "outputs": r["outputs"], "raw": raw} for c, r, raw in rows]))


if __name__ == "__main__":
    main()
