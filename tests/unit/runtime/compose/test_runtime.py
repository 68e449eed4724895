"""ComposeRuntime's orchestration through the subprocess seam: no engine needed."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from sandbox.errors import ConfigError, ServiceFailedError, ToolMissingError
from sandbox.proc import ProcessRecord, Result
from sandbox.runtime import base
from sandbox.runtime.compose import engine, runtime as compose_runtime
from sandbox.runtime.compose.runtime import ComposeRuntime, project_name
from sandbox.settings import load_settings


class FakeRunner:
    """Answers docker / compose commands from a table; records every command."""

    def __init__(self, ps_rows=None, up_fails_on=None, networks=None):
        self.calls: list[tuple[str, ...]] = []
        self.ps_rows = ps_rows or []
        self.up_fails_on = up_fails_on
        self.networks = networks or {}

    def _answer(self, cmd) -> Result:
        argv = cmd.argv
        self.calls.append(argv)
        args = argv[argv.index("--file") + 2:] if "--file" in argv else argv[1:]
        if argv[:3] == ("docker", "network", "ls"):
            return Result(cmd, 0, "\n".join(self.networks))
        if argv[:3] == ("docker", "network", "inspect"):
            return Result(cmd, 0, "\n".join(f"{n} {' '.join(s)}" for n, s in self.networks.items()))
        if args[:1] == ("ps",):
            return Result(cmd, 0, "\n".join(json.dumps(r) for r in self.ps_rows))
        if args[:1] == ("up",) and self.up_fails_on and self.up_fails_on in args:
            return Result(cmd, 1, "dependency failed to start: container airflow-init exited (1)")
        if args[:1] == ("logs",):
            return Result(cmd, 0, "migration failed: boom\n")
        return Result(cmd, 0, "")

    def run(self, cmd):
        return self._answer(cmd)

    def spawn(self, cmd, log_path):
        """The autoscaling supervisor: recorded, never started."""
        self.calls.append(cmd.argv)
        return ProcessRecord(pid=2 ** 22 + 9, start_ticks=1, argv0=str(cmd.argv[0]), log=str(log_path))

    def stream(self, cmd, on_line):
        result = self._answer(cmd)
        for line in result.stdout.splitlines():
            on_line(line)
        return result

    def compose_calls(self) -> list[tuple[str, ...]]:
        return [c[c.index("--file") + 2:] for c in self.calls if "--file" in c]


@pytest.fixture
def fake(monkeypatch, project):
    runner = FakeRunner()
    monkeypatch.setattr(engine, "runner", runner)
    monkeypatch.setattr(engine, "engine_version", lambda timeout=10: "20.10.24")
    monkeypatch.setattr(engine, "compose_binary", lambda: project / "docker-compose")
    return runner


@pytest.fixture
def steps(monkeypatch):
    """The host-side bootstrap, recorded instead of reaching an emulator."""
    seen = []
    monkeypatch.setattr(base.aws, "bootstrap",
                        lambda s, v: seen.append(("bootstrap", v["kafka.bootstrap_servers"]))
                        or SimpleNamespace(bucket="b", log_groups=("g",), secrets=(), queue="q"))
    monkeypatch.setattr(base, "deploy_project", lambda s: seen.append(("deploy",)) or SimpleNamespace(
        uploaded=[], deleted=[], plan=SimpleNamespace(unchanged=[]), warnings=[]))
    monkeypatch.setattr(base.kafka, "ensure_topics", lambda s: seen.append(("topics",)))
    monkeypatch.setattr(base, "s3_client", lambda s: None)
    monkeypatch.setattr(base.envstate, "mark_available", lambda s, s3: seen.append(("available",)))
    monkeypatch.setattr(ComposeRuntime, "prepare", lambda self: seen.append(("prepare",)))
    return seen


def test_start_brings_up_infrastructure_then_bootstraps_then_airflow_without_recreating_it(project, fake, steps):
    rt = ComposeRuntime(load_settings(project))
    rt.create()
    ups = [c for c in fake.compose_calls() if c[0] == "up"]
    assert len(ups) == 2
    assert ups[0][-4:] == ("postgres", "kafka", "elasticsearch", "aws")
    assert "--wait" in ups[0] and "--no-deps" not in ups[0]
    assert "--no-deps" in ups[1] and "postgres" not in ups[1]
    assert ups[1][-9:] == ("dagsync", "airflow-init", "airflow-scheduler", "airflow-scheduler-2",
                           "airflow-dag-processor", "airflow-triggerer", "airflow-worker-1", "airflow-webserver",
                           "logship")
    # secrets carry the broker's address on the compose network, where the DAGs run
    assert steps == [("prepare",), ("bootstrap", "172.28.83.10:9092"), ("deploy",), ("topics",), ("available",)]


def test_worker_autoscaling_runs_beside_the_containers_until_down(project, fake, steps):
    rt = ComposeRuntime(load_settings(project))  # MinWorkers 1, MaxWorkers 10 by default
    rt.create()
    spawned = [c for c in fake.calls if "sandbox.runtime.supervise" in c]
    assert len(spawned) == 1 and "supervisor" in rt.state.load_registry()
    rt.down()
    assert "supervisor" not in rt.state.load_registry()


def test_no_autoscaling_process_when_min_and_max_workers_agree(project, fake, steps):
    (project / "mwaa.yaml").write_text("MinWorkers: 2\nMaxWorkers: 2\n")
    ComposeRuntime(load_settings(project)).create()
    assert not [c for c in fake.calls if "sandbox.runtime.supervise" in c]


def test_a_failed_start_names_the_service_shows_its_log_and_stops(project, fake, steps):
    fake.ps_rows = [{"Service": "postgres", "State": "running", "Health": "healthy"},
                    {"Service": "airflow-init", "State": "exited", "ExitCode": 1, "Status": "Exited (1)"}]
    fake.up_fails_on = "airflow-init"
    rt = ComposeRuntime(load_settings(project))
    with pytest.raises(ServiceFailedError) as info:
        rt.create()
    assert info.value.message == "airflow-init did not become healthy (Exited (1))"
    assert "sandbox logs airflow-init" in info.value.hint
    assert "migration failed: boom" in info.value.details
    assert fake.compose_calls()[-1][:1] == ("down",)  # what the run started is stopped
    assert "--volumes" not in fake.compose_calls()[-1]  # data kept


def test_a_subnet_clash_is_a_config_error_naming_the_network(project, fake):
    fake.networks = {"bridge": ["172.17.0.0/16"], "other_net": ["172.28.0.0/16"]}
    rt = ComposeRuntime(load_settings(project))
    with pytest.raises(ConfigError, match=r"compose_subnet 172.28.83.0/24 overlaps Docker network other_net"):
        rt._check_subnet()
    ComposeRuntime(load_settings(project, environ={"SANDBOX_COMPOSE_SUBNET": "10.1.2.0/24"}))._check_subnet()


def test_no_engine_is_a_clear_error(project, monkeypatch):
    monkeypatch.setattr(engine, "engine_version", lambda timeout=10: None)
    with pytest.raises(ToolMissingError, match="no Docker engine answers") as info:
        ComposeRuntime(load_settings(project)).preflight()
    assert "--runtime native" in info.value.hint


def test_status_maps_compose_states(project, fake):
    rt = ComposeRuntime(load_settings(project))
    rt.compose.file.parent.mkdir(parents=True)
    rt.compose.file.write_text("name: x\n")
    fake.ps_rows = [{"Service": "postgres", "State": "running", "Health": "healthy"},
                    {"Service": "kafka", "State": "running", "Health": "starting", "Status": "Up 2s (starting)"},
                    {"Service": "aws", "State": "running", "Health": "unhealthy", "Status": "Up (unhealthy)"},
                    {"Service": "airflow-init", "State": "exited", "ExitCode": 0}]
    rows = {r.service: r for r in rt.status()}
    assert [rows[s].state for s in ("postgres", "kafka", "aws", "airflow-init", "elasticsearch")] == [
        "running", "starting", "unhealthy", "done", "stopped"]
    assert rows["airflow-webserver"].url == "http://127.0.0.1:8080"


def test_down_keeps_volumes_and_reset_removes_them(project, fake):
    rt = ComposeRuntime(load_settings(project))
    rt.compose.file.parent.mkdir(parents=True)
    rt.compose.file.write_text("name: x\n")
    fake.ps_rows = [{"Service": "postgres", "State": "running", "Health": "healthy"}]
    assert rt.down() == ["postgres"]
    assert "--volumes" not in fake.compose_calls()[-1]
    rt.reset()
    assert fake.compose_calls()[-1][:2] == ("down", "--volumes")
    assert not rt.settings.state_dir.exists()


def test_down_stops_airflow_then_keeps_the_aws_state_then_stops_the_rest(project, fake, monkeypatch):
    rt = ComposeRuntime(load_settings(project))
    rt.compose.file.parent.mkdir(parents=True)
    rt.compose.file.write_text("name: x\n")
    monkeypatch.setattr(rt, "keep_aws_state", lambda: fake.calls.append(("keep",)))
    fake.ps_rows = [{"Service": s, "State": "running", "Health": "healthy"}
                    for s in ("postgres", "aws", "airflow-scheduler", "logship")]
    rt.down()
    steps = [c[:1] for c in fake.compose_calls() if c[:1] != ("ps",)]
    assert steps == [("stop",), ("down",)] and ("keep",) in fake.calls
    stop = next(c for c in fake.compose_calls() if c[0] == "stop")
    assert stop[-2:] == ("airflow-scheduler", "logship")
    assert fake.calls.index(("keep",)) > fake.calls.index(next(c for c in fake.calls if "stop" in c))
    fake.ps_rows = [{"Service": "postgres", "State": "running", "Health": "healthy"}]
    fake.calls.clear()
    rt.down()
    assert ("keep",) not in fake.calls  # no emulator: nothing to keep


def test_later_commands_keep_the_image_mode_of_the_running_sandbox(project):
    folder = project / ".sandbox" / "compose"
    folder.mkdir(parents=True)
    (folder / "images-mode").write_text("offline\n")
    assert ComposeRuntime(load_settings(project)).settings.offline_images is True
    told = load_settings(project, environ={"SANDBOX_OFFLINE_IMAGES": "false"})
    assert ComposeRuntime(told).settings.offline_images is False  # an explicit setting wins


def test_project_names_are_per_folder_and_valid(project, tmp_path):
    name = project_name(load_settings(project))
    assert name.startswith("mwaa-sandbox-") and name == name.lower()
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert project_name(load_settings(other)) != name


def test_compose_ps_output_of_both_shapes():
    assert engine.parse_ps('{"Service": "a"}\n{"Service": "b"}\n') == [{"Service": "a"}, {"Service": "b"}]
    assert engine.parse_ps('[{"Service": "a"}]') == [{"Service": "a"}]
    assert engine.parse_ps("") == []


def test_the_startup_script_runs_in_the_image_with_values_passed_by_name(tmp_path):
    from sandbox.proc import Command
    from sandbox.runtime.compose.startup import ContainerRunner

    scripts, wrapper = tmp_path / "project", tmp_path / "run" / "wrapper"
    container = ContainerRunner("mwaa-sandbox/airflow:abc", scripts)
    argv = container.argv(Command.of("timeout", "300", "/bin/bash", wrapper,
                                     env={"SECRET_TOKEN": "s3cr3t", "AIRFLOW_HOME": "/opt/airflow"}))
    assert argv[:3] == ("docker", "run", "--rm")
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "--volume"]
    assert mounts == [f"{wrapper.parent}:{wrapper.parent}", f"{scripts}:{scripts}:ro"]  # nothing else
    assert argv[-5:] == ("mwaa-sandbox/airflow:abc", "timeout", "300", "/bin/bash", str(wrapper))
    assert "--env" in argv and "SECRET_TOKEN" in argv and "s3cr3t" not in " ".join(argv)


def test_recorded_exports_follow_the_script(project):
    from sandbox.runtime.compose import startup
    from sandbox.environment.state import StateDir

    settings = load_settings(project)
    state = StateDir(settings.state_dir)
    assert startup.recorded_exports(settings, state) is None  # never ran
    progress = SimpleNamespace(step=lambda *a: None, done=lambda *a: None, note=lambda *a: None)
    startup.run_in_image(settings, state, "image", {}, progress)  # no script: nothing runs
    assert startup.recorded_exports(settings, state) == {}
    (project / "startup.sh").write_text("export A=1\n")
    assert startup.recorded_exports(settings, state) == {}  # a script the spec does not name: MWAA ignores it
    (project / "mwaa.yaml").write_text("StartupScriptS3Path: startup.sh\n")
    assert startup.recorded_exports(load_settings(project), state) is None  # a new script: run it again


def test_a_new_plugins_zip_changes_the_rendered_file(project, monkeypatch):
    from sandbox.runtime.compose import images
    from unit.runtime.compose.test_render import OFFLINE

    monkeypatch.setattr(images, "plan_images", lambda *a, **k: OFFLINE)
    (project / "mwaa.yaml").write_text("PluginsS3Path: plugins.zip\n")
    (project / "plugins.zip").write_bytes(b"one")
    before = ComposeRuntime(load_settings(project))._render_text()
    (project / "plugins.zip").write_bytes(b"two")
    after = ComposeRuntime(load_settings(project))._render_text()
    assert before != after  # so `up` is not "already running" and recreates Airflow's containers
    # airflow-init, the five components, the worker and the 9 autoscaling may add (MaxWorkers 10)
    assert after.count("SANDBOX_PLUGINS_SHA256") == 16


def test_logs_of_a_failing_engine_say_so(project, fake):
    from sandbox.errors import CommandFailed

    fake._answer = lambda cmd: Result(cmd, 1, "", "Cannot connect to the Docker daemon")
    with pytest.raises(CommandFailed, match="docker compose logs postgres failed"):
        ComposeRuntime(load_settings(project)).log_lines("postgres", 10)


def test_auto_builds_every_image_locally_when_no_registry_answers(project, monkeypatch):
    from sandbox.runtime.compose import images

    notes = []
    progress = SimpleNamespace(step=lambda *a: None, done=lambda *a: None, note=notes.append)
    monkeypatch.setattr(images, "plan_images", lambda s, r, offline: SimpleNamespace(offline=offline))
    monkeypatch.setattr(images, "unreachable_registry",
                        lambda plan, p: "Error response from daemon: Get https://registry-1.docker.io/v2/: timeout")
    rt = ComposeRuntime(load_settings(project), progress)
    rt._choose_image_mode()
    assert rt.settings.offline_images is True
    assert rt.settings.sources["offline_images"] == "auto: no registry answers"
    [line] = notes
    assert "no container registry answers" in line and "building every image locally" in line


def test_registry_images_asked_for_explicitly_are_never_replaced(project, monkeypatch):
    from sandbox.runtime.compose import images

    monkeypatch.setattr(images, "unreachable_registry", lambda plan, p: pytest.fail("probed the registry"))
    rt = ComposeRuntime(load_settings(project, environ={"SANDBOX_OFFLINE_IMAGES": "false"}))
    rt._choose_image_mode()
    assert rt.settings.offline_images is False


def test_a_missing_registry_image_that_cannot_be_pulled_is_reported(monkeypatch):
    from sandbox.runtime.compose import images

    monkeypatch.setattr(images, "image_exists", lambda tag: tag != "postgres:16-bookworm")
    failed = Result(None, 1, "", "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": "
                                 "dial tcp: lookup registry-1.docker.io: no such host")
    monkeypatch.setattr(images, "runner", SimpleNamespace(run=lambda cmd: failed))
    plan = SimpleNamespace(offline=False, postgres="postgres:16-bookworm", kafka="k", elasticsearch="e", aws="a")
    progress = SimpleNamespace(step=lambda *a: None)
    assert "no such host" in images.unreachable_registry(plan, progress)
    monkeypatch.setattr(images, "runner", SimpleNamespace(run=lambda cmd: Result(None, 0, "pulled", "")))
    assert images.unreachable_registry(plan, progress) is None
