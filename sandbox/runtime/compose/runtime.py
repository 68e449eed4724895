"""The Docker Compose runtime: the same sandbox as containers, behind the same Runtime interface.

`up`: render the compose file (a pure function), build the images that are missing, start the
infrastructure (`compose up --wait`), bootstrap it from the host (bucket, log groups, secrets,
topic, the project deployed to S3), then start the DAG sync sidecar and Airflow.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from sandbox.environment import envstate
from sandbox.environment.project import install_plugins, project_plugins, project_requirements
from sandbox.errors import ConfigError, NotRunningError, NotSupportedInRuntime, ServiceFailedError
from sandbox.proc import is_alive, runner, stop
from sandbox.runtime import preflight, supervise
from sandbox.runtime.base import Runtime, ServiceStatus
from sandbox.runtime.compose import buildlog, engine, render, restarts
from sandbox.runtime.compose import startup as compose_startup
from sandbox.services import airflow as airflow_service
from sandbox.services import aws, supervisor, workers
from sandbox.services.variables import template_variables
from sandbox.settings import env_var

_PROGRESS_EVERY = 5.0  # seconds between progress lines of a long compose step


def project_name(settings) -> str:
    """One compose project per project folder: two checkouts never share containers."""
    digest = hashlib.sha256(str(settings.project_dir).encode()).hexdigest()[:8]
    base = re.sub(r"[^a-z0-9]+", "-", settings.spec.name.lower()).strip("-")[:30] or "sandbox"
    return f"mwaa-sandbox-{base}-{digest}"


class ComposeRuntime(Runtime):
    name = "compose"

    def __init__(self, settings, progress=None):
        settings = _with_recorded_images(settings)
        super().__init__(settings, progress)
        self.compose = engine.Compose(project_name(settings), self.state.root / "compose" / "compose.yaml")
        self._rendered: str | None = None
        self._images = None  # what this `up` built (planned again only when not)
        self._started = False  # whether this `up` reached `compose up` (what abort stops)

    # -- what runs ------------------------------------------------------------------------------
    def services(self) -> list[str]:
        return render.service_names(self.settings)

    def is_up(self) -> bool:
        if engine.engine_version() is None or not self.compose.file.exists():
            return False
        rows = {row.get("Service"): row for row in self.compose.ps()}
        long_running = [s for s in self.services() if s != "airflow-init"]
        if not all(_healthy(rows.get(s)) for s in long_running):
            return False
        if compose_startup.recorded_exports(self.settings, self.state) is None:
            return False  # the startup script changed (or never ran): run it again
        return self.compose.file.read_text() == self._render_text()  # same inputs as now

    # -- up ---------------------------------------------------------------------------------------
    def preflight(self) -> None:
        version = engine.require_engine()
        self.progress.note(f"Docker engine {version}; compose {engine.compose_binary().name}")
        running = {row.get("Service") for row in self.compose.ps() if row.get("State") == "running"} \
            if self.compose.file.exists() else set()
        self._check_subnet()
        stopped = [s for s in self.services() if s not in running]
        preflight.check_ports_free(self.settings, [airflow_service.NAME if s == "airflow-webserver" else s
                                                   for s in stopped])

    def _check_subnet(self) -> None:
        """Docker refuses a network whose range overlaps another's; say which and what to set."""
        import ipaddress

        ours = ipaddress.ip_network(self.settings.compose_subnet)
        own = f"{self.compose.project}_{render.NETWORK}"
        for name, subnets in engine.network_subnets().items():
            clash = [n for n in subnets if name != own and ipaddress.ip_network(n, strict=False).overlaps(ours)]
            if clash:
                raise ConfigError(f"compose_subnet {ours} overlaps Docker network {name} ({clash[0]})",
                                  hint=f"set {env_var('compose_subnet')} (or Sandbox.compose_subnet in "
                                       "mwaa.yaml) to a free range, e.g. 172.29.84.0/24")

    def prepare(self) -> None:
        from sandbox.runtime.compose import images as image_builder

        self._choose_image_mode()
        images, built = image_builder.ensure_images(self.settings, project_requirements(self.settings),
                                                    offline=self.settings.offline_images, progress=self.progress)
        if built:
            self.progress.note(f"built {len(built)} image(s): {', '.join(built)}")
        # MWAA's order: the startup script (in the Airflow image), with Airflow's environment
        env = airflow_service.airflow_variables(self.settings, self.state, airflow_service.container_placement(self.settings))
        self.startup = compose_startup.run_in_image(self.settings, self.state, images.airflow, env, self.progress)
        install_plugins(self.state, project_plugins(self.settings))
        airflow_service.install_config_modules(self.state)
        self._images = images
        self._rendered = None  # render again: the startup script's exports may have changed
        text = self._render_text()
        self.compose.file.parent.mkdir(parents=True, exist_ok=True)
        self.compose.file.write_text(text)
        _images_mode_file(self.settings).write_text("offline\n" if self.settings.offline_images else "registry\n")
        checked = self.compose.config()
        if not checked.ok:
            raise ServiceFailedError("docker compose rejected the rendered file "
                                     f"{self.compose.file}", hint="report this with `sandbox --debug up`",
                                     details=(checked.stderr or checked.stdout)[-2000:])

    def _choose_image_mode(self) -> None:
        """Registry images unless no registry answers and nobody asked for them: then every image
        is built here, said in one line (asked for explicitly, `compose up` fails with the remedy)."""
        from sandbox.runtime.compose import images as image_builder

        s = self.settings
        if s.offline_images or s.sources.get("offline_images", "default") != "default":
            return
        plan = image_builder.plan_images(s, project_requirements(s), offline=False)
        reason = image_builder.unreachable_registry(plan, self.progress)
        if reason is None:
            return
        self.progress.note(f"no container registry answers ({reason[:120]}): building every image "
                           "locally, as --offline-images does")
        self.settings = replace(s, offline_images=True,
                                sources={**s.sources, "offline_images": "auto: no registry answers"})
        self._rendered = None

    def start_infrastructure(self) -> None:
        self._started = True
        self._up(list(render.INFRA), "infrastructure (PostgreSQL, Kafka, Elasticsearch, AWS)")

    def template_variables(self) -> dict[str, str]:
        # Secrets name the services as the DAGs (in containers) reach them.
        return template_variables(self.settings, airflow_service.container_placement(self.settings).reach,
                                  airflow_service.container_url())

    def start_airflow(self) -> None:
        # --no-deps: the infrastructure is up; never recreate it here (moto keeps its
        # buckets in memory, so a recreated emulator would lose the bootstrap)
        self._up(self.services()[len(render.INFRA):], "the DAG sync sidecar and Airflow", "--no-deps")
        self._start_scaler()

    # -- worker autoscaling: a host process beside the containers (Docker restarts them itself) ----
    def _start_scaler(self) -> None:
        low, high = workers.bounds(self.settings)
        self._stop_scaler()
        if high <= low:
            return
        record = engine.runner.spawn(supervisor.process(self.settings).command, self.state.log_file(supervisor.NAME))
        self.state.record_process(supervisor.NAME, record)
        self.progress.note(f"worker autoscaling: {low} to {high} worker containers (supervisor pid {record.pid})")

    def _stop_scaler(self) -> None:
        record = self.state.load_registry().get(supervisor.NAME)
        if record is not None:
            stop(record, grace=5.0)
            self.state.forget_process(supervisor.NAME)

    def supervised_names(self) -> list[str]:
        return []  # Docker's restart policy replaces containers

    def respawn(self, name: str):
        raise NotSupportedInRuntime("Docker's restart policy replaces the compose runtime's containers")

    def worker_scaling(self, log):
        timeout = int(self.settings.start_timeout)

        def start(name: str) -> None:
            self.compose.run("up", "--detach", "--no-deps", "--wait", "--wait-timeout", str(timeout), name,
                             timeout=timeout + 60).check(f"docker compose up {name}")

        def remove(name: str) -> None:  # Celery's warm shutdown: SIGTERM, 30 s for running tasks
            self.compose.run("stop", "--timeout", "30", name, timeout=120).check(f"docker compose stop {name}")
            self.compose.run("rm", "--force", name, timeout=60)

        running = lambda: {r.get("Service") for r in self.compose.ps() if r.get("State") in ("running", "restarting")}  # noqa: E731
        return supervise.worker_scaling(self.settings, self.state, start, remove, running, log)

    def abort(self) -> None:
        self._stop_scaler()
        if self._started:
            self.progress.note("stopping the sandbox's containers (volumes kept)")
            self.compose.run("down", "--timeout", "10", timeout=300)

    def _up(self, services: list[str], what: str, *flags: str) -> None:
        """`compose up --wait` with a progress line every few seconds; a failure names the
        service and carries its last log lines."""
        self.progress.step("compose", f"starting {what}")
        timeout = int(self.settings.start_timeout)
        last = [0.0]

        def on_line(line: str) -> None:
            if time.monotonic() - last[0] >= _PROGRESS_EVERY and line.strip():
                last[0] = time.monotonic()
                self.progress.step("compose", line.strip())

        result = self.compose.stream("up", "--detach", "--wait", "--wait-timeout", str(timeout),
                                     "--remove-orphans", *flags, *services, on_line=on_line,
                                     timeout=timeout + 120)
        if not result.ok:
            raise self._start_failure(result.stdout)
        self.progress.done("compose", f"{what}: healthy")

    def restart_service(self, service: str) -> list[str]:
        self.progress.step(service, "restarting")
        self.compose.run("restart", "--timeout", "30", service, timeout=180).check(f"docker compose restart {service}")
        self._up([service], service, "--no-deps")  # waits for its health check
        return [service]

    def stand_ins(self) -> set[str]:
        from sandbox.runtime.compose.images import REGISTRY_IMAGES

        rows = {row.get("Service"): str(row.get("Image", "")) for row in self.compose.ps()}
        return {s for s in ("kafka", "elasticsearch") if not rows.get(s, "").startswith(REGISTRY_IMAGES[s].split(":")[0])}

    def _start_failure(self, output: str) -> ServiceFailedError:
        rows = {row.get("Service"): row for row in self.compose.ps()}
        bad = next((s for s in self.services() if rows.get(s) and not _ok(s, rows[s])), None)
        last = [l for l in output.strip().splitlines() if l.strip()][-1:] or ["docker compose up failed"]
        if bad is None:
            hint = buildlog.REGISTRY_HINT if buildlog.registry_unreachable(output) else \
                "see `sandbox status` and `sandbox logs SERVICE`"
            return ServiceFailedError(f"docker compose up failed: {last[0].strip()}", hint=hint,
                                      details=output[-2000:])
        return ServiceFailedError(f"{bad} did not become healthy ({rows[bad].get('Status', '?')})",
                                  hint=f"see `sandbox logs {bad}`; a slow machine may need a larger "
                                       "SANDBOX_START_TIMEOUT", details="\n".join(self.log_lines(bad, 25)))

    def _render_text(self) -> str:
        if self._rendered is None:
            from sandbox.runtime.compose import images as image_builder

            s = self.settings
            images = self._images or image_builder.plan_images(s, project_requirements(s),
                                                               offline=s.offline_images)
            exports = compose_startup.recorded_exports(s, self.state) or {}
            env = airflow_service.airflow_variables(s, self.state, airflow_service.container_placement(s), exports)
            # the archive's hash: a new plugins.zip changes the file, so `up` recreates Airflow
            archive = project_plugins(s)
            digest = hashlib.sha256(archive.read_bytes()).hexdigest() if archive else "none"
            self._rendered = render.to_yaml(render.render(render.RenderInputs(
                s, images, self.compose.project, env, self.state.admin_password(), str(self.state.plugins_folder),
                config_dir=str(self.state.airflow_home / "config"), extra_env={"SANDBOX_PLUGINS_SHA256": digest})))
        return self._rendered

    # -- down, reset, status, logs ------------------------------------------------------------------
    def down(self) -> list[str]:
        self._stop_scaler()  # first: it must not start a worker while the others stop
        if not self.compose.file.exists() or engine.engine_version() is None:
            return []
        running = [r.get("Service") for r in self.compose.ps() if r.get("State") == "running"]
        others = [s for s in running if s not in render.INFRA]
        if aws.NAME in running:  # Airflow and the shippers first: their last logs go in
            if others:  # (`compose stop` with no service stops them all)
                self.compose.run("stop", "--timeout", "30", *others, timeout=300)
            self.keep_aws_state()
        self.progress.step("compose", "stopping the containers (volumes kept)")
        self.compose.run("down", "--timeout", "30", "--remove-orphans", timeout=300).check("docker compose down")
        self.progress.done("compose", f"stopped {len(running)} container(s)")
        envstate.forget(self.settings)
        return [s for s in self.services() if s in running]

    def reset(self) -> None:
        self._stop_scaler()
        if self.compose.file.exists() and engine.engine_version() is not None:
            self.progress.step("compose", "removing the containers and their volumes")
            self.compose.run("down", "--volumes", "--timeout", "10", "--remove-orphans",
                             timeout=300).check("docker compose down --volumes")
        shutil.rmtree(self.state.root, ignore_errors=True)

    def status(self) -> list[ServiceStatus]:
        rows = {row.get("Service"): row for row in self.compose.ps()} if self.compose.file.exists() else {}
        replaced = restarts.by_service(list(rows.values()))  # Docker's restarts, as MWAA replaces containers
        urls = {e.service: e.url for e in self.endpoints()}
        out = []
        extra = [n for n in workers.all_names(self.settings)[len(workers.names(self.settings)):] if n in rows]
        for service in self.services() + extra:
            row = rows.get(service)
            state, detail = _state(service, row)
            seen = replaced.get(service, restarts.Restarts(0))
            if seen.looping:
                state, detail = "crash-looping", f"Docker keeps restarting it: {seen.last_exit}"
            elif seen.count:
                detail = "; ".join(filter(None, [detail, f"last restart: {seen.last_exit}"]))
            if service in extra:
                detail = "; ".join(filter(None, [detail, "added by autoscaling beyond MinWorkers"]))
            url = urls.get(service) or (urls["airflow"] if service == "airflow-webserver" else "")
            out.append(ServiceStatus(service, state, url, None, detail, seen.count))
        return out + self._scaler_status()

    def _scaler_status(self) -> list[ServiceStatus]:
        low, high = workers.bounds(self.settings)
        if high <= low:
            return []
        record = self.state.load_registry().get(supervisor.NAME)
        alive = record is not None and is_alive(record)
        return [ServiceStatus(supervisor.NAME, "running" if alive else "stopped", "", record.pid if alive else None,
                              f"worker autoscaling {low} to {high}" if alive else "worker autoscaling is not running; "
                              "`sandbox down` then `sandbox up` starts it")]

    def log_path(self, service: str) -> Path:
        raise NotRunningError(f"the compose runtime keeps {service}'s log in Docker",
                              hint=f"use `sandbox logs {service}`")

    def log_lines(self, service: str, lines: int) -> list[str]:
        result = self.compose.run("logs", "--no-color", "--no-log-prefix", "--tail", str(lines),
                                  self._service(service), timeout=60)
        return result.check(f"docker compose logs {service}").stdout.splitlines()

    def follow_logs(self, service: str) -> Iterator[str]:
        cmd = self.compose.command("logs", "--no-color", "--no-log-prefix", "--follow", "--tail", "0",
                                   self._service(service), timeout=None)
        return runner.follow(cmd)

    def _service(self, service: str) -> str:
        name = "airflow-webserver" if service == "airflow" else service
        if name not in self.services():
            raise NotRunningError(f"no service named {service!r}",
                                  hint=f"choose one of {', '.join(self.services())}")
        return name


