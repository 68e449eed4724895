"""Twenty fixed events over 15 minutes: the answers in these tests are worked out by hand from
this table (E1..E20), never with the code under test.

 id  time      group      stream                  message
 E1  12:00:05  Scheduler  scheduler-1             INFO - Starting the scheduler
 E2  12:03:10  Scheduler  scheduler-1             INFO - Sending TaskInstanceKey(...) to executor
 E3  12:06:00  Scheduler  scheduler-1             WARNING - Executor reports task instance finished
 E4  12:11:30  Scheduler  scheduler-1             INFO - Marking run <DagRun etl> successful
 E5  12:14:59  Scheduler  scheduler-1             ERROR - Scheduler heartbeat got an exception
 E6  12:01:00  Task       .../extract/attempt=1   {taskinstance.py:1} INFO - Executing extract
 E7  12:02:00  Task       .../extract/attempt=1   {taskinstance.py:2} ERROR - Failed to import module foo
 E8  12:07:45  Task       .../extract/attempt=1   {standard_task_runner.py:107} ERROR - Task failed ...
 E9  12:04:00  Task       .../load/attempt=1      INFO - Loading 120 rows
 E10 12:09:00  Task       .../load/attempt=1      ERROR - Connection refused
 E11 12:12:00  Task       .../load/attempt=1      INFO - Done. Returned value was: None
 E12 12:00:30  Worker     worker-a   {"level":"INFO","latency":120,"path":"/api/v1/dags","user":{"name":"alice"}}
 E13 12:02:30  Worker     worker-a   {"level":"ERROR","latency":450,"path":"/api/v1/dags","user":{"name":"bob"}}
 E14 12:05:00  Worker     worker-a   {"level":"WARN","latency":300,"path":"/health"}
 E15 12:08:20  Worker     worker-a   {"level":"ERROR","latency":80,"path":"/health","user":{"name":"alice"}}
 E16 12:10:00  Worker     worker-b   {"level":"INFO","latency":50,"path":"/api/v1/dags","user":{"name":"carol"}}
 E17 12:13:00  Worker     worker-b   {"level":"INFO","latency":200,"path":"/login"}
 E18 12:14:00  Worker     worker-b   {"level":"ERROR","latency":1000,"path":"/login","user":{"name":"bob"}}
 E19 12:05:30  WebServer  webserver  127.0.0.1 - - "GET /home HTTP/1.1" 200 512
 E20 12:09:30  WebServer  webserver  127.0.0.1 - - "POST /login HTTP/1.1" 302 0
"""

from __future__ import annotations

from datetime import datetime, timezone

BASE_MS = int(datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc).timestamp() * 1000)
EXTRACT = "dag_id=etl/run_id=manual__1/task_id=extract/attempt=1.log"
LOAD = "dag_id=etl/run_id=manual__1/task_id=load/attempt=1.log"

ROWS = [
    ("E1", "00:05", "Scheduler", "scheduler-1", "INFO - Starting the scheduler"),
    ("E2", "03:10", "Scheduler", "scheduler-1",
     "INFO - Sending TaskInstanceKey(dag_id='etl', task_id='load') to executor"),
    ("E3", "06:00", "Scheduler", "scheduler-1", "WARNING - Executor reports task instance finished"),
    ("E4", "11:30", "Scheduler", "scheduler-1", "INFO - Marking run <DagRun etl> successful"),
    ("E5", "14:59", "Scheduler", "scheduler-1", "ERROR - Scheduler heartbeat got an exception"),
    ("E6", "01:00", "Task", EXTRACT, "[2026-11-22, 12:01:00 UTC] {taskinstance.py:1} INFO - Executing extract"),
    ("E7", "02:00", "Task", EXTRACT,
     "[2026-11-22, 12:02:00 UTC] {taskinstance.py:2} ERROR - Failed to import module foo"),
    ("E8", "07:45", "Task", EXTRACT,
     "[2026-11-22, 12:07:45 UTC] {standard_task_runner.py:107} ERROR - Task failed with exception"),
    ("E9", "04:00", "Task", LOAD, "INFO - Loading 120 rows"),
    ("E10", "09:00", "Task", LOAD, "ERROR - Connection refused"),
    ("E11", "12:00", "Task", LOAD, "INFO - Done. Returned value was: None"),
    ("E12", "00:30", "Worker", "worker-a",
     '{"level":"INFO","latency":120,"path":"/api/v1/dags","user":{"name":"alice"}}'),
    ("E13", "02:30", "Worker", "worker-a",
     '{"level":"ERROR","latency":450,"path":"/api/v1/dags","user":{"name":"bob"}}'),
    ("E14", "05:00", "Worker", "worker-a", '{"level":"WARN","latency":300,"path":"/health"}'),
    ("E15", "08:20", "Worker", "worker-a",
     '{"level":"ERROR","latency":80,"path":"/health","user":{"name":"alice"}}'),
    ("E16", "10:00", "Worker", "worker-b",
     '{"level":"INFO","latency":50,"path":"/api/v1/dags","user":{"name":"carol"}}'),
    ("E17", "13:00", "Worker", "worker-b", '{"level":"INFO","latency":200,"path":"/login"}'),
    ("E18", "14:00", "Worker", "worker-b",
     '{"level":"ERROR","latency":1000,"path":"/login","user":{"name":"bob"}}'),
    ("E19", "05:30", "WebServer", "webserver", '127.0.0.1 - - "GET /home HTTP/1.1" 200 512'),
    ("E20", "09:30", "WebServer", "webserver", '127.0.0.1 - - "POST /login HTTP/1.1" 302 0'),
]
MESSAGES = {row[0]: row[4] for row in ROWS}


def at(mm_ss: str) -> int:
    minutes, seconds = mm_ss.split(":")
    return BASE_MS + (int(minutes) * 60 + int(seconds)) * 1000


def make_events(env: str = "test") -> list[dict]:
    return [{"@timestamp": at(t), "@message": msg, "@logStream": stream, "@log": f"airflow-{env}-{group}"}
            for _, t, group, stream, msg in ROWS]
