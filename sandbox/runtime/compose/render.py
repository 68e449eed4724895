"""The compose file, rendered by a pure function from the settings and what `up` prepared.

Everything a container needs is decided here (images, commands, healthchecks, ports on
127.0.0.1, volumes); the runtime only writes the result and calls `docker compose`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from sandbox.services import airflow as airflow_service
from sandbox.services import postgres
from sandbox.services.airflow import Addresses, Placement
from sandbox.settings import Settings, as_env

AIRFLOW_HOME = "/opt/airflow"
NETWORK = "sandbox"
# Ports inside the containers; the host ports are settings.
PORTS = {"postgres": 5432, "kafka": 9092, "elasticsearch": 9200, "aws": 4566, "airflow": 8080}
INFRA = ("postgres", "kafka", "elasticsearch", "aws")
VOLUMES = ("postgres-data", "kafka-data", "elasticsearch-data", "dags", "airflow-logs", "component-logs")
# Each Airflow component's output is also written here, for the log shipper (as natively).
COMPONENT_LOGS = "/opt/airflow/component-logs"
# Registry images (the default); --offline-images builds every one of them locally instead.
KAFKA_IMAGE_HOME = "/opt/kafka"
_JOB_TYPES = {"scheduler": "SchedulerJob", "dag-processor": "DagProcessorJob", "triggerer": "TriggererJob"}
# A component is healthy while its job row in the metadata DB has a fresh heartbeat from this
# container; cheaper than `airflow jobs check`, which imports all of Airflow every few seconds.
_JOB_CHECK = ("import os, socket, sys, psycopg2; "
              "c = psycopg2.connect(os.environ['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'].replace('+psycopg2', ''), "
              "connect_timeout=3); "
              "cur = c.cursor(); cur.execute(\"select 1 from job where job_type = %s and hostname = %s "
              "and state = 'running' and latest_heartbeat > now() - interval '60 seconds'\", "
              "(sys.argv[1], socket.getfqdn())); sys.exit(0 if cur.fetchone() else 1)")
_HTTP_CHECK = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)"
_KAFKA_CHECK = ("import sys; from kafka import KafkaConsumer; "
                "KafkaConsumer(bootstrap_servers=sys.argv[1], request_timeout_ms=3000).topics()")


@dataclass(frozen=True)
class RenderInputs:
    settings: Settings
    images: Any  # images.Images: names of the images, and whether they were built offline
    project_name: str
    airflow_env: Mapping[str, str]  # Airflow's variables as seen from a container
    admin_password: str
    plugins_dir: str | None = None  # host folder mounted as Airflow's plugins folder
    extra_env: Mapping[str, str] = field(default_factory=dict)


def kafka_address(settings: Settings) -> str:
    """The broker's fixed address on the compose network: it advertises this literal address,
    which containers reach directly and the host reaches over the bridge."""
    return str(ipaddress.ip_network(settings.compose_subnet)[10])


def placement(settings: Settings) -> Placement:
    reach = Addresses(f"postgresql+psycopg2://{postgres.DB_USER}@postgres:{PORTS['postgres']}/{postgres.DB_NAME}",
                      f"{kafka_address(settings)}:{PORTS['kafka']}", "elasticsearch", PORTS["elasticsearch"],
                      f"http://aws:{PORTS['aws']}")
    return Placement(AIRFLOW_HOME, reach, "0.0.0.0", PORTS["airflow"])


def airflow_services(settings: Settings) -> list[str]:
    return airflow_service.process_names(settings)


def render(inputs: RenderInputs) -> dict:
    s = inputs.settings
    services = {"postgres": _postgres(inputs), "kafka": _kafka(inputs), "elasticsearch": _elasticsearch(inputs),
                "aws": _aws(inputs), "dagsync": _dagsync(inputs), "airflow-init": _airflow_init(inputs)}
    for name in airflow_services(s):
        services[name] = _airflow_component(inputs, name)
    services["logship"] = _logship(inputs)
    for service in services.values():
        service.setdefault("networks", [NETWORK])
        service["ulimits"] = {"nofile": {"soft": s.ulimit_nofile, "hard": s.ulimit_nofile}}
        service.setdefault("restart", "unless-stopped")
        # tini as PID 1: moto and noida-db ignore SIGTERM as PID 1 (the kernel drops signals a
        # PID 1 has no handler for), which made every `down` wait out its timeout
        service["init"] = True
    return {
        "name": inputs.project_name,
        "services": services,
        "networks": {NETWORK: {"ipam": {"config": [{"subnet": s.compose_subnet}]}}},
        "volumes": {v: {} for v in VOLUMES},
    }


def to_yaml(doc: dict) -> str:
    """YAML with every `$` doubled: compose would otherwise interpolate values from our environment."""
    return yaml.safe_dump(_escape(doc), sort_keys=False, width=120)


def _escape(value):
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def _health(test: list[str], *, interval: str = "3s", retries: int = 100, start_period: str = "5s") -> dict:
    return {"test": test, "interval": interval, "timeout": "10s", "retries": retries, "start_period": start_period}


def _published(settings: Settings, setting: str, service: str) -> list[str]:
    return [f"{settings.host}:{getattr(settings, setting)}:{PORTS[service]}"]


def _postgres(inputs: RenderInputs) -> dict:
    return {
        "image": inputs.images.postgres,
        "environment": {"POSTGRES_USER": postgres.DB_USER, "POSTGRES_DB": postgres.DB_NAME,
                        # only 127.0.0.1 and the compose network can reach it, as natively
                        "POSTGRES_HOST_AUTH_METHOD": "trust"},
        "ports": _published(inputs.settings, "postgres_port", "postgres"),
        "volumes": ["postgres-data:/var/lib/postgresql/data"],
        "healthcheck": _health(["CMD", "pg_isready", "-h", "127.0.0.1", "-U", postgres.DB_USER,
                                "-d", postgres.DB_NAME]),
    }


def _kafka(inputs: RenderInputs) -> dict:
    s, address = inputs.settings, kafka_address(inputs.settings)
    service = {"ports": _published(s, "kafka_port", "kafka"),
               "networks": {NETWORK: {"ipv4_address": address}}}
    bootstrap = f"{address}:{PORTS['kafka']}"
    if inputs.images.offline:
        service.update(image=inputs.images.kafka, volumes=["kafka-data:/data"],
                       command=["noida-db", "start", "--data-dir", "/data", "--host", address, "--only", "kafka",
                                "--kafka-port", str(PORTS["kafka"])],
                       healthcheck=_health(["CMD", "python", "-c", _KAFKA_CHECK, bootstrap]))
        return service
    # root: a fresh named volume is root-owned, and the image's own user could not write its logs
    service.update(image=inputs.images.kafka, volumes=["kafka-data:/var/lib/kafka/data"], user="0:0",
                   environment={
                       "KAFKA_NODE_ID": "1", "KAFKA_PROCESS_ROLES": "broker,controller",
                       "KAFKA_LISTENERS": f"PLAINTEXT://:{PORTS['kafka']},CONTROLLER://:9093",
                       "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{bootstrap}",
                       "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
                       "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                       "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
                       "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
                       "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
                       "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1", "KAFKA_LOG_DIRS": "/var/lib/kafka/data"},
                   healthcheck=_health(["CMD", f"{KAFKA_IMAGE_HOME}/bin/kafka-broker-api-versions.sh",
                                        "--bootstrap-server", bootstrap], interval="5s"))
    return service


def _elasticsearch(inputs: RenderInputs) -> dict:
    s = inputs.settings
    url = f"http://127.0.0.1:{PORTS['elasticsearch']}/_cluster/health"
    service = {"ports": _published(s, "elasticsearch_port", "elasticsearch"), "image": inputs.images.elasticsearch}
    if inputs.images.offline:
        service.update(volumes=["elasticsearch-data:/data"],
                       command=["noida-db", "start", "--data-dir", "/data", "--host", "0.0.0.0", "--only",
                                "elasticsearch", "--elasticsearch-port", str(PORTS["elasticsearch"])],
                       healthcheck=_health(["CMD", "python", "-c", _HTTP_CHECK, url]))
        return service
    service.update(volumes=["elasticsearch-data:/usr/share/elasticsearch/data"],
                   environment={"discovery.type": "single-node", "xpack.security.enabled": "false",
                                "ES_JAVA_OPTS": "-Xms512m -Xmx512m"},
                   healthcheck=_health(["CMD", "curl", "-fsS", url], interval="5s"))
    return service


def _aws(inputs: RenderInputs) -> dict:
    s, port = inputs.settings, PORTS["aws"]
    service = {"image": inputs.images.aws, "ports": _published(s, "aws_port", "aws")}
    if inputs.images.offline or s.aws_emulator == "moto":
        command = ["python", "-m", "moto.server", "-H", "0.0.0.0", "-p", str(port)]
        service.update(environment={"MOTO_ALLOW_NONEXISTENT_REGION": "true"},
                       healthcheck=_health(["CMD", "python", "-c", _HTTP_CHECK,
                                            f"http://127.0.0.1:{port}/moto-api/"]))
        if inputs.images.offline:
            service["command"] = command
        else:  # moto's own image: its entrypoint is the server
            service["command"] = ["-H", "0.0.0.0", "-p", str(port)]
        return service
    service.update(environment={"SERVICES": "s3,logs,secretsmanager,kms,iam,sts", "GATEWAY_LISTEN": f"0.0.0.0:{port}"},
                   healthcheck=_health(["CMD", "curl", "-fsS", f"http://127.0.0.1:{port}/_localstack/health"],
                                       interval="5s"))
    return service


def _dagsync(inputs: RenderInputs) -> dict:
    """The S3 -> dags loop, in the sidecar: the same code as the native process, pointed at the
    emulator by its service name, writing its status into the project's state folder."""
    s = inputs.settings
    status = "/project/.sandbox/dagsync.json"
    check = ("import sys; from pathlib import Path; from sandbox.delivery import s3sync; "
             "st = s3sync.read_status(Path(sys.argv[1])); sys.exit(0 if s3sync.is_live(st) and st.get('passes') else 1)")
    return {
        "image": inputs.images.tools,
        "command": ["python", "-m", "sandbox.delivery.syncd", "--project", "/project", "--container",
                    "--target", f"{AIRFLOW_HOME}/dags", "--interval", f"{s.dag_sync_interval:g}"],
        "environment": _sidecar_env(s),
        "volumes": [*_project_mounts(s), f"dags:{AIRFLOW_HOME}/dags"],
        "depends_on": {"aws": {"condition": "service_healthy"}},
        "healthcheck": _health(["CMD", "python", "-c", check, status], interval="2s"),
    }


