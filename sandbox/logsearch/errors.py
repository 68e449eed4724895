"""Errors of the log search: invalid input (exit 2), each naming the part at fault."""

from __future__ import annotations

from sandbox.errors import ConfigError

INSIGHTS_COMMANDS = ("fields", "filter", "parse", "stats", "sort", "limit", "display")


class LogSearchError(ConfigError):
    """A query, filter pattern or option of `sandbox logs insights|tail` is invalid."""


class InsightsSyntaxError(LogSearchError):
    """The Logs Insights query does not parse."""

    def __init__(self, message: str, query: str | None = None, position: int | None = None):
        where = f" at column {position + 1}" if position is not None else ""
        super().__init__(f"Logs Insights: {message}{where}",
                         hint="see the supported subset with `sandbox logs insights --help`")
        self.query = query
        self.position = position


class InsightsUnsupported(LogSearchError):
    """A valid Logs Insights construct the sandbox does not evaluate (rather than a wrong answer)."""

    def __init__(self, part: str, supported: tuple[str, ...] | list[str] = INSIGHTS_COMMANDS):
        super().__init__(f"Logs Insights: {part} is not supported by the sandbox",
                         hint=f"supported: {', '.join(supported)}")
        self.part = part


class FilterPatternError(LogSearchError):
    """A CloudWatch filter pattern that does not parse or that the sandbox does not support."""

    def __init__(self, message: str):
        super().__init__(f"filter pattern: {message}",
                         hint='supported: terms, "quoted phrases", -term, ?term ?term, '
                              '{ $.field op value } with && || ( )')
