"""The S3 -> dags sync daemon: `python -m sandbox.delivery.syncd --project DIR [--interval S]`.

Runs `s3sync.run_loop` until SIGTERM (or SIGINT); SIGUSR1 asks for a pass now. Each pass's
changes go to stdout (the native runtime appends it to .sandbox/logs/dagsync.log) and the status
to .sandbox/dagsync.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from sandbox.delivery import s3sync
from sandbox.errors import SandboxError
from sandbox.probes import bypass_proxy_for_loopback
from sandbox.environment import envstate
from sandbox.runtime import updates
from sandbox.settings import load_settings


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.delivery.syncd",
                                     description="Mirror the bucket's DAG prefix into Airflow's dags folder.")
    parser.add_argument("--project", required=True, help="the project folder (mwaa.yaml, .sandbox/)")
    parser.add_argument("--interval", type=float, default=None,
                        help="seconds between passes (default: the dag_sync_interval setting)")
    parser.add_argument("--target", default=None, help="the dags folder (default .sandbox/airflow/dags)")
    parser.add_argument("--container", action="store_true",
                        help="run as the compose runtime's sidecar: requests come as a file, and "
                             "environment updates are left to `sandbox up`")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    bypass_proxy_for_loopback(os.environ)
    try:
        settings = load_settings(Path(args.project))
        interval = args.interval if args.interval is not None else settings.dag_sync_interval
        if interval <= 0:
            raise SandboxError(f"--interval {interval:g} must be positive")
    except SandboxError as exc:
        print(f"Error: {exc.one_line()}", file=sys.stderr, flush=True)
        return exc.exit_code
    stop, wake = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: wake.set())
    log = lambda line: print(line, flush=True)  # noqa: E731
    log(f"dagsync: every {interval:g} s, s3://{settings.spec.bucket_name}/"
        f"{settings.spec.dag_s3_path.strip('/')} -> {args.target or 'Airflow dags folder'} (pid {os.getpid()})")
    # MWAA's environment updates restart native processes; a container is re-created by `up`.
    watcher = None if args.container else envstate.Watcher(settings, updates.spawn_update, log=log)
    s3sync.run_loop(settings, interval, stop, wake=wake, after_pass=watcher.check if watcher else None,
                    target=Path(args.target).resolve() if args.target else None, log=log,
                    container=args.container)
    log("dagsync: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
