"""The schedule hold's SQL: one statement per transaction, triggers created only when missing,
a deadlock retried (the real thing runs against Airflow's database in test_e2e_pipelines)."""

from __future__ import annotations

import pytest

from sandbox.e2e import hold
from sandbox.errors import CommandFailed


class FakeDb:
    def __init__(self, triggers=(), tables=("dag", "dataset_dag_run_queue", hold.TABLE), deadlocks=0):
        self.triggers, self.tables, self.deadlocks = set(triggers), set(tables), deadlocks
        self.statements: list[str] = []

    def sql(self, settings, statement, timeout=30):
        if "to_regclass" in statement:
            return "t" if statement.split("'")[1] in self.tables else "f"
        if "FROM pg_trigger" in statement:
            return "\n".join(sorted(self.triggers))
        if self.deadlocks and "CREATE TRIGGER" in statement:
            self.deadlocks -= 1
            raise CommandFailed("psql failed with exit code 1", details="ERROR:  deadlock detected")
        self.statements.append(statement)
        return ""


@pytest.fixture
def db(monkeypatch):
    fake = FakeDb()
    monkeypatch.setattr(hold.postgres, "sql", fake.sql)
    monkeypatch.setattr(hold.time, "sleep", lambda s: None)
    return fake


def test_each_trigger_is_created_in_its_own_transaction_with_a_lock_timeout(db):
    hold.hold(None, ["producer", "it's"])
    triggers = [s for s in db.statements if "CREATE TRIGGER" in s]
    assert len(triggers) == 2 and all(s.startswith("SET lock_timeout") for s in triggers)
    assert not any("ON dag " in s and "dataset_dag_run_queue" in s for s in db.statements)
    assert "'it''s'" in db.statements[-1]  # quoted


def test_present_triggers_are_left_alone_and_a_missing_dataset_queue_skipped(db):
    db.triggers = {"dag"}
    db.tables.discard("dataset_dag_run_queue")
    hold.hold(None, ["p"])
    assert not any("CREATE TRIGGER" in s for s in db.statements)


def test_a_deadlock_is_retried_and_a_persistent_one_raised(db):
    db.deadlocks = 1
    hold.hold(None, ["p"])
    assert sum("CREATE TRIGGER" in s for s in db.statements) == 2
    db.triggers, db.deadlocks, db.statements = set(), 99, []
    with pytest.raises(CommandFailed):
        hold.hold(None, ["p"])
