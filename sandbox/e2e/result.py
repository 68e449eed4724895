"""What an e2e run found: plain data, rendered by the CLI and the report writers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Check:
    name: str  # e.g. "no_loss", "no_duplicates", "dead_letter", "query_errors_on_endpoint"
    passed: bool
    expected: str = ""
    actual: str = ""
    detail: str = ""  # one line, e.g. "lost 15000 of 15000"; for a skipped check, why
    skipped: bool = False  # the expectation could not be computed: neither passed nor failed

    @property
    def status(self) -> str:
        return "SKIPPED" if self.skipped else "OK" if self.passed else "FAIL"


def skipped(name: str, why: str) -> Check:
    return Check(name, False, "", "", why, skipped=True)


@dataclass(frozen=True)
class MinuteCount:
    minute: str  # ISO-8601 UTC start of the minute, e.g. "2026-11-22T12:01:00Z"
    expected: int  # status-500 records in that minute according to the Kafka truth
    actual: int  # what Elasticsearch's date_histogram answered


@dataclass
class E2EResult:
    producer: str
    consumer: str
    topic: str
    index: str
    started_at: str  # ISO-8601 UTC
    produced: int = 0  # records this run added to the topic (valid ones for the reference pipeline)
    indexed: int = 0  # of those, how many reached the index
    lost: int = 0
    duplicates: int = 0
    dead_letter: int = 0  # dead-letter documents added in this run
    malformed: int = 0  # malformed records this run added to the topic
    seconds: float = 0.0
    producer_seconds: float = 0.0  # the producer run's task time (Airflow's task durations)
    consumer_seconds: float = 0.0
    outputs: dict = field(default_factory=dict)  # what the producer and consumer tasks returned
    checks: list[Check] = field(default_factory=list)
    per_minute: list[MinuteCount] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    identity: str = ""  # how records were matched to documents
    record_format: str = ""
    examples: dict = field(default_factory=dict)  # {"lost": [...], "duplicates": [...], ...}
    runs: list[dict] = field(default_factory=list)  # every DAG run during the proof
    phases: dict = field(default_factory=dict)  # seconds per phase: parse, produce, consume, read truth, verify
    scenarios: list[dict] = field(default_factory=list)  # --scenarios: one summary per failure tried
    guarantees: list[dict] = field(default_factory=list)  # {guarantee, verdict, scenarios}

    @property
    def passed(self) -> bool:
        decided = [c for c in self.checks if not c.skipped]
        return bool(decided) and all(c.passed for c in decided)

    def to_json(self) -> dict:
        payload = asdict(self)
        payload["checks"] = {c.name: None if c.skipped else c.passed for c in self.checks}
        payload["check_details"] = [{**asdict(c), "status": c.status} for c in self.checks]
        payload["passed"] = self.passed
        return payload
