"""The compose runtime's images: planning (pure, hash-tagged), build contexts, and building what
is missing, with Docker and debootstrap faked at the subprocess seam."""

from __future__ import annotations

import re
import shutil
import tomllib
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import pytest

from sandbox.errors import CommandFailed, EnvironmentBuildError, ToolMissingError
from sandbox.mwaa.data import CONSTRAINTS_FILE, CONSTRAINTS_URL, ESSENTIAL_FILE, IMAGE_PACKAGES_FILE
from sandbox.proc import Result
from sandbox.environment.airflow_env import BASE_SPECS
from sandbox.runtime.compose import buildlog, images, recipes, rootfs
from sandbox.runtime.compose.images import ensure_images, missing_images, plan_images
from sandbox.settings import load_settings

TAG = re.compile(r"^mwaa-sandbox/[a-z-]+:[0-9a-f]{16}$")
REQUIREMENTS = f'--constraint "{CONSTRAINTS_URL}"\nconfluent-kafka==2.4.0\n'


class FakeDocker:
    """Answers docker, debootstrap and tar; remembers every command. `existing` are the tags
    `docker image inspect` finds; a successful build or import adds its tag."""

    def __init__(self, existing=(), *, fail_build: str | None = None, inspect_error: str | None = None,
                 output=("Step 1/2 : FROM base", "Step 2/2 : RUN work", "Successfully built")):
        self.existing = set(existing)
        self.fail_build, self.inspect_error, self.output = fail_build, inspect_error, output
        self.commands: list[tuple[str, ...]] = []
        self.contexts: dict[str, dict[str, bytes]] = {}

    def run(self, cmd):
        argv = cmd.argv
        self.commands.append(argv)
        if argv[:3] == ("docker", "image", "inspect"):
            if self.inspect_error:
                return Result(cmd, 1, "", self.inspect_error)
            found = argv[-1] in self.existing
            return Result(cmd, 0 if found else 1, "sha256:1\n" if found else "",
                          "" if found else f"Error: No such image: {argv[-1]}")
        if argv[:2] == ("docker", "import"):
            self.existing.add(argv[-1])
        return Result(cmd, 0, "", "")

    def stream(self, cmd, on_line):
        argv = cmd.argv
        self.commands.append(argv)
        for line in self.output:
            on_line(line)
        if argv[0] == "debootstrap":
            target = Path(argv[-2])
            (target / "etc/ssl/certs").mkdir(parents=True)
            (target / "var/lib/apt/lists").mkdir(parents=True)
            (target / "var/lib/apt/lists/deb.debian.org_dists").write_text("index")
            return Result(cmd, 0, "\n".join(self.output), "")
        tag = argv[argv.index("--tag") + 1]
        context = Path(argv[-1])
        self.contexts[tag] = {str(p.relative_to(context)): p.read_bytes()
                              for p in context.rglob("*") if p.is_file()}
        if self.fail_build and self.fail_build in tag:
            failure = ("Step 9/9 : RUN verify", "ERROR: package set mismatch: x 1 (MWAA: 2)")
            for line in failure:
                on_line(line)
            return Result(cmd, 1, "\n".join((*self.output, *failure)), "")
        self.existing.add(tag)
        return Result(cmd, 0, "\n".join(self.output), "")

    def builds(self) -> list[str]:
        return [c[c.index("--tag") + 1] for c in self.commands if c[:2] == ("docker", "build")]


class RecordingProgress:
    def __init__(self):
        self.events: list[tuple[str, str, str]] = []

    def step(self, name, message):
        self.events.append(("step", name, message))

    def done(self, name, message):
        self.events.append(("done", name, message))

    def note(self, message):
        self.events.append(("note", "", message))


@pytest.fixture
def settings(shared_data_dir, project):
    return load_settings(project)


@pytest.fixture
def ca_bundle(tmp_path, monkeypatch) -> Path:
    bundle = tmp_path / "host-ca.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nhost\n-----END CERTIFICATE-----\n")
    monkeypatch.setattr(rootfs, "HOST_CA_BUNDLE", bundle)
    return bundle


