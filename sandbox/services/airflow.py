"""Airflow 2.9.2: its processes, environment variables, health probe and URLs (native runtime)."""

from __future__ import annotations

import base64
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from sandbox.mwaa.logs import log_group
from sandbox.mwaa.airflow_config import MWAA_FORCED, derive, mwaa_variables
from sandbox.probes import HttpJsonProbe
from sandbox.proc import Command
from sandbox.environment.state import StateDir
from sandbox.mwaa import celery
from sandbox.services import aws, containers, dagsync, elasticsearch, kafka, postgres, workers
from sandbox.services import connections as seeded
from sandbox.services.base import Endpoint, Port, ProcessSpec
from sandbox.settings import Settings

NAME = "airflow"
PORT = Port("airflow_port", 8080)  # the web server's
ADMIN_USER = "admin"
COMPONENTS = ("scheduler", "dag-processor", "triggerer", "webserver")
HEALTH_KEYS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
# Sandbox defaults a user may still override through AirflowConfigurationOptions.
SANDBOX_DEFAULTS = {
    "webserver.workers": "2",  # gunicorn workers: MWAA's web servers are separate hosts
    "scheduler.dag_dir_list_interval": "10",  # new DAG files show up quickly
    "logging.colored_console_log": "False",  # logs go to files and CloudWatch, not a terminal
}


def url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.airflow_port}"


def endpoint(settings: Settings) -> Endpoint:
    return Endpoint(NAME, url(settings), f"web UI and REST API /api/v1 (user {ADMIN_USER})")


@dataclass(frozen=True)
class Addresses:
    """How Airflow reaches the other services: the host's ports natively, service names (and
    the broker's fixed address) on the compose network."""

    db_url: str
    kafka_bootstrap: str
    es_host: str
    es_port: int
    aws_url: str


def host_addresses(settings: Settings) -> Addresses:
    return Addresses(postgres.sqlalchemy_url(settings), kafka.bootstrap_servers(settings),
                     settings.host, settings.elasticsearch_port, aws.url(settings))


@dataclass(frozen=True)
class Placement:
    """Where Airflow's files live, what its web server binds, and its Addresses."""

    airflow_home: str
    reach: Addresses
    bind_host: str
    web_port: int


def native_placement(settings: Settings, state: StateDir) -> Placement:
    return Placement(str(state.airflow_home), host_addresses(settings), settings.host, settings.airflow_port)


def container_placement(settings: Settings) -> Placement:
    """On the compose network: the other services by their names, the broker at its fixed address."""
    reach = Addresses(
        f"postgresql+psycopg2://{postgres.DB_USER}@{postgres.NAME}:{postgres.PORT.container}/{postgres.DB_NAME}",
        kafka.container_bootstrap(settings), elasticsearch.NAME, elasticsearch.PORT.container,
        f"http://{aws.NAME}:{aws.PORT.container}")
    return Placement(containers.AIRFLOW_HOME, reach, "0.0.0.0", PORT.container)


def container_url() -> str:
    """The web server as the DAGs in containers reach it."""
    return f"http://airflow-webserver:{PORT.container}"


def _owned_options(settings: Settings, state: StateDir, where: Placement) -> dict[str, str]:
    """What the sandbox itself must decide: paths, ports, keys, auth."""
    return {
        "database.sql_alchemy_conn": where.reach.db_url,
        "core.dags_folder": f"{where.airflow_home}/dags",
        "core.plugins_folder": f"{where.airflow_home}/plugins",
        "logging.base_log_folder": f"{where.airflow_home}/logs",
        "webserver.web_server_host": where.bind_host,
        "webserver.web_server_port": str(where.web_port),
        "webserver.base_url": url(settings),
        "webserver.secret_key": state.stored_secret("webserver-secret",
                                                    lambda: base64.b64encode(os.urandom(24)).decode()),
        "core.fernet_key": state.stored_secret("fernet-key",
                                               lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()),
        "api.auth_backends": "airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session",
        "triggerer.default_capacity": "100",
        **task_log_options(settings),
        **celery.options(settings.spec.name, where.reach.aws_url, where.reach.db_url, settings.aws_region),
    }


