"""The compose file is a pure function of the settings and what `up` prepared; compose itself
validates it (`docker compose config` needs no engine)."""

from __future__ import annotations

import os

import pytest
import yaml

from sandbox.proc import Command, runner
from sandbox.runtime.compose import render
from sandbox.services import airflow
from sandbox.runtime.compose.engine import compose_binary
from sandbox.runtime.compose.images import Images
from sandbox.settings import load_settings

OFFLINE = Images(airflow="mwaa-sandbox/airflow-project:abc", tools="mwaa-sandbox/tools:def",
                 postgres="mwaa-sandbox/postgres:123", kafka="mwaa-sandbox/tools:def",
                 elasticsearch="mwaa-sandbox/tools:def", aws="mwaa-sandbox/tools:def", offline=True)
REGISTRY = Images(airflow="mwaa-sandbox/airflow:abc", tools="mwaa-sandbox/tools:def", postgres="postgres:16-bookworm",
                  kafka="apache/kafka:3.7.1", elasticsearch="docker.elastic.co/elasticsearch/elasticsearch:8.13.4",
                  aws="motoserver/moto:5.0.28", offline=False)


def inputs(project, images=OFFLINE, environ=None, **extra):
    settings = load_settings(project, environ=environ or {})
    env = {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "WITH_DOLLAR": "pa$$word"}
    return render.RenderInputs(settings, images, "mwaa-sandbox-test-1234", env, "secret", "/p/plugins", **extra)


@pytest.mark.parametrize("images", [OFFLINE, REGISTRY], ids=["offline", "registry"])
def test_every_service_is_there_with_a_healthcheck_and_the_fixed_limits(project, images):
    doc = render.render(inputs(project, images))
    assert doc["name"] == "mwaa-sandbox-test-1234"
    assert list(doc["services"]) == ["postgres", "kafka", "elasticsearch", "aws", "dagsync", "airflow-init",
                                     "airflow-scheduler", "airflow-scheduler-2", "airflow-dag-processor",
                                     "airflow-triggerer", "airflow-worker-1", "airflow-webserver",
                                     *(f"airflow-worker-{n}" for n in range(2, 11)), "logship"]
    # MaxWorkers' 10 by default: the workers beyond MinWorkers start only when autoscaling adds them
    assert doc["services"]["airflow-worker-2"]["profiles"] == ["autoscaling"]
    assert "profiles" not in doc["services"]["airflow-worker-1"]
    for name, service in doc["services"].items():
        assert name == "airflow-init" or service["healthcheck"]["test"][0] == "CMD", name
        assert service["ulimits"] == {"nofile": {"soft": 20000, "hard": 20000}}
        assert service["init"] is True, name
    assert doc["services"]["airflow-init"]["restart"] == "no"
    assert set(doc["volumes"]) == {"postgres-data", "kafka-data", "elasticsearch-data", "dags", "airflow-logs",
                                   "component-logs"}


def test_ports_are_settings_published_on_loopback_only(project):
    environ = {"SANDBOX_AIRFLOW_PORT": "18080", "SANDBOX_KAFKA_PORT": "19092", "SANDBOX_POSTGRES_PORT": "15432",
               "SANDBOX_ELASTICSEARCH_PORT": "19200", "SANDBOX_AWS_PORT": "14566"}
    services = render.render(inputs(project, environ=environ))["services"]
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert published == {"postgres": ["127.0.0.1:15432:5432"], "kafka": ["127.0.0.1:19092:9092"],
                         "elasticsearch": ["127.0.0.1:19200:9200"], "aws": ["127.0.0.1:14566:4566"],
                         "airflow-webserver": ["127.0.0.1:18080:8080"]}