@pytest.fixture
def docker(monkeypatch, ca_bundle):
    """Install a FakeDocker at the seam in every module that runs commands."""

    def install(fake: FakeDocker) -> FakeDocker:
        for module in (images, buildlog, rootfs):
            monkeypatch.setattr(module, "runner", fake)
        monkeypatch.setattr(rootfs, "check_tools", lambda: None)
        return fake

    return install


def by_name(planned, name: str):
    return next(b for b in planned.builds if b.name == name)


class NoCalls:
    def run(self, cmd):
        raise AssertionError(f"plan_images ran {cmd.argv}")

    stream = run


# -- planning ---------------------------------------------------------------------------------------
def test_offline_plan_builds_everything_from_the_debootstrap_base(settings, ca_bundle, monkeypatch):
    monkeypatch.setattr(images, "runner", NoCalls())  # pure: no docker calls
    planned = plan_images(settings, REQUIREMENTS, offline=True)
    names = [b.name for b in planned.builds]
    assert names == ["base", "airflow-mwaa", "airflow", "tools", "postgres"]
    assert all(TAG.match(b.tag) for b in planned.builds)
    base, mwaa, project, tools, postgres = planned.builds
    assert (mwaa.base, tools.base, postgres.base, project.base) == (base.tag, base.tag, base.tag, mwaa.tag)
    assert planned.airflow == project.tag and planned.tools == tools.tag and planned.postgres == postgres.tag
    assert planned.kafka == planned.elasticsearch == planned.aws == planned.tools
    assert planned.offline is True


def test_blank_requirements_use_the_mwaa_image_itself(settings, ca_bundle):
    planned = plan_images(settings, "  \n", offline=True)
    assert [b.name for b in planned.builds] == ["base", "airflow-mwaa", "tools", "postgres"]
    assert planned.airflow == planned.builds[1].tag


def test_registry_plan_builds_airflow_and_tools_from_python_slim(settings, ca_bundle):
    planned = plan_images(settings, "", offline=False)
    assert [b.name for b in planned.builds] == ["airflow-mwaa", "tools"]
    assert {b.base for b in planned.builds} == {"python:3.11-slim-bookworm"}
    assert planned.postgres == "postgres:16-bookworm"
    assert planned.kafka.startswith("apache/kafka:3.") and "elasticsearch:8.13." in planned.elasticsearch
    assert planned.aws == f"motoserver/moto:{metadata.version('moto')}"
    assert plan_images(replace(settings, aws_emulator="localstack"), "", offline=False).aws == images.LOCALSTACK_IMAGE
    for name in (planned.postgres, planned.kafka, planned.elasticsearch, planned.aws):
        assert ":" in name and not name.endswith(":latest")
    assert planned.offline is False


def test_tags_are_stable_and_follow_their_inputs(settings, ca_bundle, shared_data_dir, tmp_path):
    first = plan_images(settings, REQUIREMENTS, offline=True)
    assert plan_images(settings, REQUIREMENTS, offline=True) == first
    other_reqs = plan_images(settings, REQUIREMENTS + "lz4\n", offline=True)
    assert other_reqs.airflow != first.airflow
    assert (other_reqs.tools, other_reqs.postgres) == (first.tools, first.postgres)

    data = tmp_path / "data"
    shutil.copytree(shared_data_dir, data)
    (data / ESSENTIAL_FILE).write_text((data / ESSENTIAL_FILE).read_text() + "# changed\n")
    other_data = plan_images(replace(settings, mwaa_data_dir=data), REQUIREMENTS, offline=True)
    assert other_data.builds[1].tag != first.builds[1].tag and other_data.airflow != first.airflow
    assert (other_data.tools, other_data.postgres) == (first.tools, first.postgres)

    ca_bundle.write_text(ca_bundle.read_text() + "another CA\n")
    other_ca = plan_images(settings, REQUIREMENTS, offline=True)
    assert not {b.tag for b in other_ca.builds} & {b.tag for b in first.builds}


