"""Hold the pipeline DAGs' own schedules while a proof runs, without touching the DAG files.

A proof triggers the producer and the consumer itself; a scheduled run firing in between adds
records after the truth was read, or creates the consumer group before the producer ran, and the
verdict then depends on timing instead of on the pipeline. Pausing is no answer: Airflow does not
run a paused DAG's triggered runs either. So the sandbox holds the schedule in Airflow's metadata
database, where the scheduler decides: a trigger keeps `dag.next_dagrun_create_after` NULL for the
held DAGs (the DAG processor rewrites it on every parse; the scheduler only creates a scheduled
run when it is due) and drops dataset events queued for them. Triggered runs are unaffected.
Holds carry the pid of the e2e that took them, so one left by a killed e2e is released by the next.
"""

from __future__ import annotations

import os
import time

from sandbox.errors import CommandFailed
from sandbox.services import postgres
from sandbox.settings import Settings

TABLE = "sandbox_e2e_held"
TRIGGER = "sandbox_e2e_hold"
# Each statement runs in its own transaction, and a trigger is created only when missing: one
# transaction locking `dag` and then `dataset_dag_run_queue` while the scheduler locked them in
# the other order deadlocked (measured). A lock wait is bounded and retried.
_TABLE = f"CREATE TABLE IF NOT EXISTS {TABLE} (dag_id text PRIMARY KEY, pid integer NOT NULL)"
_HOLD_DAG = f"""
CREATE OR REPLACE FUNCTION sandbox_e2e_hold_dag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM {TABLE} h WHERE h.dag_id = NEW.dag_id) THEN
    NEW.next_dagrun_create_after := NULL;
  END IF;
  RETURN NEW;
END $$"""
# Dataset-scheduled DAGs are created from this queue, not from next_dagrun_create_after.
_HOLD_DATASET = f"""
CREATE OR REPLACE FUNCTION sandbox_e2e_hold_dataset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM {TABLE} h WHERE h.dag_id = NEW.target_dag_id) THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END $$"""
_TRIGGERS = {  # table -> (function statement, trigger statement)
    "dag": (_HOLD_DAG, f"CREATE TRIGGER {TRIGGER} BEFORE INSERT OR UPDATE ON dag "
                       "FOR EACH ROW EXECUTE FUNCTION sandbox_e2e_hold_dag()"),
    "dataset_dag_run_queue": (_HOLD_DATASET, f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON dataset_dag_run_queue "
                                             "FOR EACH ROW EXECUTE FUNCTION sandbox_e2e_hold_dataset()"),
}
RETRIES = 5


def _sql(settings: Settings, statement: str) -> str:
    """One statement in its own transaction, waiting at most 5 s for a lock, retried on a lock
    timeout or a deadlock (the scheduler holds its locks for milliseconds)."""
    for attempt in range(RETRIES):
        try:
            return postgres.sql(settings, f"SET lock_timeout = '5s'; {statement}")
        except CommandFailed as exc:
            busy = "deadlock detected" in str(exc.details) or "lock timeout" in str(exc.details)
            if not busy or attempt == RETRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _exists(settings: Settings, relation: str) -> bool:
    return postgres.sql(settings, f"SELECT to_regclass('{relation}') IS NOT NULL").strip() == "t"


def _install(settings: Settings) -> None:
    _sql(settings, _TABLE)
    present = set(postgres.sql(settings, f"SELECT tgrelid::regclass::text FROM pg_trigger "
                                         f"WHERE tgname = '{TRIGGER}'").split())
    for table, (function, trigger) in _TRIGGERS.items():
        if not _exists(settings, table):
            continue  # no dataset queue in this Airflow version
        _sql(settings, function)
        if table not in present:
            _sql(settings, trigger)


def _literals(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _pids_alive(pids: list[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            os.kill(pid, 0)
            alive.add(pid)
        except ProcessLookupError:
            continue
        except PermissionError:
            alive.add(pid)
    return alive


def release_stale(settings: Settings) -> list[str]:
    """Release holds whose e2e is gone (killed mid-proof); returns the DAG ids released."""
    if not _exists(settings, TABLE):
        return []
    rows = [line.split("|") for line in postgres.sql(settings, f"SELECT dag_id, pid FROM {TABLE}").splitlines()
            if "|" in line]
    alive = _pids_alive([int(pid) for _, pid in rows])
    stale = [dag_id for dag_id, pid in rows if int(pid) not in alive]
    if stale:
        _sql(settings, f"DELETE FROM {TABLE} WHERE dag_id IN ({_literals(stale)})")
    return stale


def hold(settings: Settings, dag_ids: list[str]) -> None:
    """From now on, none of `dag_ids` gets a scheduled or dataset-triggered run."""
    _install(settings)
    _sql(settings, f"INSERT INTO {TABLE} (dag_id, pid) SELECT unnest(ARRAY[{_literals(dag_ids)}]), {os.getpid()} "
                   "ON CONFLICT (dag_id) DO UPDATE SET pid = EXCLUDED.pid")
    _sql(settings, f"UPDATE dag SET next_dagrun_create_after = NULL WHERE dag_id IN ({_literals(dag_ids)})")


def release(settings: Settings, dag_ids: list[str]) -> None:
    """The schedules apply again from the DAG processor's next parse of their files."""
    _sql(settings, f"DELETE FROM {TABLE} WHERE dag_id IN ({_literals(dag_ids)})")


def held(settings: Settings) -> list[str]:
    if not _exists(settings, TABLE):
        return []
    return sorted(postgres.sql(settings, f"SELECT dag_id FROM {TABLE}").split())
