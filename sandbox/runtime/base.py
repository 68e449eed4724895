"""The Runtime interface. The lifecycle is a template method here, so backends stay small."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol

from sandbox import startup as startup_script
from sandbox.delivery.deploy import deploy_project, s3_client
from sandbox.environment import envstate
from sandbox.environment.state import StateDir
from sandbox.errors import NotSupportedInRuntime
from sandbox.services import airflow as airflow_service
from sandbox.services import aws, aws_state, elasticsearch, kafka, postgres
from sandbox.services.base import Endpoint
from sandbox.services.variables import template_variables
from sandbox.settings import Settings
from sandbox.startup import StartupResult


class Progress(Protocol):
    """How a runtime reports long steps; the CLI renders it, tests record it."""

    def step(self, name: str, message: str) -> None: ...

    def done(self, name: str, message: str) -> None: ...

    def note(self, message: str) -> None: ...


class SilentProgress:
    def step(self, name: str, message: str) -> None:
        pass

    def done(self, name: str, message: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    state: str  # running | stopped | unhealthy
    url: str = ""
    pid: int | None = None
    detail: str = ""
    restarts: int = 0  # by the supervisor (native) or Docker (compose)


@dataclass
class UpReport:
    runtime: str
    already_running: bool
    endpoints: list[Endpoint] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class Runtime(ABC):
    """One sandbox lifecycle; a backend supplies the primitives (how to prepare, start and stop
    groups of services), never the order."""

    name = "runtime"

    def __init__(self, settings: Settings, progress: Progress | None = None):
        self.settings = settings
        self.progress = progress or SilentProgress()
        self.state = StateDir(settings.state_dir)
        self.startup: StartupResult | None = None  # the startup script's run by this `up`

    # -- the lifecycle (template) ------------------------------------------------------------
    def up(self) -> UpReport:
        with self.state.up_lock(self._waiting):
            if self.is_up():
                return UpReport(self.name, True, self.endpoints())
            self.preflight()
            return self.create()

    def _waiting(self, holder: int | None) -> None:
        by = f" (pid {holder})" if holder else ""
        self.progress.note(f"another `sandbox up`{by} is starting this project's sandbox: waiting for it")

    def create(self) -> UpReport:
        """MWAA's CREATING -> AVAILABLE: prepare (environment, startup script, plugins), the
        infrastructure, the shared bootstrap, then Airflow. One failure path: CREATE_FAILED, and
        whatever this run started is stopped."""
        started_at = time.monotonic()
        self.state.ensure()
        self.state.runtime_file.write_text(self.name + "\n")  # before anything starts
        envstate.mark_creating(self.settings)
        try:
            self.prepare()
            self.start_infrastructure()
            self.bootstrap()
            self.start_airflow()
            envstate.mark_available(self.settings, s3_client(self.settings))
        except BaseException as exc:
            envstate.mark_create_failed(self.settings, exc)
            self.abort()
            raise
        return UpReport(self.name, False, self.endpoints(), time.monotonic() - started_at)

    def bootstrap(self) -> None:
        """The emulator starts empty: MWAA's resources (bucket, KMS key, log groups, secrets), what
        the last `down` kept, the startup script's log, the project deployed to the bucket (what
        CI's sync does, on top of the restored history), the topic."""
        self.progress.step("aws", "creating the bucket, KMS key and log groups")
        made = aws.bootstrap(self.settings, self.template_variables())
        secrets = f", secrets {', '.join(made.secrets)}" if made.secrets else ""
        self.progress.done("aws", f"bucket {made.bucket} (versioned, SSE-KMS), "
                                  f"{len(made.log_groups)} log groups, SQS queue {made.queue}{secrets}")
        self.restore_aws_state()
        if self.startup is not None:
            startup_script.publish(self.settings, self.startup)
        self.progress.step("deploy", f"uploading the project to s3://{self.settings.spec.bucket_name}/")
        report = deploy_project(self.settings)
        self.progress.done("deploy", f"{len(report.uploaded)} uploaded, {len(report.deleted)} deleted, "
                                     f"{len(report.plan.unchanged)} unchanged")
        for warning in report.warnings:
            if warning.code != "ignored-mwaa-file":  # `sandbox up` says those before it starts
                self.progress.note(warning.message)
        kafka.ensure_topics(self.settings)

    def restore_aws_state(self) -> None:
        """What the last `down` kept, replayed into the new emulator; a snapshot that fails to
        restore is set aside (named in one line) and `up` goes on."""
        folder = self.state.aws_state
        if not aws_state.present(folder):
            return
        self.progress.step("aws", "restoring the state the last `down` kept")
        try:
            restored = aws_state.restore(self.settings, folder)
        except Exception as exc:  # the sandbox still starts, with an empty emulator
            self.progress.note(f"could not restore the AWS state ({exc}); kept in {aws_state.set_aside(folder)}")
            return
        if not restored.empty:
            self.progress.done("aws", restored.restored_line())
        for note in restored.notes + restored.refused_notes():
            self.progress.note(note)

    def keep_aws_state(self) -> None:
        """Before the emulator stops (moto keeps nothing): its state into .sandbox/aws-state for
        the next `up`. A failure is one line; `down` goes on."""
        if not aws_state.answers(self.settings):
            self.progress.note("the AWS emulator does not answer: its state since `up` is not kept")
            return
        self.progress.step("aws", "keeping the emulator's state for the next `up`")
        try:
            kept = aws_state.export(self.settings, self.state.aws_state)
        except Exception as exc:
            self.progress.note(f"could not keep the AWS emulator's state ({exc}); the previous snapshot stays")
            return
        self.progress.done("aws", kept.kept_line(self.state.aws_state))

    def template_variables(self) -> dict[str, str]:
        """mwaa.yaml's {{ service.field }} values: the addresses as the DAGs reach them."""
        return template_variables(self.settings)

    def endpoints(self) -> list[Endpoint]:
        s = self.settings
        return [airflow_service.endpoint(s), postgres.endpoint(s), kafka.endpoint(s),
                elasticsearch.endpoint(s), aws.endpoint(s)]

    # -- what a backend provides ----------------------------------------------------------------
    @abstractmethod
    def is_up(self) -> bool: ...

    @abstractmethod
    def preflight(self) -> None:
        """Refuse to start (one clear error) before anything is written: ports, tools, engine."""

    @abstractmethod
    def prepare(self) -> None:
        """The Airflow environment (venv or images), the startup script's run (self.startup),
        plugins: everything before a service starts."""

    @abstractmethod
    def start_infrastructure(self) -> None:
        """PostgreSQL, Kafka, Elasticsearch and the AWS emulator, ready."""

    @abstractmethod
    def start_airflow(self) -> None:
        """The S3 -> dags sync, Airflow's components and the log shipper, ready."""

    @abstractmethod
    def abort(self) -> None:
        """After a failed `create`: stop what this run started (data kept)."""

    @abstractmethod
    def down(self) -> list[str]: ...

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def status(self) -> list[ServiceStatus]: ...

    @abstractmethod
    def log_path(self, service: str): ...

    # -- environment updates (MWAA's UPDATING) ---------------------------------------------------
    def restart_airflow(self, venv: Path, startup: StartupResult | None, before_start=None) -> None:
        """Airflow's components on a new environment, the rest kept running."""
        raise NotSupportedInRuntime(f"the {self.name} runtime applies environment updates with `sandbox up`")

    def roll_back(self) -> bool:
        """After a failed restart_airflow: back to what ran before. False: nothing to go back to."""
        raise NotSupportedInRuntime(f"the {self.name} runtime applies environment updates with `sandbox up`")

    # -- faults (e2e scenarios) ---------------------------------------------------------------------
    def restart_service(self, service: str) -> list[str]:
        """Stop what serves `service` (kafka, elasticsearch) gracefully, start it again and wait
        until it answers; returns every service that restarted with it."""
        raise NotSupportedInRuntime(f"the {self.name} runtime cannot restart {service} on its own")

    def stand_ins(self) -> set[str]:
        """The services (kafka, elasticsearch) served by the noida-db stand-in, whose known limits
        can cause a verdict real Kafka or Elasticsearch would not."""
        return {"kafka", "elasticsearch"}

    # -- logs -------------------------------------------------------------------------------------
    def log_lines(self, service: str, lines: int) -> list[str]:
        """The last `lines` lines of a service's log (from its log file by default)."""
        from sandbox.proc import tail

        path = self.log_path(service)
        return tail(path, lines).splitlines() if path.exists() else []

    def follow_logs(self, service: str) -> Iterator[str]:
        """New lines of a service's log as they come (tailing its log file by default)."""
        path = self.log_path(service)
        while not path.exists():
            time.sleep(0.5)
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            while True:
                chunk = fh.readline()
                if chunk:
                    yield chunk.decode("utf-8", "replace").rstrip("\n")
                else:
                    time.sleep(0.5)
