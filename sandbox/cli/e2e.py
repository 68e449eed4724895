"""sandbox e2e"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from sandbox.cli import ui
from sandbox.e2e import faults, reference
from sandbox.e2e.report import sparkline, write_reports
from sandbox.e2e.scenario import E2EOptions, Scenario
from sandbox.e2e.suite import run_scenarios
from sandbox.errors import ConfigError


def e2e(
    ctx: typer.Context,
    count: int = typer.Option(15000, "--count", "-n", min=1, help="records the producer publishes"),
    seed: int = typer.Option(None, "--seed", help="random seed (same seed and start: same records)"),
    malformed: int = typer.Option(0, "--malformed", min=0, help="extra malformed records (dead-letter check)"),
    producer: str = typer.Option(None, "--producer", help=f"producer DAG id (default {reference.PRODUCER})"),
    consumer: str = typer.Option(None, "--consumer", help=f"consumer DAG id (default {reference.CONSUMER})"),
    topic: str = typer.Option(None, "--topic", help=f"topic (default {reference.TOPIC})"),
    index: str = typer.Option(None, "--index", help=f"index (default {reference.INDEX})"),
    consumer_conf: str = typer.Option("{}", "--consumer-conf", help="JSON conf for the consumer's run"),
    identity: str = typer.Option(None, "--identity",
                                 help="how a record is matched to its document: FIELD (a JSON path, e.g. "
                                      "event_id) | coordinates | fingerprint:FIELD,FIELD (default: derived)"),
    record_format: str = typer.Option(None, "--format",
                                      help="the records' format: auto (default) | json | apache-common | "
                                           "apache-combined | a parser's dotted path in the project"),
    with_schedule: bool = typer.Option(None, "--with-schedule/--hold-schedule",
                                       help="let the DAGs' own schedules fire during the proof "
                                            "(default: held; every run is accounted for either way)"),
    timeout: float = typer.Option(600.0, "--timeout", help="seconds each DAG run may take"),
    scenarios: str = typer.Option(None, "--scenarios",
                                  help="failures to try, each in its own run: all, or some of "
                                       f"{', '.join(faults.SCENARIOS)} (comma-separated)"),
    report_dir: Path = typer.Option(None, "--report-dir", help="where junit.xml and report.html go"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    progress = ui.ConsoleProgress(quiet=json_out)
    rt, _ = ctx.obj.runtime(progress)
    options = _options(rt.settings.spec.sandbox.get("e2e", {}), count=count, seed=seed, malformed=malformed,
                       producer=producer, consumer=consumer, topic=topic, index=index,
                       consumer_conf=_json_object(consumer_conf), run_timeout=timeout, identity=identity,
                       record_format=record_format, with_schedule=with_schedule)
    if scenarios is not None:
        result = run_scenarios(rt, options, progress, faults.parse_scenarios(scenarios))
    else:
        result = Scenario(rt, options, progress).run()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    paths = write_reports(result, report_dir or rt.settings.state_dir / "reports" / f"e2e-{stamp}")
    if json_out:
        ui.print_json({**result.to_json(), "reports": {k: str(v) for k, v in paths.items()}})
    else:
        _summary(result, paths)
    raise typer.Exit(0 if result.passed else 1)


SPEC_KEYS = {"producer": "producer", "consumer": "consumer", "topic": "topic", "index": "index",
             "identity": "identity", "format": "record_format", "with_schedule": "with_schedule"}


def _options(from_spec: dict, **flags) -> E2EOptions:
    """CLI flags > mwaa.yaml Sandbox.e2e > defaults."""
    if not isinstance(from_spec, dict):
        raise ConfigError(f"mwaa.yaml: Sandbox.e2e: must be a mapping ({', '.join(SPEC_KEYS)})")
    unknown = sorted(set(from_spec) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(f"mwaa.yaml: Sandbox.e2e: unknown key {', '.join(unknown)}",
                          hint=f"the keys are {', '.join(SPEC_KEYS)}")
    values = {SPEC_KEYS[k]: v for k, v in from_spec.items()}
    values.update({k: v for k, v in flags.items() if v is not None})
    return E2EOptions(**values)


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"--consumer-conf: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigError("--consumer-conf: must be a JSON object, e.g. '{\"group_id\": \"g2\"}'")
    return value


def _guarantees(result) -> None:
    table = Table(title="scenarios", title_justify="left")
    for column in ("scenario", "verdict", "lost", "duplicates", "detail"):
        table.add_column(column)
    for s in result.scenarios:
        colour = {"passed": "green", "failed": "red"}.get(s["status"], "yellow")
        table.add_row(s["name"], f"[{colour}]{s['status']}[/]", str(s["lost"]), str(s["duplicates"]),
                      "; ".join([s["detail"], *s["caveats"]]))
    ui.console.print(table)
    table = Table(title="delivery guarantees", title_justify="left")
    for column in ("guarantee", "verdict", "proved by"):
        table.add_column(column)
    for g in result.guarantees:
        colour = {"holds": "green", "broken": "red"}.get(g["verdict"], "yellow")
        table.add_row(g["guarantee"], f"[{colour}]{g['verdict']}[/]", g["scenarios"])
    ui.console.print(table)


def _summary(result, paths) -> None:
    table = Table(title=f"e2e {result.producer} -> {result.topic} -> {result.consumer} -> {result.index}",
                  title_justify="left")
    for column in ("check", "status", "expected", "actual", "detail"):
        table.add_column(column)
    for check in result.checks:
        status = {"OK": "[green]OK[/]", "FAIL": "[red]FAIL[/]", "SKIPPED": "[yellow]SKIPPED[/]"}[check.status]
        table.add_row(check.name, status, check.expected, check.actual, check.detail)
    ui.console.print(table)
    if result.scenarios:
        _guarantees(result)
    ui.console.print(f"produced {result.produced}, indexed {result.indexed}, lost {result.lost}, "
                     f"duplicates {result.duplicates}, dead-letter {result.dead_letter} "
                     f"(malformed {result.malformed}) in {result.seconds:.1f} s")
    if result.per_minute:
        ui.console.print(f"500s per minute: {sparkline([m.actual for m in result.per_minute])}")
    if result.identity:
        ui.console.print(f"identity: {result.identity}; record format: {result.record_format}")
    for kind, rows in result.examples.items():
        for row in rows:
            ui.console.print(f"  {kind}: partition {row['partition']} offset {row['offset']} "
                             f"identity {row.get('identity')!r} documents {row.get('count')}: {row.get('excerpt')}")
    for note in result.notes:
        ui.console.print(f"[dim]{note}[/]")
    ui.console.print(f"reports: {paths['html']} , {paths['junit']}")
    ui.console.print("[green]PASSED[/]" if result.passed else "[red]FAILED[/]")