def task_log_options(settings: Settings) -> dict[str, str]:
    """Task logs through the amazon provider's CloudWatch handler, into airflow-<Name>-Task, as
    MWAA does (so the UI and REST API read them back from CloudWatch)."""
    task_logs = settings.spec.logging.get("TaskLogs")
    if task_logs is None or not task_logs.enabled:
        return {"logging.remote_logging": "False"}
    group_arn = (f"arn:aws:logs:{settings.aws_region}:{aws.ACCOUNT_ID}:log-group:"
                 f"{log_group(settings.spec.name, 'Task')}")
    return {"logging.remote_logging": "True", "logging.remote_log_conn_id": "aws_default",
            "logging.remote_base_log_folder": f"cloudwatch://{group_arn}",
            "logging.logging_level": task_logs.level}


def config_layers(settings: Settings, state: StateDir,
                  where: Placement | None = None) -> tuple[dict, dict, dict]:
    """MWAA's order: (defaults the user may override, AirflowConfigurationOptions, fixed values).
    A startup script's exports go between the first two, as on MWAA."""
    derived = derive(settings.spec)
    where = where or native_placement(settings, state)
    user = {k: v for k, v in settings.spec.airflow_configuration_options.items() if k not in derived.ignored}
    fixed = {**{k: derived.options[k] for k in (*MWAA_FORCED, "core.executor")},
             **_owned_options(settings, state, where)}
    overridable = {**SANDBOX_DEFAULTS, **celery.DEFAULTS, **{k: v for k, v in derived.options.items() if k not in user and k not in fixed}}
    return overridable, user, fixed


def config_options(settings: Settings, state: StateDir) -> dict[str, str]:
    """Every Airflow option the sandbox sets, merged."""
    overridable, user, fixed = config_layers(settings, state)
    return {**overridable, **user, **fixed}


def _as_env(options: dict[str, str]) -> dict[str, str]:
    env = {}
    for key, value in options.items():
        section, option = key.split(".", 1)
        env[f"AIRFLOW__{section.upper()}__{option.upper()}"] = value
    return env


def environment(settings: Settings, state: StateDir, venv: Path,
                extra: dict[str, str] | None = None) -> dict[str, str]:
    """The full environment of every native Airflow process: ours minus Airflow/AWS/venv
    variables, plus the sandbox's (see `airflow_variables`)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "AWS_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env.update(airflow_variables(settings, state, native_placement(settings, state), extra))
    return env


def airflow_variables(settings: Settings, state: StateDir, where: Placement,
                      extra: dict[str, str] | None = None) -> dict[str, str]:
    """What the sandbox sets for Airflow on either runtime. `extra`: what the startup script
    exported (protected variables already removed); MWAA's layering decides what wins."""
    overridable, user, fixed = config_layers(settings, state, where)
    env = _as_env(overridable)
    env.update(extra or {})
    env.update(_as_env(user))
    env["AIRFLOW_HOME"] = where.airflow_home
    env[celery.QUEUE_URL_VAR] = celery.queue_url(where.reach.aws_url, aws.ACCOUNT_ID, settings.spec.name)
    env.update(mwaa_variables(settings.spec))
    env.update(aws.client_env(settings, where.reach.aws_url))
    env.update(connections(settings, where.reach))
    env.update(_as_env(fixed))
    return env


def connections(settings: Settings, reach: Addresses | None = None) -> dict[str, str]:
    """kafka_default, elasticsearch_default and aws_default as AIRFLOW_CONN_* variables: always
    the current addresses, no database write. DAGs read endpoints from these, never from hosts in code."""
    reach = reach or host_addresses(settings)
    return seeded.as_variables({
        seeded.AWS_CONN_ID: seeded.aws(reach.aws_url, settings.aws_region),
        seeded.KAFKA_CONN_ID: seeded.kafka(reach.kafka_bootstrap),
        seeded.ELASTICSEARCH_CONN_ID: seeded.elasticsearch(reach.es_host, reach.es_port)})


def airflow_command(venv: Path, env: dict[str, str], *args: str, timeout: float | None = None) -> Command:
    return Command.of(venv / "bin" / "airflow", *args, env=env, timeout=timeout)


# `airflow dag-processor` dies at start on an empty dags folder unless multiprocessing.connection
# is imported first (apache/airflow#36885); run the same entry point with that import done.
_DAG_PROCESSOR_SHIM = ("import multiprocessing.connection, sys; from airflow.__main__ import main; "
                       "sys.argv[0] = 'airflow'; sys.exit(main())")


def component_of(name: str) -> str:
    """airflow-scheduler-2 -> scheduler, airflow-worker-1 -> worker, airflow-webserver -> webserver."""
    if name.startswith("airflow-scheduler"):
        return "scheduler"
    return "worker" if workers.is_worker(name) else name.removeprefix("airflow-")


