"""One error hierarchy; the CLI turns any SandboxError into one red line and an exit code."""

from __future__ import annotations


class SandboxError(Exception):
    """Base of every error a user can act on. `hint` says what to do about it."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, details: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details  # extra lines shown under the message (a log tail, ...)

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(SandboxError):
    """A setting, an option or mwaa.yaml is invalid."""

    exit_code = 2


class SpecError(ConfigError):
    """mwaa.yaml is malformed or names something MWAA does not accept."""


class ToolMissingError(SandboxError):
    """A program the sandbox needs (Python 3.11, a server binary) is not installed."""


class DataNotFoundError(SandboxError):
    """MWAA's reference data (constraints, package list) could not be found or downloaded."""


class PortInUseError(SandboxError):
    """A port the sandbox wants is held by another process."""


class EnvironmentBuildError(SandboxError):
    """Building the Airflow environment (venv, packages) failed."""


class ServiceFailedError(SandboxError):
    """A service exited or failed while starting."""


class ReadinessTimeout(SandboxError):
    """A service did not become ready in time."""


class NotRunningError(SandboxError):
    """The command needs a running sandbox and there is none."""


class NotSupportedInRuntime(SandboxError):
    """The chosen runtime cannot do this (rather than silently doing nothing)."""


class CommandFailed(SandboxError):
    """A subprocess the sandbox ran exited non-zero."""
