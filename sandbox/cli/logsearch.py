"""sandbox logs insights QUERY / sandbox logs tail GROUP: search the emulated CloudWatch Logs.

`sandbox logs` becomes a group whose default command is the service log, so
`sandbox logs SERVICE [-f] [-n N]` keeps working.
"""

from __future__ import annotations

import json
import time

import typer
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from sandbox.cli import ui
from sandbox.logsearch.fetch import Follower, group_names, parse_since, read_groups
from sandbox.logsearch.filter_pattern import compile_pattern
from sandbox.logsearch.insights_eval import evaluate
from sandbox.logsearch.insights_parser import parse_query
from sandbox.logsearch.values import format_timestamp
from sandbox.services import aws

GROUP_HELP = "Task, DAGProcessing, Scheduler, WebServer or Worker (repeatable; default: all five)"
INSIGHTS_HELP = (
    "Run a CloudWatch Logs Insights QUERY against the emulated MWAA log groups. The sandbox "
    "evaluates it itself, since moto ignores filter, stats and parse.\n\n"
    "Commands: fields, filter, parse, stats, sort, limit, display. "
    "Operators: = != < <= > >=, like \"text\" or /regex/, =~ /regex/, in and not in a list, "
    "and, or, not, + - * / %. "
    "parse takes a glob (\"user=* id=*\" as user, id) or a /regex/ with (?<name>...) groups. "
    "stats: count(*), count, sum, avg, min, max, by fields and bin(5m). "
    "Functions: ispresent, isempty, strlen, tolower, toupper. "
    "Fields: @timestamp, @message, @logStream, @log and the keys of JSON messages (nested ones dotted).\n\n"
    "Anything else is an error naming it, never a silently wrong answer."
)


class ServiceDefaultGroup(TyperGroup):
    """Runs the `service` command when the first argument names no subcommand."""

    default_command = "service"

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def insights(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="the Logs Insights query, e.g. 'filter @message like /ERROR/'"),
    group: list[str] = typer.Option(None, "--group", "-g", help=GROUP_HELP),
    since: str = typer.Option("1h", "--since", help="how far back: 30s, 15m, 1h, 2d"),
    json_out: bool = typer.Option(False, "--json", help="print the results as JSON"),
) -> None:
    parsed = parse_query(query)  # a bad query fails before anything is read
    window = parse_since(since)
    settings = ctx.obj.settings()
    groups = group_names(settings.spec.name, group)
    events = read_groups(aws.client(settings, "logs"), groups, _now_ms() - window)
    result = evaluate(parsed, events)
    if json_out:
        ui.print_json({"query": query, "groups": groups, "since": since, "columns": result.columns,
                       "results": result.rows, "recordsScanned": result.scanned})
        return
    table = Table(title=f"{len(result.rows)} rows from {result.scanned} events in {', '.join(groups)} "
                        f"(last {since})", title_justify="left")
    for column in result.columns:
        table.add_column(column, overflow="fold")
    for row in result.rows:
        table.add_row(*(Text(row.get(c, "")) for c in result.columns))  # values are not markup
    ui.console.print(table)


def tail(
    ctx: typer.Context,
    group: str = typer.Argument(..., help="Task, DAGProcessing, Scheduler, WebServer, Worker or a full name"),
    filter_pattern: str = typer.Option("", "--filter", help='a CloudWatch filter pattern: ERROR, "?ERROR ?WARN", '
                                                             "'{ $.level = \"ERROR\" }'"),
    since: str = typer.Option("10m", "--since", help="how far back to start: 30s, 15m, 1h, 2d"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing new events (polls every 2 s)"),
    json_out: bool = typer.Option(False, "--json", help="JSON (one object per line with -f)"),
) -> None:
    compile_pattern(filter_pattern)  # a bad pattern fails before anything is read
    window = parse_since(since)
    settings = ctx.obj.settings()
    name = group_names(settings.spec.name, [group])[0]
    follower = Follower(aws.client(settings, "logs"), name, _now_ms() - window, filter_pattern or None)
    events = follower.poll()
    if json_out and not follow:
        ui.print_json({"group": name, "filter": filter_pattern, "events": [_event_json(e) for e in events]})
        return
    for event in events:
        _print_event(event, json_out)
    if follow:
        for event in follower.follow():
            _print_event(event, json_out)


def _event_json(event: dict) -> dict:
    return {"logStream": event["@logStream"], "timestamp": format_timestamp(event["@timestamp"]),
            "message": event["@message"]}


def _print_event(event: dict, json_out: bool) -> None:
    if json_out:
        print(json.dumps(_event_json(event)), flush=True)
    else:
        print(f"{event['@logStream']} {format_timestamp(event['@timestamp'])} {event['@message']}", flush=True)


def _now_ms() -> int:
    return int(time.time() * 1000)


def register(app: typer.Typer, service_logs) -> None:
    """`sandbox logs SERVICE`, `sandbox logs insights QUERY`, `sandbox logs tail GROUP`."""
    logs_app = typer.Typer(cls=ServiceDefaultGroup, no_args_is_help=True,
                           help="Show a service's log (sandbox logs SERVICE [-f] [-n N]), or search "
                                "the emulated CloudWatch Logs groups.")
    logs_app.command("service", help="Show a service's log (the default: `sandbox logs SERVICE`).")(service_logs)
    logs_app.command("insights", help=INSIGHTS_HELP)(insights)
    logs_app.command("tail", help="Print a CloudWatch log group's events, optionally filtered and followed.")(tail)
    app.add_typer(logs_app, name="logs")