def component_argv(name: str) -> list[str]:
    """One process's command line, its program named as in the environment's bin folder
    (the native venv's, or PATH in the compose runtime's image)."""
    component = component_of(name)
    if component == "worker":
        return workers.argv(name)
    if component == "dag-processor":
        return ["python", "-c", _DAG_PROCESSOR_SHIM, component]
    # Task logs are read from the shared local folder: no log server (it binds 0.0.0.0).
    extra = ["--skip-serve-logs"] if component in ("scheduler", "triggerer") else []
    return ["airflow", component, *extra]


def component_command(venv: Path, env: dict[str, str], name: str, cwd: Path | None = None) -> Command:
    program, *args = component_argv(name)
    return Command.of(venv / "bin" / program, *args, env=env, cwd=cwd)


def install_config_modules(state: StateDir) -> Path:
    """The modules Airflow's settings name (Celery's config, the hostname callable) into
    $AIRFLOW_HOME/config, which Airflow puts on sys.path."""
    folder = state.airflow_home / "config"
    folder.mkdir(parents=True, exist_ok=True)
    for source in celery.CONFIG_FILES:
        (folder / source.name).write_bytes(source.read_bytes())
    return folder


def _healthy(body: dict) -> tuple[bool, str]:
    states = {key: (body.get(key) or {}).get("status", "missing") for key in HEALTH_KEYS}
    waiting = [f"{k} {v}" for k, v in states.items() if v != "healthy"]
    return not waiting, ", ".join(waiting) or "all healthy"


def health_probe(settings: Settings) -> HttpJsonProbe:
    return HttpJsonProbe(f"{url(settings)}/health", _healthy)


def process_names(settings: Settings) -> list[str]:
    """One process per component; as many schedulers as mwaa.yaml's Schedulers (HA, like MWAA)."""
    schedulers = ["airflow-scheduler"] + [f"airflow-scheduler-{n}" for n in range(2, settings.spec.schedulers + 1)]
    others = [f"airflow-{c}" for c in COMPONENTS if c not in ("scheduler", "webserver")]
    return schedulers + others + workers.names(settings) + ["airflow-webserver"]


def processes(settings: Settings, state: StateDir, venv: Path, env: dict[str, str],
              names: list[str] | None = None) -> list[ProcessSpec]:
    """How each process starts: the environment's (process_names) or the ones named (e.g. a
    worker autoscaling adds)."""
    health = health_probe(settings)
    specs = []
    hybrid = settings.spec.env_class.hybrid
    for name in names or process_names(settings):
        if workers.is_worker(name) or (hybrid and name == "airflow-scheduler"):
            # mw1.micro: the scheduler shares its worker's container, so its scratch space too
            space = workers.names(settings)[0] if hybrid else name
            cmd = component_command(venv, {**env, **workers.scratch_env(state.root, space)}, name,
                                    cwd=workers.scratch(state.root, space))
            probe = workers.probe(state.log_file(name)) if workers.is_worker(name) else health
        else:
            cmd, probe = component_command(venv, env, name), health
        specs.append(ProcessSpec(name, cmd, probe, (name,), stop_grace=30.0))
    return specs


# -- the compose services -------------------------------------------------------------------------
_JOB_TYPES = {"scheduler": "SchedulerJob", "dag-processor": "DagProcessorJob", "triggerer": "TriggererJob"}
# A component is healthy while its job row in the metadata DB has a fresh heartbeat from this
# container; cheaper than `airflow jobs check`, which imports all of Airflow every few seconds.
_JOB_CHECK = ("import os, socket, sys, psycopg2; "
              "c = psycopg2.connect(os.environ['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'].replace('+psycopg2', ''), "
              "connect_timeout=3); "
              "cur = c.cursor(); cur.execute(\"select 1 from job where job_type = %s and hostname = %s "
              "and state = 'running' and latest_heartbeat > now() - interval '60 seconds'\", "
              "(sys.argv[1], socket.getfqdn())); sys.exit(0 if cur.fetchone() else 1)")
INFRA = (postgres.NAME, kafka.NAME, elasticsearch.NAME, aws.NAME)  # what every component waits for


def compose_names(settings: Settings) -> list[str]:
    """One container per process, but mw1.micro's worker lives in the scheduler's container."""
    hybrid = settings.spec.env_class.hybrid
    return [n for n in process_names(settings) if not (hybrid and workers.is_worker(n))]


