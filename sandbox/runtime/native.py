"""The native runtime (embedded default): every service as a local process, no Docker."""

from __future__ import annotations

import os
import shutil
import signal
from dataclasses import replace
from pathlib import Path

from sandbox import startup as startup_script
from sandbox.environment import envstate
from sandbox.environment.airflow_env import AirflowEnvironment
from sandbox.environment.project import install_plugins, link_environment, project_plugins, project_requirements
from sandbox.errors import NotRunningError, NotSupportedInRuntime, ReadinessTimeout, ServiceFailedError
from sandbox.probes import wait_for
from sandbox.proc import ProcessRecord, is_alive, runner, stop, tail
from sandbox.runtime import preflight, supervise, sweep
from sandbox.runtime.base import Runtime, ServiceStatus
from sandbox.runtime.install import Inputs, install_environment
from sandbox.runtime.native_airflow import AirflowSetup
from sandbox.services import aws, dagsync, elasticsearch, kafka, logship, noida, postgres, supervisor, workers
from sandbox.services import airflow as airflow_service
from sandbox.services.base import ProcessSpec

# The services a process serves, where its name is not theirs.
SERVES = {noida.NAME: (kafka.NAME, elasticsearch.NAME), "airflow-webserver": (airflow_service.NAME,)}
INFRASTRUCTURE = ("postgres", "noida", "aws")  # stopped after the AWS state is kept
STOP_SIGNALS = {"postgres": signal.SIGINT}  # PostgreSQL's "fast" shutdown; SIGTERM waits for clients


