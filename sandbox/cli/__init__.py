"""The `sandbox` command. The only layer that prints or exits; one handler shows every error."""

from __future__ import annotations

import sys
import traceback

import click
import typer

from sandbox.cli import commands, ui
from sandbox.cli.context import CliContext
from sandbox.errors import SandboxError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Run an AWS MWAA 2.9.2 environment locally.")


@app.callback()
def _global(
    ctx: typer.Context,
    project: str = typer.Option(".", "--project", "-p", help="the project folder (dags/, mwaa.yaml)"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
):
    ctx.obj = CliContext.create(project, debug)


commands.register(app)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        code = app(args=argv, prog_name="sandbox", standalone_mode=False)
    except SandboxError as exc:
        if debug:
            traceback.print_exc()
        ui.error(exc.one_line(), exc.details)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        ui.error("interrupted; everything this command started was stopped")
        sys.exit(130)
    except click.ClickException as exc:
        ui.error(exc.format_message() + (f" (see `sandbox --help`)" if isinstance(exc, click.UsageError) else ""))
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
