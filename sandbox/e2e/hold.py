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

from sandbox.services import postgres
from sandbox.settings import Settings

TABLE = "sandbox_e2e_held"
_SETUP = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (dag_id text PRIMARY KEY, pid integer NOT NULL);
CREATE OR REPLACE FUNCTION sandbox_e2e_hold_dag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM {TABLE} h WHERE h.dag_id = NEW.dag_id) THEN
    NEW.next_dagrun_create_after := NULL;
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS sandbox_e2e_hold ON dag;
CREATE TRIGGER sandbox_e2e_hold BEFORE INSERT OR UPDATE ON dag
  FOR EACH ROW EXECUTE FUNCTION sandbox_e2e_hold_dag();
"""
# Dataset-scheduled DAGs are created from this queue, not from next_dagrun_create_after.
_DATASETS = f"""
CREATE OR REPLACE FUNCTION sandbox_e2e_hold_dataset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM {TABLE} h WHERE h.dag_id = NEW.target_dag_id) THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS sandbox_e2e_hold ON dataset_dag_run_queue;
CREATE TRIGGER sandbox_e2e_hold BEFORE INSERT ON dataset_dag_run_queue
  FOR EACH ROW EXECUTE FUNCTION sandbox_e2e_hold_dataset();
"""


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
    if not postgres.sql(settings, f"SELECT to_regclass('{TABLE}') IS NOT NULL").strip() == "t":
        return []
    rows = [line.split("|") for line in postgres.sql(settings, f"SELECT dag_id, pid FROM {TABLE}").splitlines()
            if "|" in line]
    alive = _pids_alive([int(pid) for _, pid in rows])
    stale = [dag_id for dag_id, pid in rows if int(pid) not in alive]
    if stale:
        postgres.sql(settings, f"DELETE FROM {TABLE} WHERE dag_id IN ({_literals(stale)})")
    return stale


def hold(settings: Settings, dag_ids: list[str]) -> None:
    """From now on, none of `dag_ids` gets a scheduled or dataset-triggered run."""
    datasets = postgres.sql(settings, "SELECT to_regclass('dataset_dag_run_queue') IS NOT NULL").strip() == "t"
    statement = _SETUP + (_DATASETS if datasets else "") + f"""
INSERT INTO {TABLE} (dag_id, pid) SELECT unnest(ARRAY[{_literals(dag_ids)}]), {os.getpid()}
  ON CONFLICT (dag_id) DO UPDATE SET pid = EXCLUDED.pid;
UPDATE dag SET next_dagrun_create_after = NULL WHERE dag_id IN ({_literals(dag_ids)});
"""
    postgres.sql(settings, statement)


def release(settings: Settings, dag_ids: list[str]) -> None:
    """The schedules apply again from the DAG processor's next parse of their files."""
    postgres.sql(settings, f"DELETE FROM {TABLE} WHERE dag_id IN ({_literals(dag_ids)})")


def held(settings: Settings) -> list[str]:
    if postgres.sql(settings, f"SELECT to_regclass('{TABLE}') IS NOT NULL").strip() != "t":
        return []
    return sorted(postgres.sql(settings, f"SELECT dag_id FROM {TABLE}").split())
