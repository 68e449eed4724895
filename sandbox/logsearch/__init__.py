"""Searching the emulated CloudWatch Logs groups.

moto accepts StartQuery but applies only `fields`, `sort` and `limit` (it silently ignores
`filter`, `stats` and `parse`), and understands only plain terms in filter patterns. So the
sandbox reads the raw events with FilterLogEvents and evaluates both languages itself:

- insights_parser / insights_eval: the common subset of CloudWatch Logs Insights
- filter_pattern: CloudWatch filter patterns (terms, ?OR terms, JSON `{ $.x = ... }`)
- fetch: reading (and following) events from the emulator with boto3

Anything outside the subset raises an error naming it, never a silently wrong answer.
"""

from sandbox.logsearch.errors import InsightsSyntaxError, InsightsUnsupported, LogSearchError

__all__ = ["InsightsSyntaxError", "InsightsUnsupported", "LogSearchError"]