def test_the_broker_has_a_fixed_address_it_advertises(project):
    environ = {"SANDBOX_COMPOSE_SUBNET": "10.77.0.0/24"}
    doc = render.render(inputs(project, environ=environ))
    kafka = doc["services"]["kafka"]
    assert kafka["networks"] == {"sandbox": {"ipv4_address": "10.77.0.10"}}
    assert kafka["command"][kafka["command"].index("--host") + 1] == "10.77.0.10"
    assert doc["networks"]["sandbox"]["ipam"]["config"] == [{"subnet": "10.77.0.0/24"}]
    registry = render.render(inputs(project, REGISTRY, environ))["services"]["kafka"]
    assert registry["environment"]["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://10.77.0.10:9092"


def test_airflow_depends_on_init_sync_and_healthy_infrastructure(project):
    services = render.render(inputs(project))["services"]
    scheduler = services["airflow-scheduler"]
    assert scheduler["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}
    assert {k for k, v in scheduler["depends_on"].items() if v["condition"] == "service_healthy"} == {
        "dagsync", "postgres", "kafka", "elasticsearch", "aws"}
    assert scheduler["command"][-3:] == ["airflow", "scheduler", "--skip-serve-logs"]
    assert scheduler["command"][:2] == ["bash", "-c"] and "tee -a /opt/airflow/component-logs/airflow-scheduler.log" \
        in scheduler["command"][2]  # exec keeps the component PID 1; its output also goes to a file
    assert "component-logs:/opt/airflow/component-logs" in scheduler["volumes"]
    assert "SchedulerJob" in scheduler["healthcheck"]["test"]
    assert services["airflow-dag-processor"]["command"][4:6] == ["python", "-c"]
    assert "DagProcessorJob" in services["airflow-dag-processor"]["healthcheck"]["test"]
    assert "/p/plugins:/opt/airflow/plugins:ro" in scheduler["volumes"]
    assert "dags:/opt/airflow/dags:ro" in scheduler["volumes"]
    assert services["airflow-init"]["environment"]["SANDBOX_ADMIN_PASSWORD"] == "secret"
    assert "SANDBOX_ADMIN_PASSWORD" not in scheduler["environment"]


def test_the_sync_sidecar_reaches_the_emulator_by_name(project):
    sidecar = render.render(inputs(project))["services"]["dagsync"]
    assert sidecar["environment"]["SANDBOX_HOST"] == "aws" and sidecar["environment"]["SANDBOX_AWS_PORT"] == "4566"
    assert "--container" in sidecar["command"]
    assert f"{project.resolve()}/.sandbox:/project/.sandbox" in sidecar["volumes"]


def test_the_log_shipper_reads_where_the_components_write(project):
    shipper = render.render(inputs(project))["services"]["logship"]
    assert shipper["command"] == ["python", "-m", "sandbox.logship", "--project", "/project"]
    assert "component-logs:/project/.sandbox/logs:ro" in shipper["volumes"]
    assert "airflow-logs:/opt/airflow/logs:ro" in shipper["volumes"]
    assert shipper["environment"]["SANDBOX_HOST"] == "aws"


def test_placement_sends_airflow_to_service_names(project):
    placement = airflow.container_placement(load_settings(project))
    assert placement.reach.db_url == "postgresql+psycopg2://airflow@postgres:5432/airflow"
    assert placement.reach.kafka_bootstrap == "172.28.83.10:9092"
    assert (placement.reach.es_host, placement.reach.aws_url) == ("elasticsearch", "http://aws:4566")


def test_registry_images_use_their_own_entrypoints(project):
    services = render.render(inputs(project, REGISTRY))["services"]
    assert services["elasticsearch"]["environment"]["xpack.security.enabled"] == "false"
    assert "command" not in services["elasticsearch"]
    assert services["aws"]["command"] == ["-H", "0.0.0.0", "-p", "4566"]
    localstack = render.render(inputs(project, REGISTRY, {"SANDBOX_AWS_EMULATOR": "localstack"}))["services"]["aws"]
    assert "localstack" in localstack["healthcheck"]["test"][-1] and "command" not in localstack


def test_dollars_are_escaped_for_compose(project):
    text = render.to_yaml(render.render(inputs(project)))
    assert "pa$$$$word" in text  # one literal `$` becomes `$$`
    assert '"$$SANDBOX_ADMIN_PASSWORD"' in text


def compose_config(tmp_path, text: str):
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"}  # proves no engine is needed
    return runner.run(Command.of(compose_binary(), "-f", path, "config", "--quiet", env=env, timeout=60))


@pytest.mark.parametrize("images", [OFFLINE, REGISTRY], ids=["offline", "registry"])
def test_docker_compose_accepts_the_rendered_file(project, tmp_path, images):
    result = compose_config(tmp_path, render.to_yaml(render.render(inputs(project, images))))
    assert result.ok, result.stderr


@pytest.mark.parametrize("breakage,words", [
    (lambda d: d["services"]["airflow-scheduler"]["depends_on"].update(nowhere={"condition": "service_healthy"}),
     "nowhere"),
    (lambda d: d["services"]["postgres"].update(ports=["127.0.0.1:notaport:5432"]), "port"),
    (lambda d: d["services"]["kafka"]["healthcheck"].update(interval="soon"), "soon"),
])
def test_docker_compose_rejects_broken_files(project, tmp_path, breakage, words):
    doc = render.render(inputs(project))
    breakage(doc)
    result = compose_config(tmp_path, yaml.safe_dump(doc))
    assert not result.ok
    assert words in result.stderr


def micro(project):
    (project / "mwaa.yaml").write_text("EnvironmentClass: mw1.micro\n")
    return render.render(inputs(project))


def test_mw1_micro_runs_its_worker_inside_the_scheduler_container(project, tmp_path):
    doc = micro(project)
    airflow_services = [n for n in doc["services"] if n.startswith("airflow-")]
    assert airflow_services == ["airflow-init", "airflow-scheduler", "airflow-dag-processor",
                                "airflow-triggerer", "airflow-webserver"]
    scheduler = doc["services"]["airflow-scheduler"]
    assert "airflow celery worker" in scheduler["command"][2] and "airflow scheduler" in scheduler["command"][2]
    test = scheduler["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL" and "SchedulerJob" in test[1] and "airflow-worker-1.log" in test[1]
    assert compose_config(tmp_path, render.to_yaml(doc)).ok


def run_hybrid(project, tmp_path, worker_exit: str, scheduler_exit: str, signal_after: float | None = None):
    """The hybrid container's script with `airflow` stubbed: each stub logs, then exits or sleeps."""
    import signal
    import subprocess
    import time

    script = micro(project)["services"]["airflow-scheduler"]["command"][2]
    script = script.replace(airflow.containers.COMPONENT_LOGS, str(tmp_path))
    stub = tmp_path / "bin" / "airflow"
    stub.parent.mkdir()
    stub.write_text('#!/bin/bash\ntrap \'echo "$1 got TERM"; exit 143\' TERM\necho "started $1"\n'
                    f'if [ "$1" = celery ]; then {worker_exit}; else {scheduler_exit}; fi\n'
                    'sleep 60 & wait\n')
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{stub.parent}:{os.environ['PATH']}"}
    proc = subprocess.Popen(["bash", "-c", script], env=env, start_new_session=True)
    if signal_after is not None:
        logs = [tmp_path / "airflow-worker-1.log", tmp_path / "airflow-scheduler.log"]
        deadline = time.monotonic() + 15  # both stubs running (and trapping TERM), however busy the machine
        while time.monotonic() < deadline and not all(p.exists() and "started" in p.read_text() for p in logs):
            time.sleep(0.05)
        time.sleep(signal_after)
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20), (tmp_path / "airflow-worker-1.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_hybrid_container_stops_when_its_worker_dies(project, tmp_path):
    code, worker_log = run_hybrid(project, tmp_path, worker_exit="exit 3", scheduler_exit="true")
    assert code == 3 and "started celery" in worker_log


def test_the_hybrid_container_passes_dockers_stop_to_both(project, tmp_path):
    code, worker_log = run_hybrid(project, tmp_path, "true", "true", signal_after=0.5)
    assert code != 0 and "celery got TERM" in worker_log
    assert "scheduler got TERM" in (tmp_path / "airflow-scheduler.log").read_text()


def test_the_init_script_passes_the_password_attached_to_its_option(project):
    script = render.render(inputs(project))["services"]["airflow-init"]["command"][2]
    assert '--password="$SANDBOX_ADMIN_PASSWORD"' in script and "--password=" in script
