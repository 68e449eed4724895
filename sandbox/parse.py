"""`sandbox parse`: the project's DAGs parsed in MWAA 2.9.2's Airflow environment.

Uses the environment the project's requirements give (EnvironmentBuilder reuses the running
sandbox's when the requirements match, and builds a separate cached one when they differ),
runs parse_helper.py in it with MWAA's settings, and reports what the Airflow UI and the
DAGProcessing log group would show.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

from sandbox.errors import CommandFailed, ConfigError
from sandbox.mwaa import dag_errors
from sandbox.mwaa.airflow_config import derive, mwaa_variables
from sandbox.mwaa.data import locate
from sandbox.mwaa.dag_errors import FileParse, ParseReport
from sandbox.proc import Command, Runner
from sandbox.proc import runner as default_runner
from sandbox.settings import Settings

HELPER = Path(__file__).with_name("parse_helper.py")
# Variables of ours that must not reach Airflow's parse (Airflow reads AIRFLOW__*, boto3 AWS_*).
_DROPPED_PREFIXES = ("AIRFLOW", "AWS_", "VIRTUAL_ENV", "PYTHONPATH")


def dags_folder(settings: Settings) -> Path:
    folder = settings.project_dir / settings.spec.dag_s3_path
    if not folder.is_dir():
        raise ConfigError(f"no DAG folder at {folder}",
                          hint="create it, or set DagS3Path in mwaa.yaml to the folder holding the DAGs")
    return folder


def airflow_environment(settings: Settings, progress: Callable[[str], None]):
    """(the AirflowEnvironment for the project's requirements, a sentence saying which one)."""
    from sandbox.environment.airflow_env import EnvironmentBuilder
    from sandbox.environment.project import project_requirements

    data = locate(settings.mwaa_data_dir, settings.cache_dir, settings.offline)
    builder = EnvironmentBuilder(data=data, requirements=project_requirements(settings),
                                 python=settings.python, cache_dir=settings.cache_dir,
                                 offline=settings.offline, progress=progress)
    running = settings.state_dir / "airflow-env"
    same = running.exists() and running.resolve() == builder.env_dir().resolve()
    cached = builder.is_built()
    env = builder.ensure()
    if same:
        which = "the running sandbox's Airflow environment"
    elif running.exists():
        which = "a scratch Airflow environment (the requirements differ from the running sandbox's)"
    else:
        which = "the Airflow environment for these requirements"
    return env, f"{which} ({'cached' if cached else 'built now'}: {env.path})"


def _plugins_folder(settings: Settings, scratch: Path) -> Path:
    """plugins.zip unpacked as MWAA does into the plugins folder (empty when there is none)."""
    folder = scratch / "plugins"
    folder.mkdir()
    key = settings.spec.plugins_s3_path  # MWAA loads no plugins.zip the spec does not name
    archive = settings.project_dir / key if key else None
    if archive is not None and archive.is_file() and zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(folder)
    return folder


def parse_environment(settings: Settings, venv: Path, dags: Path, scratch: Path,
                      extra: dict[str, str] | None = None) -> dict[str, str]:
    """MWAA's variables and derived Airflow settings, with a throw-away home and SQLite
    (parsing needs no metadata database) and the project's DAG folder."""
    from sandbox.services import airflow as airflow_service
    from sandbox.services import aws

    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES)}
    env.update(extra or {})  # exported by the startup script, as on MWAA
    env.update(mwaa_variables(settings.spec))
    env.update(aws.client_env(settings))
    env.update(airflow_service.connections(settings))
    env.update(derive(settings.spec).as_env())
    env.update({
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "AIRFLOW_HOME": str(scratch),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(_plugins_folder(settings, scratch)),
        "AIRFLOW__CORE__EXECUTOR": "SequentialExecutor",  # the only one Airflow allows on SQLite
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{scratch / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(scratch / "logs"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": f"{import_timeout(settings):g}",
        "PYTHONDONTWRITEBYTECODE": "1",  # leave no __pycache__ in the project
    })
    return env


def import_timeout(settings: Settings) -> float:
    return dag_errors.import_timeout(settings.spec.airflow_configuration_options)


def run_helper(python: Path, dags: Path, env: dict[str, str], scratch: Path, *,
               file_count: int, timeout: float, runner: Runner | None = None) -> dict:
    """Run parse_helper.py with the environment's Python; its JSON report."""
    runner = runner or default_runner
    output = scratch / "parse.json"
    budget = 120 + file_count * (timeout or 300)  # Airflow's start-up, then each file's limit
    # -P: the helper's folder (the sandbox package) must not shadow the DAGs' imports
    result = runner.run(Command.of(python, "-P", HELPER, dags, output, env=env, cwd=scratch,
                                   timeout=budget))
    if not result.ok or not output.exists():
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise CommandFailed(f"parsing the DAGs failed before any import error could be reported: "
                            f"{(lines or ['no output'])[-1]}", details="\n".join(lines[-20:]) or None)
    return json.loads(output.read_text())


def to_report(raw: dict, environment: str) -> ParseReport:
    files = tuple(FileParse(path=f["path"], dags=tuple(f["dags"]), error=f.get("error"),
                            seconds=float(f["seconds"]), started=float(f["started"]),
                            log=tuple(f.get("log", ())), pid=int(f.get("pid", 0)))
                  for f in raw["files"])
    return ParseReport(files, float(raw.get("import_timeout", dag_errors.DEFAULT_IMPORT_TIMEOUT)),
                       environment)


def parse_project(settings: Settings, *, progress: Callable[[str], None] = lambda _: None,
                  extra_env: dict[str, str] | None = None, runner: Runner | None = None) -> ParseReport:
    dags = dags_folder(settings)
    env, which = airflow_environment(settings, progress)
    progress(f"parsing {dags} with {which}")
    count = sum(1 for p in dags.rglob("*") if p.suffix in (".py", ".zip"))
    with tempfile.TemporaryDirectory(prefix="sandbox-parse-") as tmp:
        scratch = Path(tmp)
        environ = parse_environment(settings, env.path, dags, scratch, extra_env)
        raw = run_helper(env.python, dags, environ, scratch, file_count=count,
                         timeout=import_timeout(settings), runner=runner)
    return to_report(raw, which)


def relative(settings: Settings, path: str) -> str:
    try:
        return str(Path(path).relative_to(settings.project_dir))
    except ValueError:
        return path


def publish(settings: Settings, report: ParseReport) -> str | None:
    """One stream per DAG file in airflow-<Name>-DAGProcessing when the AWS emulator answers;
    the group's name, or None."""
    from sandbox.startup import emulator_answers

    if not report.files or not emulator_answers(settings):
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    from sandbox.services import aws

    group = dag_errors.log_group(settings.spec.name)
    try:
        logs = aws.client(settings, "logs")
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        for result in report.files:
            _put_file_stream(logs, group, result)
    except (BotoCoreError, ClientError):
        return None
    return group


def _put_file_stream(logs, group: str, result: FileParse) -> None:
    stream = dag_errors.stream_name(result.path)
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass  # the same file parsed again: MWAA appends to its stream too
    events = [{"timestamp": int(when * 1000), "message": text}
              for when, text in dag_errors.processor_lines(result)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