def test_airflow_context_holds_mwaa_data_specs_and_uv_pin(settings, ca_bundle, shared_data_dir):
    mwaa = by_name(plan_images(settings, "", offline=True), "airflow-mwaa")
    files = dict(mwaa.files)
    for name in (CONSTRAINTS_FILE, ESSENTIAL_FILE, IMAGE_PACKAGES_FILE):
        assert files[f"mwaa/{name}"] == (shared_data_dir / name).read_bytes()
    assert files["mwaa/base-specs.txt"].decode().split() == list(BASE_SPECS)
    assert files["host-ca.crt"] == ca_bundle.read_bytes()
    pyproject = tomllib.loads((recipes.SOURCE_ROOT / "pyproject.toml").read_text())
    assert f"uv=={dict(mwaa.build_args)['UV_VERSION']}" in pyproject["project"]["dependencies"]


def test_project_requirements_point_at_the_image_copies_of_constraints(settings, ca_bundle):
    project = plan_images(settings, REQUIREMENTS, offline=True).builds[2]
    text = dict(project.files)["requirements.mwaa.txt"].decode()
    assert text.splitlines()[0] == f"--constraint /opt/airflow/mwaa/{CONSTRAINTS_FILE}"
    assert str(settings.mwaa_data_dir) not in text
    assert dict(project.build_args)["CONSTRAINTS"] == f"/opt/airflow/mwaa/{ESSENTIAL_FILE}"
    forced = plan_images(settings, "confluent-kafka==2.4.0\n", offline=True).builds[2]
    assert dict(forced.build_args)["CONSTRAINTS"].split() == [
        f"/opt/airflow/mwaa/{ESSENTIAL_FILE}", f"/opt/airflow/mwaa/{CONSTRAINTS_FILE}"]


def test_tools_context_is_pyproject_dependencies_plus_the_source(settings, ca_bundle):
    tools = by_name(plan_images(settings, "", offline=True), "tools")
    files = dict(tools.files)
    pyproject = tomllib.loads(files["src/pyproject.toml"].decode())
    assert files["dependencies.txt"].decode().splitlines() == pyproject["project"]["dependencies"]
    assert files["src/sandbox/runtime/compose/images.py"] == Path(images.__file__).read_bytes()
    assert not [p for p in files if "__pycache__" in p or p.endswith(".pyc")]


def test_every_dockerfile_builds_from_the_base_argument():
    for recipe in ("airflow", "airflow-project", "tools", "postgres"):
        text = (recipes.IMAGES_DIR / recipe / "Dockerfile").read_text()
        lines = [l for l in text.splitlines() if l.strip() and not l.startswith("#")]
        assert lines[0].startswith("ARG BASE") and lines[1] == "FROM ${BASE}", recipe


# -- missing images ---------------------------------------------------------------------------------
def test_missing_images_asks_docker_for_each_local_build(settings, docker):
    planned = plan_images(settings, REQUIREMENTS, offline=True)
    fake = docker(FakeDocker(existing={planned.builds[0].tag, planned.tools}))
    assert missing_images(planned) == [planned.builds[1].tag, planned.airflow, planned.postgres]
    assert all(c[:3] == ("docker", "image", "inspect") for c in fake.commands)


def test_no_engine_is_a_clear_error(settings, docker):
    planned = plan_images(settings, "", offline=True)
    docker(FakeDocker(inspect_error="Cannot connect to the Docker daemon at unix:///var/run/docker.sock."))
    with pytest.raises(CommandFailed) as caught:
        missing_images(planned)
    assert "Docker engine did not answer" in caught.value.message and "dockerd" in caught.value.hint


def test_no_docker_cli_is_a_missing_tool(settings, docker):
    class NoDocker(FakeDocker):
        def run(self, cmd):
            raise ToolMissingError("docker not found")

    planned = plan_images(settings, "", offline=True)
    docker(NoDocker())
    with pytest.raises(ToolMissingError) as caught:
        missing_images(planned)
    assert "docker.io" in caught.value.hint


