"""sandbox query: the reference queries against the sandbox's Elasticsearch."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from sandbox.cli import ui
from sandbox.e2e import reference
from sandbox.e2e.es import Es
from sandbox.e2e.report import sparkline
from sandbox.errors import ConfigError
from sandbox.services import elasticsearch

INDEX_HELP = f"index (default {reference.INDEX})"


def _es(ctx: typer.Context) -> Es:
    return Es(elasticsearch.url(ctx.obj.settings()))


def _table(title: str, columns: list[str], rows: list[list]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    return table


def errors_on_endpoint(ctx: typer.Context, endpoint: str = typer.Option("/services", "--endpoint"),
                       status: int = typer.Option(500, "--status"), size: int = typer.Option(50, "--size"),
                       index: str = typer.Option(reference.INDEX, "--index", help=INDEX_HELP),
                       json_out: bool = typer.Option(False, "--json")) -> None:
    """Newest records with this endpoint and status (bool filter, sorted by timestamp desc)."""
    body = reference.errors_on_endpoint_query(endpoint, status, size)
    response = _es(ctx).search(index, body)
    hits = [h.get("_source", {}) for h in response["hits"]["hits"]]
    if json_out:
        return ui.print_json({"query": body, "total": response["hits"]["total"], "hits": hits})
    columns = ["timestamp", "method", "endpoint", "status", "ip", "event_id"]
    ui.console.print(_table(f"{endpoint} with status {status}: {response['hits']['total']['value']} in all",
                            columns, [[h.get(c, "") for c in columns] for h in hits]))


def top_endpoints(ctx: typer.Context, status: int = typer.Option(500, "--status"),
                  size: int = typer.Option(3, "--size"),
                  index: str = typer.Option(reference.INDEX, "--index", help=INDEX_HELP),
                  json_out: bool = typer.Option(False, "--json")) -> None:
    """Endpoints with the most records of this status (terms aggregation)."""
    body = reference.top_endpoints_query(status, size)
    buckets = _es(ctx).search(index, body)["aggregations"]["top_endpoints"]["buckets"]
    if json_out:
        return ui.print_json({"query": body, "buckets": buckets})
    ui.console.print(_table(f"top {size} endpoints by status {status}", ["endpoint", "count"],
                            [[b["key"], b["doc_count"]] for b in buckets]))


def per_minute(ctx: typer.Context, status: int = typer.Option(500, "--status"),
               index: str = typer.Option(reference.INDEX, "--index", help=INDEX_HELP),
               json_out: bool = typer.Option(False, "--json")) -> None:
    """Records of this status per minute (date histogram, 1m)."""
    body = reference.per_minute_query(status)
    buckets = _es(ctx).search(index, body)["aggregations"]["per_minute"]["buckets"]
    if json_out:
        return ui.print_json({"query": body, "buckets": buckets})
    rows = [[b.get("key_as_string", b["key"]), b["doc_count"]] for b in buckets]
    ui.console.print(_table(f"status {status} per minute", ["minute", "count"], rows))
    ui.console.print(sparkline([b["doc_count"] for b in buckets]))


def raw(ctx: typer.Context, index: str = typer.Argument(...), body_file: Path = typer.Argument(...)) -> None:
    """Run any search body from a JSON file; prints the response as JSON."""
    try:
        body = json.loads(body_file.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {body_file}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{body_file} is not valid JSON: {exc}") from None
    ui.print_json(_es(ctx).search(index, body))


def register(app: typer.Typer) -> None:
    query_app = typer.Typer(help="Run the reference queries against Elasticsearch.", no_args_is_help=True)
    query_app.command("errors-on-endpoint")(errors_on_endpoint)
    query_app.command("top-endpoints")(top_endpoints)
    query_app.command("per-minute")(per_minute)
    query_app.command("raw")(raw)
    app.add_typer(query_app, name="query")
