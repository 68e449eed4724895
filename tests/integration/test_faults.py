"""Bad input and faults on the real CLI: one clear error line, the right exit code, nothing left."""

from __future__ import annotations

import json
import socket
import subprocess

import psutil
import pytest

pytestmark = pytest.mark.integration


def error_lines(done) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("Error:")]


def test_port_in_use_names_port_service_holder_and_setting(sandbox_factory):
    box = sandbox_factory()
    port = box.ports["airflow_port"]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        done = box.run("up", "--runtime", "native")
    assert done.returncode == 1
    [line] = error_lines(done)
    assert f"port {port} for airflow is already in use" in line
    assert "SANDBOX_AIRFLOW_PORT" in line
    assert "Traceback" not in done.stderr
    assert not (box.project / ".sandbox" / "processes.json").exists()  # nothing was started


def test_service_exiting_during_start_shows_its_log_and_stops_the_rest(sandbox_factory):
    box = sandbox_factory()
    pgdata = box.project / ".sandbox" / "data" / "postgres"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("9\n")  # a cluster PostgreSQL 16 refuses to start
    done = box.run("up", "--runtime", "native")
    assert done.returncode == 1
    [line] = error_lines(done)
    assert "postgres exited while starting" in line and "sandbox logs postgres" in line
    assert "postgres" in done.stderr.split(line, 1)[1]  # the log tail follows the error line
    registry = json.loads((box.project / ".sandbox" / "processes.json").read_text())
    assert registry["processes"] == {}  # everything this run started was stopped
    for conn in psutil.net_connections(kind="tcp"):
        assert conn.laddr.port not in (box.ports["kafka_port"], box.ports["aws_port"]) or \
            conn.status != psutil.CONN_LISTEN


def test_python_311_not_found(sandbox_factory, tmp_path):
    box = sandbox_factory(extra_env={"SANDBOX_PYTHON": "python3.11-missing",
                                     "SANDBOX_CACHE_DIR": str(tmp_path / "cache")})
    done = box.run("up", "--runtime", "native")
    assert done.returncode == 1
    [line] = error_lines(done)
    assert "Python 3.11 not found" in line and "SANDBOX_PYTHON" in line


def test_constraint_data_missing_offline(sandbox_factory, tmp_path):
    box = sandbox_factory(extra_env={"SANDBOX_CACHE_DIR": str(tmp_path / "empty-cache"),
                                     "SANDBOX_OFFLINE": "1"})
    del box.env["SANDBOX_MWAA_DATA_DIR"]
    done = box.run("up", "--runtime", "native")
    assert done.returncode == 1
    [line] = error_lines(done)
    assert "MWAA 2.9.2 data not found" in line and str(tmp_path / "empty-cache") in line
    assert "SANDBOX_MWAA_DATA_DIR" in line


def test_data_dir_without_the_files_names_what_is_missing(sandbox_factory, tmp_path):
    (tmp_path / "nodata").mkdir()
    box = sandbox_factory(extra_env={"SANDBOX_MWAA_DATA_DIR": str(tmp_path / "nodata")})
    done = box.run("up", "--runtime", "native")
    assert done.returncode == 1
    [line] = error_lines(done)
    assert "constraints-2.9.2-py3.11.txt" in line and str(tmp_path / "nodata") in line


def test_invalid_spec_starts_nothing(sandbox_factory):
    box = sandbox_factory(spec="Name: x\nEnvironmentClass: mw1.tiny\n")
    done = box.run("up", "--runtime", "native")
    assert done.returncode == 2
    [line] = error_lines(done)
    assert line == ("Error: mwaa.yaml: EnvironmentClass: 'mw1.tiny' is not one of mw1.micro, "
                    "mw1.small, mw1.medium, mw1.large, mw1.xlarge, mw1.2xlarge")
    assert not (box.project / ".sandbox").exists()


def test_unsupported_airflow_version(sandbox_factory):
    box = sandbox_factory(spec='AirflowVersion: "2.10.1"\n')
    done = box.run("up")
    assert done.returncode == 2
    [line] = error_lines(done)
    assert "AirflowVersion: '2.10.1'" in line and "2.9.2" in line


def test_down_with_nothing_running(sandbox_factory):
    box = sandbox_factory()
    done = box.run("down")
    assert done.returncode == 0
    assert "Nothing is running" in done.stdout


def test_stale_pid_file_is_detected_and_never_kills_a_reused_pid(sandbox_factory):
    box = sandbox_factory()
    bystander = subprocess.Popen(["sleep", "120"])
    try:
        state = box.project / ".sandbox"
        state.mkdir()
        # The pid is live but belongs to another process: its start time does not match.
        record = {"pid": bystander.pid, "start_ticks": 1, "argv0": "postgres", "log": "", "extra": {}}
        (state / "processes.json").write_text(json.dumps({"processes": {"postgres": record}}))
        status = json.loads(box.run("status", "--json", check=True).stdout)
        assert {s["service"]: s["state"] for s in status["services"]}["postgres"] == "stopped"
        done = box.run("down")
        assert done.returncode == 0 and "Nothing is running" in done.stdout
        assert bystander.poll() is None  # the unrelated process survived
    finally:
        bystander.kill()
        bystander.wait()
