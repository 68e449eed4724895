"""Wires each subcommand module into the app."""

from __future__ import annotations

import typer

from sandbox.cli import (config, deploy, down, e2e, logs, logsearch, parse, query, requirements, startup_script,
                         status, up)


def register(app: typer.Typer) -> None:
    app.command("up", help="Start the sandbox (Airflow 2.9.2, PostgreSQL, Kafka, Elasticsearch, AWS).")(up.up)
    app.command("status", help="Show each service's state, URL and pid.")(status.status)
    app.command("down", help="Stop every service; data is kept.")(down.down)
    app.command("reset", help="Stop every service and wipe the project's .sandbox/ state.")(down.reset)
    logsearch.register(app, logs.logs)
    app.command("deploy", help="Upload the project to the emulated bucket where mwaa.yaml's S3 paths say "
                               "(what CI's `aws s3 sync` does); --watch redeploys on change.")(deploy.deploy)
    app.command("e2e", help="Prove produce -> Kafka -> consume -> Elasticsearch loses and duplicates nothing.")(e2e.e2e)
    app.command("parse", help="Parse the DAGs as MWAA 2.9.2 does and list import errors (exit 1 if any).")(parse.parse)
    startup_script.register(app)
    query.register(app)
    requirements.register(app)
    config_app = typer.Typer(help="Inspect the resolved settings.", no_args_is_help=True)
    config_app.command("show", help="Print every setting and where its value came from.")(config.show)
    app.add_typer(config_app, name="config")