class NativeRuntime(Runtime):
    name = "native"

    def __init__(self, settings, progress=None):
        super().__init__(settings, progress)
        self.airflow = AirflowSetup(settings, self.state, self.progress)
        self._env: AirflowEnvironment | None = None
        self._started: list[str] = []  # what this `up` spawned, stopped again if it fails
        # What Airflow ran on before an environment update's restart, for roll_back.
        self.previous_env: Path | None = None
        self.previous_exports: dict[str, str] = {}

    # -- what runs ------------------------------------------------------------------------------
    def infra_specs(self) -> list[ProcessSpec]:
        return [postgres.process(self.settings), noida.process(self.settings), aws.process(self.settings)]

    def process_names(self) -> list[str]:
        return ([*INFRASTRUCTURE, dagsync.NAME] + airflow_service.process_names(self.settings)
                + [logship.NAME, supervisor.NAME])  # supervisor last: `down` stops it first

    def supervised_names(self) -> list[str]:
        """What the supervisor restarts: Airflow's components (MWAA replaces their containers)
        and the sandbox's helpers; the infrastructure stands in for managed services."""
        base = airflow_service.process_names(self.settings)
        extra = [n for n in workers.all_names(self.settings) if n not in base]  # restarted while recorded
        return [dagsync.NAME, *base, *extra, logship.NAME]

    def extra_workers(self) -> list[str]:
        """Workers autoscaling started beyond MinWorkers (recorded, alive or not)."""
        base = set(workers.names(self.settings))
        records = self.state.load_registry()
        return [n for n in workers.all_names(self.settings) if n not in base and n in records]

    def worker_scaling(self, log) -> supervise.WorkerScaling | None:
        return supervise.worker_scaling(self.settings, self.state, start=self.respawn,
                                        stop=lambda name: self._stop_names([name]), log=log)

    def running(self) -> dict[str, ProcessRecord]:
        return {n: r for n, r in self.state.load_registry().items() if is_alive(r)}

    def processes(self):
        """Every live process of this sandbox (for stopping and for memory figures)."""
        return sweep.family([r.pid for r in self.running().values()], str(self.state.root),
                            self.state.load_sessions())

    def is_up(self) -> bool:
        alive = set(self.running()) - set(self.extra_workers())
        if alive != set(self.process_names()):
            return False
        return airflow_service.health_probe(self.settings).check().ready

    # -- up ---------------------------------------------------------------------------------------
    def preflight(self) -> None:
        for name in self.state.prune_stale():
            self.progress.note(f"removed the stale record of {name} (its process is gone)")
        alive = self.running()
        preflight.check_ports_free(self.settings, [service for process in self.process_names() if process not in alive
                                                   for service in SERVES.get(process, (process,))])
        user = postgres.run_as()
        if user:
            preflight.ensure_system_user(user)

    def prepare(self) -> None:
        # The same install an environment update runs; the bootstrap deploys these files to the bucket.
        inputs = Inputs(project_requirements(self.settings))
        self._env, self.startup = install_environment(self.settings, self.state, self.progress, inputs)
        # MWAA unpacks plugins.zip before Airflow starts: the project's copy (what the bootstrap
        # deploys); an environment update unpacks the bucket's.
        install_plugins(self.state, project_plugins(self.settings))
        link_environment(self.state, self._env.path)
        self._init_postgres()

    def _init_postgres(self) -> None:
        folder = postgres.data_dir(self.settings)
        user = postgres.run_as()
        if user:
            for changed in preflight.ensure_reachable(folder, user):
                self.progress.note(f"allowed {user} to traverse {changed} (o+x) to reach PostgreSQL's files")
            preflight.ensure_reachable(postgres.install_dir() / "bin" / "postgres", user)
        if (folder / "PG_VERSION").exists():
            return
        self.progress.step("postgres", "initialising the database cluster")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, mode=0o700)
        if user:
            preflight.own_tree(folder, user)
        runner.run(postgres.initdb_command(self.settings)).check("initdb")

    def start_infrastructure(self) -> None:
        self._start_group(self.infra_specs(), self._started)

    def start_airflow(self) -> None:
        # dagsync fills Airflow's dags folder from the bucket before Airflow starts (as MWAA)
        self._start_group([dagsync.process(self.settings)], self._started)
        assert self._env is not None
        self._start_airflow(self._env.path, self.startup.exported if self.startup else {}, self._started)
        self._start_group([logship.process(self.settings)], self._started)
        (self.state.root / supervise.STATUS_FILE).unlink(missing_ok=True)  # a new sandbox: no history
        self._start_group([supervisor.process(self.settings)], self._started)

    def abort(self) -> None:
        self.progress.note("stopping what this run started")
        self._stop_names(self._started)

    def _start_airflow(self, venv: Path, exports: dict[str, str], started: list[str]) -> None:
        self.state.save_exports(exports)  # what a failed update's rollback restarts with
        airflow_service.install_config_modules(self.state)
        env = self.airflow.process_env(venv, exports)
        self.airflow.initialise(venv, env)
        specs = airflow_service.processes(self.settings, self.state, venv, env)
        if "airflow-webserver" not in self.running():
            # gunicorn refuses to start over a pid file left by a crash
            (self.state.airflow_home / "airflow-webserver.pid").unlink(missing_ok=True)
        self._start_group(specs, started)

    def spec_for(self, name: str) -> ProcessSpec:
        """How a supervised process is started now (Airflow on the environment and exports in use)."""
        if name in (dagsync.NAME, logship.NAME):
            return (dagsync if name == dagsync.NAME else logship).process(self.settings)
        venv = (self.state.root / "airflow-env").resolve()
        env = self.airflow.process_env(venv, self.state.load_exports())
        return airflow_service.processes(self.settings, self.state, venv, env, [name])[0]

    def respawn(self, name: str) -> ProcessRecord:
        """The supervisor's restart, without waiting: what is left of the dead process's session
        goes first (a killed web server's gunicorn still holds the port)."""
        old = self.state.load_registry().get(name)
        if old is not None:
            sweep.kill_all(sweep.session_members({old.pid: old.start_ticks}))
        if name == "airflow-webserver":
            (self.state.airflow_home / "airflow-webserver.pid").unlink(missing_ok=True)
        return self._spawn(self.spec_for(name))

    def restart_service(self, service: str) -> list[str]:
        name = next((p for p, served in SERVES.items() if service in served), service)
        spec = next((s for s in self.infra_specs() if s.name == name), None)
        if spec is None:
            raise NotSupportedInRuntime(f"{service} is not a service the native runtime can restart")
        self._stop_names([name])
        self._start_group([spec], [])
        return list(SERVES.get(name, (name,)))

    def restart_airflow(self, venv: Path, startup: startup_script.StartupResult | None,
                        before_start=None) -> None:
        """An environment update: stop Airflow's processes, start them on `venv` with `startup`'s
        exports (the rest of the sandbox keeps running). What ran before is kept for roll_back."""
        self._keep_for_rollback()
        self._stop_names(self._airflow_names())
        if before_start is not None:
            before_start()
        if startup is not None:
            startup_script.publish(self.settings, startup)
        self._launch_airflow(venv, startup.exported if startup else {})

    def roll_back(self) -> bool:
        """After a failed restart_airflow: Airflow back on its old environment, the old startup
        script's exports and the old plugins, as MWAA rolls back. False: nothing to go back to."""
        if self.previous_env is None:
            return False
        self._stop_names(self._airflow_names())  # whatever half-started
        shutil.rmtree(self.state.plugins_folder, ignore_errors=True)
        if self._saved_plugins.is_dir():
            shutil.copytree(self._saved_plugins, self.state.plugins_folder, symlinks=True)
        self.state.plugins_folder.mkdir(parents=True, exist_ok=True)
        self._launch_airflow(self.previous_env, self.previous_exports)
        return True

    def _airflow_names(self) -> list[str]:
        return self.extra_workers() + airflow_service.process_names(self.settings)

    @property
    def _saved_plugins(self) -> Path:
        return self.state.root / "rollback" / "plugins"

    def _keep_for_rollback(self) -> None:
        link = self.state.root / "airflow-env"
        self.previous_env = link.resolve() if link.exists() else None
        self.previous_exports = self.state.load_exports()
        shutil.rmtree(self._saved_plugins, ignore_errors=True)
        if self.state.plugins_folder.is_dir():
            shutil.copytree(self.state.plugins_folder, self._saved_plugins, symlinks=True)

    def _launch_airflow(self, venv: Path, exports: dict[str, str]) -> None:
        link_environment(self.state, venv)
        self._start_airflow(venv, exports, [])

    def _start_group(self, specs: list[ProcessSpec], started: list[str]) -> None:
        """Spawn the group together, then wait for each one's probe."""
        alive = self.running()
        records = dict(self.state.load_registry())
        for spec in specs:
            if spec.name in alive:
                continue
            self.progress.step(spec.name, "starting")
            records[spec.name] = self._spawn(spec)
            started.append(spec.name)
        waited: set[int] = set()
        for spec in specs:
            if id(spec.probe) in waited:
                continue
            waited.add(id(spec.probe))
            group = [s.name for s in specs if s.probe is spec.probe]
            self._wait(spec, group, records)

    def _spawn(self, spec: ProcessSpec) -> ProcessRecord:
        env = dict(spec.command.env or os.environ)
        env[sweep.MARKER] = str(self.state.root)
        record = runner.spawn(replace(spec.command, env=env), self.state.log_file(spec.name))
        self.state.record_process(spec.name, record)  # one entry: others may be writing too
        return record

    def _wait(self, spec: ProcessSpec, group: list[str], records: dict[str, ProcessRecord]) -> None:
        label = group[0] if len(group) == 1 else spec.name.split("-")[0]
        self.progress.step(label, f"waiting for {spec.probe.description}")
        alive = lambda: all(is_alive(records[n]) for n in group)
        try:
            seconds = wait_for(spec.probe, timeout=self.settings.start_timeout, still_running=alive)
        except ReadinessTimeout as exc:
            raise ReadinessTimeout(f"{label} did not become ready: {exc.message}",
                                   hint=f"see `sandbox logs {group[0]}`; a slow machine may need a "
                                        "larger SANDBOX_START_TIMEOUT",
                                   details=tail(self.state.log_file(group[0]), 25)) from exc
        if seconds < 0:
            dead = next(n for n in group if not is_alive(records[n]))
            raise ServiceFailedError(
                f"{dead} exited while starting", hint=f"see `sandbox logs {dead}`",
                details=tail(self.state.log_file(dead), 25))
        self.progress.done(label, f"ready in {seconds:.1f} s")

    # -- down, reset, status, logs ------------------------------------------------------------------
    def down(self) -> list[str]:
        return self._stop_everything(keep_aws_state=True)

    def _stop_everything(self, keep_aws_state: bool) -> list[str]:
        records = self.state.load_registry()
        alive = [n for n in self.process_names() + self.extra_workers() if n in records and is_alive(records[n])]
        tree = self.processes()
        if keep_aws_state and "aws" in alive:  # Airflow and the shippers first: their last logs go in
            self._stop_names([n for n in records if n not in INFRASTRUCTURE])
            self.keep_aws_state()
        self._stop_names(list(records))
        sweep.wait_gone(tree, 3.0)  # children of a stopped parent exit on their own first
        leftovers = sweep.kill_all(tree)
        if self.state.sessions_file.exists():
            self.state.update_sessions(lambda sessions: sessions.clear())  # every member is gone
        envstate.forget(self.settings)
        (self.state.root / supervise.STATUS_FILE).unlink(missing_ok=True)
        if leftovers:
            self.progress.note(f"stopped {leftovers} leftover process(es) of this sandbox")
        return alive

    def _stop_names(self, names: list[str]) -> None:
        records = self.state.load_registry()
        # Reverse dependency order: the supervisor first (it restarts and adds workers), then the
        # workers autoscaling added, Airflow, the database last.
        known = [n for n in reversed(self.process_names()) if n in names]
        order = ([n for n in known if n == supervisor.NAME] + [n for n in names if n not in self.process_names()]
                 + [n for n in known if n != supervisor.NAME])
        for name in order:
            record = records.get(name)
            if record is None:
                continue
            self.progress.step(name, "stopping")
            # a Celery worker's warm shutdown (SIGTERM to its main process) lets running tasks
            # finish; the same signal to its group kills the pool under them (WorkerLostError)
            killed = stop(record, grace=30.0, sig=STOP_SIGNALS.get(name, signal.SIGTERM),
                          leader_only=workers.is_worker(name))
            self.progress.done(name, "killed after the grace period" if killed else "stopped")
            self.state.forget_process(name)

    def reset(self) -> None:
        self._stop_everything(keep_aws_state=False)  # the snapshot goes with .sandbox/
        shutil.rmtree(self.state.root, ignore_errors=True)

    def status(self) -> list[ServiceStatus]:
        records = self.state.load_registry()
        body = self.airflow.health() if any(n.startswith("airflow") for n in records) else {}
        rows = []
        urls = {e.service: e.url for e in self.endpoints()}
        supervised = supervise.read_status(self.state)
        extra = self.extra_workers()
        for name in self.process_names() + extra:
            record = records.get(name)
            alive = record is not None and is_alive(record)
            services = [kafka.NAME, elasticsearch.NAME] if name == "noida" else [name]
            seen = supervised.get(name, supervise.Component())
            for service in services:
                state, detail = ("running", "") if alive else ("stopped", "")
                if alive and name.startswith("airflow-"):
                    state, detail = self.airflow.component_state(name, body)
                if name in extra:
                    detail = "; ".join(filter(None, [detail, "added by autoscaling beyond MinWorkers"]))
                if seen.gave_up and not alive:
                    state, detail = "crash-looping", f"not restarted any more: {seen.last_exit}"
                elif seen.restarts:
                    detail = "; ".join(filter(None, [detail, f"last restart: {seen.last_exit}"]))
                url = urls.get(service) or (urls["airflow"] if name == "airflow-webserver" else "")
                rows.append(ServiceStatus(service, state, url, record.pid if alive else None, detail,
                                          seen.restarts))
        return rows + self._unrecorded(records)

    def _unrecorded(self, records: dict[str, ProcessRecord]) -> list[ServiceStatus]:
        """Processes of this sandbox no live record accounts for (a killed component's children,
        or `.sandbox/` deleted under a running sandbox): `down` finds and stops them."""
        known = sweep.descendants([r.pid for r in records.values() if is_alive(r)])
        strays = [p for p in self.processes() if p.pid not in known]
        if not strays:
            return []
        return [ServiceStatus("unrecorded", "running", "", strays[0].pid,
                              f"{len(strays)} process(es) of this sandbox without a record; "
                              "`sandbox down` stops them")]

    def log_path(self, service: str) -> Path:
        process = "noida" if service in (kafka.NAME, elasticsearch.NAME) else service
        if process == "airflow":
            process = "airflow-webserver"
        if process not in self.log_services() + ["noida", "airflow-webserver"]:
            raise NotRunningError(f"no service named {service!r}",
                                  hint=f"choose one of {', '.join(self.log_services())}")
        return self.state.log_file(process)

    def log_services(self) -> list[str]:
        extra = [n for n in workers.all_names(self.settings) if n not in workers.names(self.settings)]
        return (["postgres", "kafka", "elasticsearch", "aws", dagsync.NAME]
                + airflow_service.process_names(self.settings) + extra + [logship.NAME, "environment-update"])