def _images_mode_file(settings) -> Path:
    return settings.state_dir / "compose" / "images-mode"


def _with_recorded_images(settings):
    """Later commands (`status`, `e2e`, ...) use the image mode the running sandbox was started
    with, unless told otherwise: `up --offline-images` then `e2e` must not re-render."""
    path = _images_mode_file(settings)
    if settings.sources.get("offline_images", "default") != "default" or not path.is_file():
        return settings
    return replace(settings, offline_images=path.read_text().strip() == "offline",
                   sources={**settings.sources, "offline_images": "the running sandbox"})


def _healthy(row: dict | None) -> bool:
    return bool(row) and row.get("State") == "running" and row.get("Health") in ("healthy", "")


def _ok(service: str, row: dict) -> bool:
    if service == "airflow-init":
        return row.get("State") == "exited" and int(row.get("ExitCode") or 0) == 0
    return _healthy(row)


def _state(service: str, row: dict | None) -> tuple[str, str]:
    if row is None:
        return "stopped", ""
    if service == "airflow-init":
        return ("done", "") if _ok(service, row) else (row.get("State", "?"), row.get("Status", ""))
    health = row.get("Health") or ""
    if row.get("State") != "running":
        return "stopped", row.get("Status", "")
    if health in ("healthy", ""):
        return "running", ""
    return ("starting" if health == "starting" else "unhealthy"), row.get("Status", "")
