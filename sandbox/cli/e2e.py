"""sandbox e2e"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from sandbox.cli import ui
from sandbox.e2e import reference
from sandbox.e2e.report import sparkline, write_reports
from sandbox.e2e.scenario import E2EOptions, Scenario
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
    timeout: float = typer.Option(600.0, "--timeout", help="seconds each DAG run may take"),
    report_dir: Path = typer.Option(None, "--report-dir", help="where junit.xml and report.html go"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    progress = ui.ConsoleProgress(quiet=json_out)
    rt, _ = ctx.obj.runtime(progress)
    options = _options(rt.settings.spec.sandbox.get("e2e", {}), count=count, seed=seed, malformed=malformed,
                       producer=producer, consumer=consumer, topic=topic, index=index,
                       consumer_conf=_json_object(consumer_conf), run_timeout=timeout)
    result = Scenario(rt, options, progress).run()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    paths = write_reports(result, report_dir or rt.settings.state_dir / "reports" / f"e2e-{stamp}")
    if json_out:
        ui.print_json({**result.to_json(), "reports": {k: str(v) for k, v in paths.items()}})
    else:
        _summary(result, paths)
    raise typer.Exit(0 if result.passed else 1)


def _options(from_spec: dict, **flags) -> E2EOptions:
    """CLI flags > mwaa.yaml Sandbox.e2e > defaults."""
    if not isinstance(from_spec, dict):
        raise ConfigError("mwaa.yaml: Sandbox.e2e: must be a mapping (producer, consumer, topic, index)")
    values = {k: from_spec[k] for k in ("producer", "consumer", "topic", "index") if k in from_spec}
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


def _summary(result, paths) -> None:
    table = Table(title=f"e2e {result.producer} -> {result.topic} -> {result.consumer} -> {result.index}",
                  title_justify="left")
    for column in ("check", "status", "expected", "actual", "detail"):
        table.add_column(column)
    for check in result.checks:
        status = "[green]OK[/]" if check.passed else "[red]FAIL[/]"
        table.add_row(check.name, status, check.expected, check.actual, check.detail)
    ui.console.print(table)
    ui.console.print(f"produced {result.produced}, indexed {result.indexed}, lost {result.lost}, "
                     f"duplicates {result.duplicates}, dead-letter {result.dead_letter} "
                     f"(malformed {result.malformed}) in {result.seconds:.1f} s")
    if result.per_minute:
        ui.console.print(f"500s per minute: {sparkline([m.actual for m in result.per_minute])}")
    for note in result.notes:
        ui.console.print(f"[dim]{note}[/]")
    ui.console.print(f"reports: {paths['html']} , {paths['junit']}")
    ui.console.print("[green]PASSED[/]" if result.passed else "[red]FAILED[/]")