def compose_services(inputs: containers.RenderInputs) -> dict[str, dict]:
    services = {"airflow-init": _compose_init(inputs)}
    for name in compose_names(inputs.settings):
        services[name] = _compose_component(inputs, name)
    started = workers.names(inputs.settings)
    for name in workers.all_names(inputs.settings)[len(started):]:
        # autoscaling starts these by name; the profile keeps any other `compose up` off them
        services[name] = {**_compose_component(inputs, name), "profiles": [workers.AUTOSCALING_PROFILE]}
    if inputs.settings.spec.env_class.hybrid:
        _make_hybrid(services["airflow-scheduler"], workers.names(inputs.settings)[0])
    return services


def _make_hybrid(service: dict, worker: str) -> None:
    """MWAA's mw1.micro container: the scheduler and a Celery worker side by side; when either
    exits the container stops (and is replaced), as MWAA's hybrid container is."""
    logs = containers.COMPONENT_LOGS
    run = lambda name: f'{shlex.join(component_argv(name))} > >(tee -a {logs}/{name}.log) 2>&1 &'  # noqa: E731
    script = (f"{run(worker)} {run('airflow-scheduler')} "
              'trap \'kill -TERM $(jobs -p) 2>/dev/null\' TERM; wait -n; code=$?; '
              "kill -TERM $(jobs -p) 2>/dev/null; wait; exit $code")
    service["command"] = ["bash", "-c", script]
    job, ready = service["healthcheck"]["test"], f"{logs}/{worker}.log"
    service["healthcheck"]["test"] = ["CMD-SHELL", f"{shlex.join(job[1:])} && grep -qF '{workers.READY}' {ready}"]


def _compose_base(inputs: containers.RenderInputs) -> dict:
    home = containers.AIRFLOW_HOME
    volumes = [f"dags:{home}/dags:ro", f"airflow-logs:{home}/logs"]
    if inputs.config_dir:
        volumes.append(f"{inputs.config_dir}:{home}/config:ro")
    if inputs.plugins_dir:
        volumes.append(f"{inputs.plugins_dir}:{home}/plugins:ro")
    return {"image": inputs.images.airflow, "environment": {**inputs.airflow_env, **inputs.extra_env},
            "volumes": volumes}


def users_create_args(password: str) -> list[str]:
    """`airflow users create` for the admin; `--password=VALUE`, as a generated password may
    start with `-`, which argparse takes for an option after a separate `--password`."""
    return ["users", "create", "--role", "Admin", "--username", ADMIN_USER, f"--password={password}",
            "--email", "admin@example.com", "--firstname", "MWAA", "--lastname", "Sandbox"]


def _compose_init(inputs: containers.RenderInputs) -> dict:
    """Migrate the database and add the admin user, then exit (the components wait for it)."""
    script = (f"airflow db migrate && {{ airflow users list -o plain | grep -qw {ADMIN_USER} || "
              f"airflow {shlex.join(users_create_args('PASSWORD'))}; }}").replace(
                  "--password=PASSWORD", '--password="$SANDBOX_ADMIN_PASSWORD"')
    service = _compose_base(inputs)
    service["environment"] = {**service["environment"], "SANDBOX_ADMIN_PASSWORD": inputs.admin_password}
    service.update(command=["bash", "-c", script], restart="no",
                   depends_on={postgres.NAME: {"condition": "service_healthy"}})
    return service


def _compose_component(inputs: containers.RenderInputs, name: str) -> dict:
    component = component_of(name)
    service = _compose_base(inputs)
    # exec: the component stays PID 1 and gets Docker's SIGTERM; tee keeps `docker logs` too
    log = f"{containers.COMPONENT_LOGS}/{name}.log"
    service["command"] = ["bash", "-c", f'exec "$@" > >(tee -a {log}) 2>&1', "bash", *component_argv(name)]
    service["volumes"] = [*service["volumes"], f"component-logs:{containers.COMPONENT_LOGS}"]
    needs = {"airflow-init": {"condition": "service_completed_successfully"},
             dagsync.NAME: {"condition": "service_healthy"}}
    needs.update({svc: {"condition": "service_healthy"} for svc in INFRA})
    service["depends_on"] = needs
    if component == "worker":
        service["hostname"] = name  # the task's hostname names its worker, as natively
        check = ["CMD", "grep", "-qF", workers.READY, log]
    elif component == "webserver":
        service["ports"] = containers.published(inputs.settings, PORT)
        check = ["CMD", "python", "-c", containers.HTTP_CHECK, f"http://127.0.0.1:{PORT.container}/health"]
    else:
        check = ["CMD", "python", "-c", _JOB_CHECK, _JOB_TYPES[component]]
    service["healthcheck"] = containers.health(check, interval="5s", start_period="30s")
    return service
