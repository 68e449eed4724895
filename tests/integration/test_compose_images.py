"""The offline images, built for real (debootstrap base, no registry) and checked from inside:
Airflow 2.9.2 on Python 3.11 with exactly MWAA's package set, the tools image's servers, and a
PostgreSQL that initialises and accepts connections. Needs a Docker engine: without one this
fails, unless SANDBOX_SKIP_DOCKER_TESTS=1 (then it is skipped, saying why)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from sandbox.mwaa.data import CONSTRAINTS_URL, MwaaData, normalize
from sandbox.runtime.compose.images import Images, ensure_images
from sandbox.settings import load_settings

from conftest import SHARED_DATA

pytestmark = pytest.mark.integration

REQUIREMENTS = f'--constraint "{CONSTRAINTS_URL}"\nconfluent-kafka==2.4.0\n'
# Installed beside MWAA's 185 pins by the same install the native runtime runs: fluent-logger is
# one of MWAA's install specs; setuptools and wcwidth come with the specs' dependencies;
# async-timeout is redis's dependency on Python < 3.11.3 (Debian bookworm's Python is 3.11.2).
EXPECTED_EXTRAS = {"fluent-logger", "setuptools", "wcwidth", "async-timeout"}
_DISTRIBUTIONS = ("import json, importlib.metadata as m; "
                  "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")


class Progress:
    def step(self, name, message):
        print(f"{time.strftime('%H:%M:%S')} {name}: {message}", flush=True)

    def done(self, name, message):
        print(f"{time.strftime('%H:%M:%S')} {name}: done, {message}", flush=True)

    def note(self, message):
        print(f"note: {message}", flush=True)


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def require_engine() -> None:
    reason = None
    try:
        answer = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                                capture_output=True, text=True, timeout=30)
        if answer.returncode != 0:
            reason = f"no Docker engine answers `docker info`: {answer.stderr.strip()[-300:]}"
    except FileNotFoundError:
        reason = "the docker CLI is not installed"
    except subprocess.TimeoutExpired:
        reason = "`docker info` did not answer within 30 s"
    if reason is None:
        return
    if os.environ.get("SANDBOX_SKIP_DOCKER_TESTS") == "1":
        pytest.skip(f"{reason} (SANDBOX_SKIP_DOCKER_TESTS=1)")
    pytest.fail(f"{reason}; start dockerd (e.g. `nohup dockerd >/tmp/dockerd.log 2>&1 &`), or set "
                "SANDBOX_SKIP_DOCKER_TESTS=1 to skip the Docker tests on this machine", pytrace=False)


@pytest.fixture(scope="module")
def settings(module_scratch):
    project = module_scratch / "project"
    project.mkdir()
    environ = {"SANDBOX_MWAA_DATA_DIR": str(SHARED_DATA), "SANDBOX_CACHE_DIR": str(module_scratch / "cache")}
    return load_settings(project, environ=environ)


@pytest.fixture(scope="module")
def images(settings) -> Images:
    require_engine()
    started = time.monotonic()
    built_images, built = ensure_images(settings, REQUIREMENTS, offline=True, progress=Progress())
    print(f"ensure_images: built {len(built)} image(s) in {time.monotonic() - started:.1f} s: {built}")
    return built_images


@pytest.fixture
def containers():
    """Start detached containers; every one is removed at the end, pass or fail."""
    names: list[str] = []

    def start(image: str, *args: str, env: dict[str, str] | None = None) -> str:
        name = f"mwaa-sandbox-test-{uuid.uuid4().hex[:8]}"
        flags = [a for k, v in (env or {}).items() for a in ("-e", f"{k}={v}")]
        docker("run", "-d", "--name", name, *flags, image, *args)
        names.append(name)
        return name

    yield start
    for name in names:
        docker("rm", "-f", "-v", name, check=False)


def wait_for(name: str, *command: str, timeout: float = 90) -> str:
    """Run command in container `name` until it succeeds; its output."""
    deadline = time.monotonic() + timeout
    while True:
        done = docker("exec", name, *command, check=False)
        if done.returncode == 0:
            return done.stdout
        if time.monotonic() > deadline:
            logs = docker("logs", "--tail", "30", name, check=False)
            raise AssertionError(f"{' '.join(command)} never succeeded in {name}: {done.stderr.strip()}\n"
                                 f"container log:\n{logs.stdout}{logs.stderr}")
        time.sleep(1)


def distributions(image: str) -> dict[str, str]:
    raw = json.loads(docker("run", "--rm", image, "python", "-c", _DISTRIBUTIONS).stdout)
    return {normalize(name): version for name, version in raw.items()}


def test_airflow_image_runs_airflow_2_9_2_on_python_3_11_from_its_venv(images):
    script = ("airflow version; python -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'; "
              "command -v airflow; command -v python; echo $AIRFLOW_HOME; ls -d /opt/airflow/dags /opt/airflow/plugins /opt/airflow/logs")
    lines = docker("run", "--rm", images.airflow, "sh", "-c", script).stdout.split()
    assert lines[:2] == ["2.9.2", "3.11"]
    assert lines[2:5] == ["/opt/airflow/venv/bin/airflow", "/opt/airflow/venv/bin/python", "/opt/airflow"]
    assert lines[5:] == ["/opt/airflow/dags", "/opt/airflow/logs", "/opt/airflow/plugins"]


def test_airflow_image_holds_exactly_mwaas_package_set(images):
    pins = MwaaData(SHARED_DATA).image_pins()
    mwaa_image = next(b.tag for b in images.builds if b.name == "airflow-mwaa")
    installed = distributions(mwaa_image)
    assert {n: installed.get(n) for n in pins} == pins
    assert set(installed) - set(pins) <= EXPECTED_EXTRAS, sorted(set(installed) - set(pins))
    project = distributions(images.airflow)  # the project image: requirements.txt on top
    assert project.pop("confluent-kafka") == "2.4.0"
    assert project == installed


def test_tools_image_serves_kafka_elasticsearch_and_aws(images, containers):
    assert images.kafka == images.elasticsearch == images.aws == images.tools
    noida = containers(images.tools, "noida-db", "start", "--data-dir", "/data", "--host", "127.0.0.1",
                       "--only", "kafka,elasticsearch", "--kafka-port", "9092", "--elasticsearch-port", "9200")
    moto = containers(images.tools, "python", "-m", "moto.server", "-H", "0.0.0.0", "-p", "4566")
    assert docker("exec", noida, "readlink", "-f", "/usr/local/bin/noida-db").stdout.strip().endswith("noida_db/noida-db")
    health = wait_for(noida, "python", "-c", "import urllib.request as u; "
                      "print(u.urlopen('http://127.0.0.1:9200/_cluster/health', timeout=3).read().decode())")
    assert json.loads(health)["status"] in ("green", "yellow")
    wait_for(noida, "python", "-c", "from kafka import KafkaConsumer; "
             "KafkaConsumer(bootstrap_servers='127.0.0.1:9092', request_timeout_ms=3000).topics()")
    wait_for(moto, "python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:4566/moto-api/', timeout=3)")
    assert "sandbox" in docker("run", "--rm", images.tools, "sandbox", "--help").stdout.lower()


def test_postgres_image_initialises_and_accepts_connections(images, containers):
    name = containers(images.postgres, env={"POSTGRES_USER": "airflow", "POSTGRES_DB": "airflow",
                                            "POSTGRES_HOST_AUTH_METHOD": "trust"})
    wait_for(name, "pg_isready", "-h", "127.0.0.1", "-U", "airflow", "-d", "airflow")
    address = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()
    query = "select current_user || ' ' || current_database() || ' ' || current_setting('listen_addresses')"
    answer = docker("run", "--rm", images.postgres, "psql", "-h", address, "-U", "airflow", "-d", "airflow",
                    "-Atc", query).stdout.strip()
    assert answer == "airflow airflow *"
    owner = docker("exec", name, "stat", "-c", "%U", "/var/lib/postgresql/data/PG_VERSION").stdout.strip()
    assert owner == "postgres"
    assert docker("exec", name, "ps", "-o", "user=", "-p", "1").stdout.strip() == "postgres"


def test_warm_ensure_builds_nothing_and_is_quick(images, settings):
    started = time.monotonic()
    again, built = ensure_images(settings, REQUIREMENTS, offline=True, progress=Progress())
    seconds = time.monotonic() - started
    print(f"warm ensure_images: {seconds:.2f} s")
    assert built == [] and again == images
    assert seconds < 10
