"""The `sandbox` command. The only layer that prints or exits; one handler shows every error."""

from __future__ import annotations

import os
import sys
import traceback

import typer
from typer._click.exceptions import NoArgsIsHelpError  # Typer bundles its own click

from sandbox.cli import commands, ui
from sandbox.cli.context import CliContext
from sandbox.errors import SandboxError
from sandbox.probes import bypass_proxy_for_loopback

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
    bypass_proxy_for_loopback(os.environ)
    try:
        code = app(args=argv, prog_name="sandbox", standalone_mode=False)
        if code == 130:  # Typer turns Ctrl-C into 130 before we see it
            raise KeyboardInterrupt
    except SandboxError as exc:
        if debug:
            traceback.print_exc()
        ui.error(exc.one_line(), exc.details)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        ui.error("interrupted; everything this command started was stopped")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(0)
    except typer.TyperException as exc:
        exit_code = getattr(exc, "exit_code", 2)
        hint = " (see `sandbox --help`)" if exit_code == 2 else ""
        ui.error(exc.format_message() + hint)
        sys.exit(exit_code)
    except Exception as exc:  # a bug: still one line unless --debug asks for the traceback
        if debug:
            traceback.print_exc()
        ui.error(f"unexpected {type(exc).__name__}: {exc}",
                 None if debug else "run again with --debug for the traceback, and please report it")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