# -- building ---------------------------------------------------------------------------------------
def test_warm_ensure_builds_nothing(settings, docker):
    planned = plan_images(settings, REQUIREMENTS, offline=True)
    fake = docker(FakeDocker(existing={b.tag for b in planned.builds}))
    result, built = ensure_images(settings, REQUIREMENTS, offline=True, progress=RecordingProgress())
    assert built == [] and result == planned and fake.builds() == []


def test_cold_offline_ensure_builds_base_then_each_image(settings, docker, ca_bundle):
    fake = docker(FakeDocker())
    progress = RecordingProgress()
    planned, built = ensure_images(settings, REQUIREMENTS, offline=True, progress=progress)
    base = planned.builds[0].tag
    assert built == [b.tag for b in planned.builds]
    debootstrap = next(c for c in fake.commands if c[0] == "debootstrap")
    assert "--variant=minbase" in debootstrap and "bookworm" in debootstrap
    assert "python3-venv" in next(a for a in debootstrap if a.startswith("--include="))
    imported = next(c for c in fake.commands if c[:2] == ("docker", "import"))
    assert imported[-1] == base and "ENV LANG=C.UTF-8" in imported
    assert fake.builds() == built[1:]
    for command in (c for c in fake.commands if c[:2] == ("docker", "build")):
        assert command[command.index("--network") + 1] == "host"
    mwaa_build = next(c for c in fake.commands if c[:2] == ("docker", "build") and planned.builds[1].tag in c)
    assert f"BASE={base}" in mwaa_build
    context = fake.contexts[planned.builds[1].tag]
    assert {"Dockerfile", "verify-pins.py", "trust-host-ca.sh", "host-ca.crt",
            f"mwaa/{IMAGE_PACKAGES_FILE}"} <= set(context)
    assert context["host-ca.crt"] == ca_bundle.read_bytes()
    assert [e[1] for e in progress.events if e[0] == "done"] == [b.name for b in planned.builds]


def test_the_rootfs_gets_the_host_ca_and_loses_apt_lists(settings, docker, ca_bundle, monkeypatch):
    seen = {}
    real_finish = rootfs.finish_rootfs

    def finish(root, bundle):
        real_finish(root, bundle)
        seen["ca"] = (root / "etc/ssl/certs/ca-certificates.crt").read_bytes()
        seen["lists"] = sorted(p.name for p in (root / "var/lib/apt/lists").iterdir())
        seen["apt"] = (root / "etc/apt/apt.conf.d/docker-clean").read_text()

    monkeypatch.setattr(rootfs, "finish_rootfs", finish)
    docker(FakeDocker())
    ensure_images(settings, "", offline=True, progress=RecordingProgress())
    assert seen["ca"] == ca_bundle.read_bytes()
    assert seen["lists"] == ["partial"]
    assert "archives/*.deb" in seen["apt"]
    assert not list((settings.cache_dir / "rootfs").iterdir())  # the build folder is gone


def test_only_what_is_missing_is_built_and_a_base_only_when_needed(settings, docker):
    planned = plan_images(settings, REQUIREMENTS, offline=True)
    base, mwaa, project, tools, postgres = planned.builds
    fake = docker(FakeDocker(existing={mwaa.tag, tools.tag, postgres.tag}))  # the base is gone
    _, built = ensure_images(settings, REQUIREMENTS, offline=True, progress=RecordingProgress())
    assert built == [project.tag]
    assert not [c for c in fake.commands if c[0] == "debootstrap"]


def test_a_missing_base_is_rebuilt_for_an_image_that_needs_it(settings, docker):
    planned = plan_images(settings, REQUIREMENTS, offline=True)
    base, mwaa, project, tools, postgres = planned.builds
    docker(FakeDocker(existing={mwaa.tag, project.tag, postgres.tag}))
    _, built = ensure_images(settings, REQUIREMENTS, offline=True, progress=RecordingProgress())
    assert built == [base.tag, tools.tag]


