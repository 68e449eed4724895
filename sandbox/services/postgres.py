"""PostgreSQL 16 (from the pgserver wheel's binaries): Airflow's metadata database, like MWAA's."""

from __future__ import annotations

import os
from pathlib import Path

from sandbox.errors import ToolMissingError
from sandbox.probes import CallableProbe
from sandbox.proc import Command, runner
from sandbox.services import containers
from sandbox.services.base import Endpoint, Port, ProcessSpec
from sandbox.settings import Settings

NAME = "postgres"
PORT = Port("postgres_port", 5432)
DB_USER = "airflow"
DB_NAME = "airflow"
# PostgreSQL refuses to run as root; as root we run it as this system user.
SYSTEM_USER = "mwaa-sandbox"


def install_dir() -> Path:
    """The pgserver wheel ships a full PostgreSQL build under pginstall/. We only use the binaries:
    importing the package itself would start its own server machinery."""
    import importlib.util

    found = importlib.util.find_spec("pgserver")
    if found is None or not found.submodule_search_locations:
        raise ToolMissingError("the pgserver package (PostgreSQL binaries) is not installed",
                               hint="reinstall mwaa-sandbox: `make up` or pip install mwaa-sandbox")
    return Path(list(found.submodule_search_locations)[0]) / "pginstall"


def binary(name: str) -> Path:
    return install_dir() / "bin" / name


def lib_env() -> dict[str, str]:
    """The wheel's binaries carry a build-time RUNPATH; point them at the bundled libraries."""
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = str(install_dir() / "lib")
    return env


def run_as() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def data_dir(settings: Settings) -> Path:
    return settings.state_dir / "data" / "postgres"


def sqlalchemy_url(settings: Settings) -> str:
    return f"postgresql+psycopg2://{DB_USER}@{settings.host}:{settings.postgres_port}/{DB_NAME}"


def endpoint(settings: Settings) -> Endpoint:
    return Endpoint(NAME, f"postgresql://{DB_USER}@{settings.host}:{settings.postgres_port}/{DB_NAME}",
                    "Airflow metadata database")


def initdb_command(settings: Settings) -> Command:
    return Command.of(binary("initdb"), "-D", data_dir(settings), "-U", DB_USER,
                      "--auth=trust", "--encoding=UTF8", "--locale=C",
                      env=lib_env(), user=run_as(), timeout=120)


def createdb_command(settings: Settings) -> Command:
    return Command.of(binary("createdb"), "-h", settings.host, "-p", settings.postgres_port,
                      "-U", DB_USER, DB_NAME, env=lib_env(), user=run_as(), timeout=30)


def _psql(settings: Settings, database: str, statement: str, timeout: float) -> Command:
    return Command.of(binary("psql"), "-h", settings.host, "-p", settings.postgres_port, "-U", DB_USER,
                      "-d", database, "-v", "ON_ERROR_STOP=1", "-tAc", statement,
                      env=lib_env(), user=run_as(), timeout=timeout)


def sql(settings: Settings, statement: str, timeout: float = 30) -> str:
    """Run SQL on Airflow's metadata database (either runtime: the port is published) and return
    psql's unaligned output."""
    return runner.run(_psql(settings, DB_NAME, statement, timeout)).check("psql").stdout


def select_one(settings: Settings) -> None:
    result = runner.run(_psql(settings, "postgres", "select 1", 5))
    if not result.ok or result.stdout.strip() != "1":
        raise RuntimeError((result.stderr or result.stdout).strip().splitlines()[-1:] or "no answer")


def process(settings: Settings) -> ProcessSpec:
    folder = data_dir(settings)
    cmd = Command.of(
        binary("postgres"), "-D", folder, "-p", settings.postgres_port,
        "-c", f"listen_addresses={settings.host}", "-c", f"unix_socket_directories={folder}",
        "-c", "max_connections=200", "-c", "synchronous_commit=off",  # faster commits; a crash loses at most ~0.6 s, never corrupts
        env=lib_env(), user=run_as(),
    )
    probe = CallableProbe(f"PostgreSQL select 1 on {settings.host}:{settings.postgres_port}",
                          lambda: select_one(settings))
    return ProcessSpec(NAME, cmd, probe, (NAME,))


def compose_services(inputs: containers.RenderInputs) -> dict[str, dict]:
    return {NAME: {
        "image": inputs.images.postgres,
        "environment": {"POSTGRES_USER": DB_USER, "POSTGRES_DB": DB_NAME,
                        # only 127.0.0.1 and the compose network can reach it, as natively
                        "POSTGRES_HOST_AUTH_METHOD": "trust"},
        "ports": containers.published(inputs.settings, PORT),
        "volumes": ["postgres-data:/var/lib/postgresql/data"],
        "healthcheck": containers.health(["CMD", "pg_isready", "-h", "127.0.0.1", "-U", DB_USER, "-d", DB_NAME]),
    }}
