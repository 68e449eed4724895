#!/usr/bin/env python3
"""Time `sandbox requirements check` over the failure corpus, warm and offline.

Warm: online, after one run filled pip's cache and the wheelhouse. Offline: the index made
unreachable (PIP_INDEX_URL on a closed port), resolving from the wheelhouse only. Private
cases never use an index and are timed once. Target: <= 15 s per check.

    .venv/bin/python scripts/bench_requirements.py [--rounds N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "mwaa_failures"))
import requirements_corpus  # noqa: E402

TARGET_SECONDS = 15.0
UNREACHABLE_INDEX = "http://127.0.0.1:9/simple"
# The requirements sub-app under a root like sandbox's own, so the bench runs before and
# after the command is registered in sandbox/cli/commands.py.
RUNNER = """
import sys, typer
from sandbox.cli.context import CliContext
from sandbox.cli import requirements
app = typer.Typer()
@app.callback()
def _root(ctx: typer.Context, project: str = typer.Option('.', '--project')):
    ctx.obj = CliContext.create(project, False)
requirements.register(app)
app(sys.argv[1:])
"""


def run_check(project: Path, env: dict[str, str]) -> tuple[float, dict]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", RUNNER, "--project", str(project), "requirements",
                           "check", "--json"], env=env, capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - started
    try:
        return seconds, json.loads(done.stdout)
    except ValueError:
        raise SystemExit(f"check on {project} failed: {done.stderr.strip()[-500:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    base["SANDBOX_MWAA_DATA_DIR"] = os.environ.get("SANDBOX_MWAA_DATA_DIR") or str(
        REPO.parent / "shared" / "mwaa" / "2.9.2")
    base["SANDBOX_AWS_PORT"] = "9"  # no CloudWatch publishing in the bench
    offline = dict(base, PIP_INDEX_URL=UNREACHABLE_INDEX, PIP_CONFIG_FILE=os.devnull)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-requirements-") as tmp:
        for case in requirements_corpus.cases():
            project = requirements_corpus.build_project(case, Path(tmp) / case.name)
            run_check(project, base)  # fills caches and the wheelhouse
            modes = {"warm": base} if case.private else {"warm": base, "offline": offline}
            for mode, env in modes.items():
                times = []
                for _ in range(args.rounds):
                    seconds, payload = run_check(project, env)
                    times.append(seconds)
                    if payload["verdict"] != case.verdict:
                        raise SystemExit(f"{case.name} ({mode}): verdict {payload['verdict']}, "
                                         f"expected {case.verdict}")
                rows.append({"case": case.name, "mode": payload["mode"], "seconds": statistics.median(times),
                             "check_seconds": payload["seconds"]})
    worst = max(r["seconds"] for r in rows)
    summary = {"target_seconds": TARGET_SECONDS, "checks": rows,
               "median_seconds": statistics.median(r["seconds"] for r in rows),
               "worst_seconds": worst, "worst_ratio_to_target": worst / TARGET_SECONDS,
               "within_target": worst <= TARGET_SECONDS}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{'case':32} {'mode':8} {'seconds':>8} {'in check':>9} {'ratio':>6}")
    for r in rows:
        print(f"{r['case']:32} {r['mode']:8} {r['seconds']:8.2f} {r['check_seconds']:9.2f} "
              f"{r['seconds'] / TARGET_SECONDS:6.2f}")
    print(f"median {summary['median_seconds']:.2f} s, worst {worst:.2f} s = "
          f"{summary['worst_ratio_to_target']:.2f} x the {TARGET_SECONDS:.0f} s target "
          f"({'within' if summary['within_target'] else 'OVER'} target)")
    sys.exit(0 if summary["within_target"] else 1)


if __name__ == "__main__":
    main()
