"""`sandbox e2e --scenarios`: the same producer and consumer, one separate run per failure, each
with its own figures and verdict, and the delivery guarantees they prove or break."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone

from sandbox.e2e import faults
from sandbox.e2e.dags import E2EError
from sandbox.e2e.result import Check, E2EResult
from sandbox.e2e.scenario import E2EOptions, Scenario
from sandbox.runtime.base import Progress, Runtime

FIGURES = ("no_loss", "no_duplicates")


def _delivery(checks: list[Check]) -> list[Check]:
    """A scenario judges delivery: the reference queries describe the whole index, which the
    scenarios before it (a deleted group re-read by a non-idempotent consumer) may have changed."""
    return [c for c in checks if not c.name.startswith("query_")]


def run_scenarios(runtime: Runtime, options: E2EOptions, progress: Progress, names: list[str]) -> E2EResult:
    o = options
    total = E2EResult(o.producer, o.consumer, o.topic, o.index, datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    started = time.monotonic()
    for n, name in enumerate(names, 1):
        progress.step("scenario", f"{n}/{len(names)} {name}: {faults.SCENARIOS[name]}")
        scenario = Scenario(runtime, o, progress, fault=name)
        try:
            result, error = scenario.run(), ""
        except E2EError as exc:  # the failure broke the run itself: a verdict, not a crash
            result, error = E2EResult(o.producer, o.consumer, o.topic, o.index, ""), exc.message
        fault = scenario.fault
        summary = summarise(name, result, fault, error, runtime.stand_ins())
        total.scenarios.append(summary)
        total.checks += _checks(name, result, summary)
        total.per_minute = result.per_minute or total.per_minute
        total.identity, total.record_format = result.identity or total.identity, result.record_format or total.record_format
        total.examples.update({f"{name}: {k}": v for k, v in result.examples.items() if v})
        total.produced += result.produced
        total.indexed += result.indexed
        total.lost += result.lost
        total.duplicates += result.duplicates
        progress.done("scenario", f"{name}: {summary['status']} ({summary['detail']})")
    total.guarantees = faults.guarantees(total.scenarios)
    total.seconds = time.monotonic() - started
    return total


def summarise(name: str, result: E2EResult, fault: faults.FaultRun | None, error: str,
              stand_ins: set[str]) -> dict:
    details = list(fault.details if fault else [])
    caveats = list(fault.caveats if fault else [])
    decided = [c for c in _delivery(result.checks) if not c.skipped]
    if error:
        status, details = "failed", details + [error]
    elif fault is not None and not fault.exercised:
        status = "not exercised"
    elif result.duplicates and not result.lost and name in faults.REBALANCING and "kafka" in stand_ins:
        status = "not provable on this runtime"
        caveats.append(faults.NOIDA_REBALANCE)
    else:
        status = "passed" if decided and all(c.passed for c in decided) else "failed"
    failing = [c.detail for c in decided if not c.passed]
    return {"name": name, "status": status,
            "passed": {"passed": True, "failed": False}.get(status),
            "lost": result.lost, "duplicates": result.duplicates, "produced": result.produced,
            "detail": "; ".join(details + failing) or faults.SCENARIOS[name], "caveats": caveats,
            "error": error}


def _checks(name: str, result: E2EResult, summary: dict) -> list[Check]:
    """The scenario's checks under its name; an undecided scenario's figures are SKIPPED."""
    status = summary["status"]
    if status in ("not exercised", "not provable on this runtime"):
        why = f"{status}: " + "; ".join(summary["caveats"] or [summary["detail"]])
        return [Check(f"{name}/{c.name}", False, c.expected, c.actual, why, skipped=True) if c.name in FIGURES
                else replace(c, name=f"{name}/{c.name}") for c in _delivery(result.checks)]
    if summary["error"]:
        return [Check(f"{name}/run", False, "success", "failed", summary["error"])]
    return [replace(c, name=f"{name}/{c.name}") for c in _delivery(result.checks)]