def _sidecar_env(settings: Settings) -> dict[str, str]:
    """A sandbox helper's settings, pinned as natively, with the emulator reached by its name."""
    env = {k: v for k, v in as_env(settings).items() if k not in ("SANDBOX_MWAA_DATA_DIR", "SANDBOX_CACHE_DIR")}
    env.update({"SANDBOX_HOST": "aws", "SANDBOX_AWS_PORT": str(PORTS["aws"]), "PYTHONUNBUFFERED": "1"})
    return env


def _project_mounts(settings: Settings) -> list[str]:
    return [f"{settings.project_dir}:/project:ro", f"{settings.state_dir}:/project/.sandbox"]


def _logship(inputs: RenderInputs) -> dict:
    """Component logs -> CloudWatch, the native shipper's code: it finds each component's
    output and the per-DAG-file logs where it looks for them natively."""
    s = inputs.settings
    check = ("import json, sys, time; st = json.load(open(sys.argv[1])); "
             "sys.exit(0 if st.get('passes', 0) >= 1 and st.get('at', 0) > time.time() - 60 else 1)")
    return {
        "image": inputs.images.tools,
        "command": ["python", "-m", "sandbox.logship", "--project", "/project"],
        "environment": _sidecar_env(s),
        # Airflow's `latest` link is absolute: the logs also where Airflow wrote them
        "volumes": [*_project_mounts(s), "component-logs:/project/.sandbox/logs:ro",
                    "airflow-logs:/project/.sandbox/airflow/logs:ro", f"airflow-logs:{AIRFLOW_HOME}/logs:ro"],
        "depends_on": {"aws": {"condition": "service_healthy"}},
        "healthcheck": _health(["CMD", "python", "-c", check, "/project/.sandbox/logship.json"], interval="3s"),
    }