def test_registry_ensure_builds_only_airflow_and_tools(settings, docker):
    fake = docker(FakeDocker())
    planned, built = ensure_images(settings, "", offline=False, progress=RecordingProgress())
    assert built == [planned.airflow, planned.tools]
    assert not [c for c in fake.commands if c[0] == "debootstrap" or c[:2] == ("docker", "import")]
    assert all("BASE=python:3.11-slim-bookworm" in c for c in fake.commands if c[:2] == ("docker", "build"))


def test_a_failed_build_says_why_and_where_the_log_is(settings, docker):
    docker(FakeDocker(fail_build="airflow-mwaa"))
    with pytest.raises(EnvironmentBuildError) as caught:
        ensure_images(settings, "", offline=True, progress=RecordingProgress())
    error = caught.value
    assert "package set mismatch" in error.message and "exit code 1" in error.message
    log = settings.cache_dir / "image-builds" / "airflow-mwaa.log"
    assert str(log) in error.hint and "package set mismatch" in log.read_text()


def test_long_builds_report_their_step_and_last_line(settings, docker, monkeypatch):
    monkeypatch.setattr(buildlog, "REPORT_EVERY", 0.0)
    docker(FakeDocker(output=("Step 3/20 : RUN uv pip install", "\x1b[91m Downloaded apache-airflow\x1b[0m")))
    progress = RecordingProgress()
    ensure_images(settings, "", offline=False, progress=progress)
    lines = [e[2] for e in progress.events if e[0] == "step" and e[1] == "airflow-mwaa"]
    assert any(l.endswith("Step 3/20 : RUN uv pip install | Downloaded apache-airflow") for l in lines)


# -- the debootstrap base ---------------------------------------------------------------------------
def test_base_needs_debootstrap_root_and_a_ca_bundle(monkeypatch, ca_bundle):
    monkeypatch.setattr(rootfs.shutil, "which", lambda name: None)
    with pytest.raises(ToolMissingError) as caught:
        rootfs.check_tools()
    assert "apt-get install debootstrap" in caught.value.hint
    monkeypatch.setattr(rootfs.shutil, "which", lambda name: "/usr/sbin/debootstrap")
    monkeypatch.setattr(rootfs.os, "geteuid", lambda: 1000)
    with pytest.raises(EnvironmentBuildError, match="needs root"):
        rootfs.check_tools()
    monkeypatch.setattr(rootfs.os, "geteuid", lambda: 0)
    monkeypatch.setattr(rootfs, "HOST_CA_BUNDLE", ca_bundle.parent / "absent.crt")
    with pytest.raises(EnvironmentBuildError, match="CA certificates"):
        rootfs.check_tools()


def test_mounts_left_below_a_build_folder_are_found(tmp_path):
    build = tmp_path / "rootfs-x"
    mounts = tmp_path / "mounts"
    mounts.write_text(f"proc {build}/rootfs/proc proc rw 0 0\nsysfs /sys sysfs rw 0 0\n"
                      f"tmpfs {build}/rootfs/dev/my\\040shm tmpfs rw 0 0\n")
    assert rootfs.mounts_below(build, mounts) == [f"{build}/rootfs/dev/my shm", f"{build}/rootfs/proc"]


def test_base_tag_depends_on_the_ca_bundle():
    assert TAG.match(rootfs.base_tag(b"a"))
    assert rootfs.base_tag(b"a") == rootfs.base_tag(b"a") != rootfs.base_tag(b"b")


def test_an_unreachable_registry_points_at_offline_images(settings, docker):
    pull = 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'
    docker(FakeDocker(fail_build="airflow-mwaa", output=("Step 2/20 : FROM ${BASE}", pull)))
    with pytest.raises(EnvironmentBuildError) as caught:
        ensure_images(settings, "", offline=False, progress=RecordingProgress())
    assert "--offline-images" in caught.value.hint
    docker(FakeDocker(fail_build="airflow-mwaa"))  # a failure that is not the registry's
    with pytest.raises(EnvironmentBuildError) as caught:
        ensure_images(settings, "", offline=True, progress=RecordingProgress())
    assert "--offline-images" not in caught.value.hint and "PyPI" in caught.value.hint
