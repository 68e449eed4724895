#!/usr/bin/env python3
"""Benchmark the delivery path: seconds from `sandbox deploy` of a new DAG file to the DAG listed
by Airflow's REST API, with the default 30 s S3 -> dags sync (target <= 35 s; MWAA: a 30 s sync
plus the scheduler's list interval). Prints each run, the median and the ratio to the target.

Usage: python scripts/bench_delivery.py [--runs 3]
Runs in a temporary copy of the project on free ports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from base64 import b64encode
from pathlib import Path
from urllib.request import Request, urlopen

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_up import PORTS, REPO, free_ports  # noqa: E402

TARGET_S = 35.0
DAG = '''"""bench_delivery_{n}: an empty DAG for the delivery benchmark. Expected outcome: parses."""
import pendulum
from airflow import DAG

with DAG("bench_delivery_{n}", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False):
    pass
'''


def sandbox(project: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "sandbox", "--project", str(project), *args],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"sandbox {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done


def dag_listed(env: dict, password: str, dag_id: str) -> bool:
    request = Request(f"http://127.0.0.1:{env['SANDBOX_AIRFLOW_PORT']}/api/v1/dags/{dag_id}",
                      headers={"Authorization": "Basic " + b64encode(f"admin:{password}".encode()).decode()})
    try:
        with urlopen(request, timeout=5) as response:
            return json.loads(response.read()).get("is_active", False)
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    project = work / "project"
    shutil.copytree(REPO, project, ignore=shutil.ignore_patterns(".sandbox", ".venv", ".git", "tests"))
    env = dict(os.environ)
    env.update({f"SANDBOX_{k.upper()}": str(p) for k, p in zip(PORTS, free_ports(len(PORTS)))})
    env.pop("SANDBOX_DAG_SYNC_INTERVAL", None)  # MWAA's 30 s
    seconds = []
    try:
        sandbox(project, env, "up", "--runtime", "native")
        password = (project / ".sandbox" / "admin-password").read_text().strip()
        for n in range(args.runs):
            (project / "dags" / f"bench_delivery_{n}.py").write_text(DAG.format(n=n))
            started = time.monotonic()
            sandbox(project, env, "deploy")
            while not dag_listed(env, password, f"bench_delivery_{n}"):
                if time.monotonic() - started > 180:
                    sys.exit(f"bench_delivery_{n} not listed after 180 s")
                time.sleep(0.5)
            seconds.append(time.monotonic() - started)
            print(f"run {n + 1}: {seconds[-1]:.1f} s from deploy to listed", flush=True)
    finally:
        subprocess.run([sys.executable, "-m", "sandbox", "--project", str(project), "reset", "--yes"],
                       env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    median = statistics.median(seconds)
    print(f"median {median:.1f} s, worst {max(seconds):.1f} s; target {TARGET_S:.0f} s; "
          f"ratio {median / TARGET_S:.2f} (median), {max(seconds) / TARGET_S:.2f} (worst)")


if __name__ == "__main__":
    main()