def _airflow_base(inputs: RenderInputs) -> dict:
    volumes = [f"dags:{AIRFLOW_HOME}/dags:ro", f"airflow-logs:{AIRFLOW_HOME}/logs"]
    if inputs.plugins_dir:
        volumes.append(f"{inputs.plugins_dir}:{AIRFLOW_HOME}/plugins:ro")
    return {"image": inputs.images.airflow, "environment": {**inputs.airflow_env, **inputs.extra_env},
            "volumes": volumes}


def _airflow_init(inputs: RenderInputs) -> dict:
    """Migrate the database and add the admin user, then exit (the components wait for it)."""
    user = airflow_service.ADMIN_USER
    script = (f"airflow db migrate && {{ airflow users list -o plain | grep -qw {user} || "
              f"airflow users create --role Admin --username {user} --password \"$SANDBOX_ADMIN_PASSWORD\" "
              "--email admin@example.com --firstname MWAA --lastname Sandbox; }")
    service = _airflow_base(inputs)
    service["environment"] = {**service["environment"], "SANDBOX_ADMIN_PASSWORD": inputs.admin_password}
    service.update(command=["bash", "-c", script], restart="no",
                   depends_on={"postgres": {"condition": "service_healthy"}})
    return service


def _airflow_component(inputs: RenderInputs, name: str) -> dict:
    component = "scheduler" if name.startswith("airflow-scheduler") else name.removeprefix("airflow-")
    service = _airflow_base(inputs)
    # exec: the component stays PID 1 and gets Docker's SIGTERM; tee keeps `docker logs` too
    log = f"{COMPONENT_LOGS}/{name}.log"
    service["command"] = ["bash", "-c", f'exec "$@" > >(tee -a {log}) 2>&1', "bash",
                          *airflow_service.component_argv(component)]
    service["volumes"] = [*service["volumes"], f"component-logs:{COMPONENT_LOGS}"]
    needs = {"airflow-init": {"condition": "service_completed_successfully"},
             "dagsync": {"condition": "service_healthy"}}
    needs.update({svc: {"condition": "service_healthy"} for svc in INFRA})
    service["depends_on"] = needs
    if component == "webserver":
        service["ports"] = _published(inputs.settings, "airflow_port", "airflow")
        check = ["CMD", "python", "-c", _HTTP_CHECK, f"http://127.0.0.1:{PORTS['airflow']}/health"]
    else:
        check = ["CMD", "python", "-c", _JOB_CHECK, _JOB_TYPES[component]]
    service["healthcheck"] = _health(check, interval="5s", start_period="30s")
    return service
