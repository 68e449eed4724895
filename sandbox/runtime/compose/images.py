"""The compose runtime's images: which ones (planned without Docker, tagged by a hash of their
inputs) and building the locally built ones that are missing.

Offline (`--offline-images`, no registry): everything is built here, from a debootstrap Debian
base; Kafka, Elasticsearch and the AWS emulator run from the tools image (noida-db, moto).
Registry: Airflow and the tools image are built locally FROM python:3.11-slim-bookworm; the other
services use pinned official images, which compose pulls.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from sandbox.errors import CommandFailed, ToolMissingError
from sandbox.mwaa.data import locate
from sandbox.proc import Command, runner
from sandbox.runtime.compose import recipes, rootfs
from sandbox.runtime.compose.engine import ENGINE_HINT
from sandbox.runtime.compose.buildlog import LoggedRun, registry_unreachable, run_logged
from sandbox.runtime.compose.recipes import ImageBuild

# Pinned registry images (registry mode only).
REGISTRY_IMAGES = {
    "postgres": "postgres:16-bookworm",
    "kafka": "apache/kafka:3.7.1",  # KRaft, single node
    "elasticsearch": "docker.elastic.co/elasticsearch/elasticsearch:8.13.4",
}
# The AWS emulator (setting aws_emulator): moto's server image at the native runtime's moto
# version, or LocalStack's last community release that needs no auth token.
LOCALSTACK_IMAGE = "localstack/localstack:3.8.1"
BUILD_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Images:
    airflow: str  # MWAA's package set + the project's requirements.txt installed the MWAA way
    tools: str  # mwaa-sandbox's venv: moto server, noida-db, the dagsync loop
    postgres: str
    kafka: str  # offline: == tools (noida-db --only kafka)
    elasticsearch: str  # offline: == tools (noida-db --only elasticsearch)
    aws: str  # offline: == tools (moto server)
    offline: bool
    # Every image built locally, in build order (each one's base before it).
    builds: tuple[ImageBuild, ...] = field(default=(), repr=False, compare=False)


def plan_images(settings, requirements_text: str, *, offline: bool) -> Images:
    """The images for these inputs, tagged by their hashes. Never calls Docker (MWAA's data
    files may be downloaded into the cache once, as for every command that needs them)."""
    data = locate(settings.mwaa_data_dir, settings.cache_dir, settings.offline)
    ca_bundle = rootfs.host_ca_bundle()
    builds: list[ImageBuild] = []
    if offline:
        python_base = rootfs.base_tag(ca_bundle)
        builds.append(ImageBuild("base", python_base, "", "", files=(("host-ca.crt", ca_bundle),)))
    else:
        python_base = recipes.REGISTRY_PYTHON
    airflow_mwaa = recipes.airflow_mwaa_build(data, python_base, ca_bundle)
    project = recipes.airflow_project_build(airflow_mwaa, requirements_text, data)
    tools = recipes.tools_build(python_base, ca_bundle)
    builds += [airflow_mwaa, *([project] if project else []), tools]
    airflow = (project or airflow_mwaa).tag
    if not offline:
        return Images(airflow, tools.tag, aws=registry_aws_image(settings), offline=False,
                      builds=tuple(builds), **REGISTRY_IMAGES)
    postgres = recipes.postgres_build(python_base)
    builds.append(postgres)
    return Images(airflow, tools.tag, postgres.tag, kafka=tools.tag, elasticsearch=tools.tag,
                  aws=tools.tag, offline=True, builds=tuple(builds))


def registry_aws_image(settings) -> str:
    if getattr(settings, "aws_emulator", "moto") == "localstack":
        return LOCALSTACK_IMAGE
    return f"motoserver/moto:{metadata.version('moto')}"


def registry_images(images: Images) -> list[str]:
    """What registry mode pulls: the base the local builds start FROM and the services' images."""
    if images.offline:
        return []
    return [recipes.REGISTRY_PYTHON, images.postgres, images.kafka, images.elasticsearch, images.aws]


def unreachable_registry(images: Images, progress) -> str | None:
    """None when every registry image is here or the first missing one pulls; otherwise the
    line docker printed about the registry it could not reach."""
    missing = [tag for tag in registry_images(images) if not image_exists(tag)]
    if not missing:
        return None
    progress.step("images", f"pulling {missing[0]}")
    result = runner.run(Command.of("docker", "pull", missing[0], timeout=600))
    output = (result.stderr + result.stdout).strip()
    if result.ok or not registry_unreachable(output):
        return None  # pulled, or some other failure that `compose up` reports with its remedy
    return output.splitlines()[-1] if output else "docker pull failed"


def missing_images(images: Images) -> list[str]:
    """The locally built images `docker image inspect` does not find, in build order."""
    return [build.tag for build in images.builds if not image_exists(build.tag)]


def image_exists(tag: str) -> bool:
    try:
        result = runner.run(Command.of("docker", "image", "inspect", "--format", "{{.Id}}", tag,
                                       timeout=60))
    except ToolMissingError as exc:
        raise ToolMissingError("docker not found; the compose runtime needs the Docker CLI and engine",
                               hint="install Docker (apt-get install docker.io), or use --runtime native") from exc
    if result.ok:
        return True
    if "no such image" in (result.stderr + result.stdout).lower():
        return False
    raise CommandFailed(f"the Docker engine did not answer `docker image inspect {tag}`",
                        hint=ENGINE_HINT, details=(result.stderr or result.stdout).strip() or None)


def ensure_images(settings, requirements_text: str, *, offline: bool,
                  progress) -> tuple[Images, list[str]]:
    """Build the missing images (and the missing bases they need); returns the tags built."""
    images = plan_images(settings, requirements_text, offline=offline)
    lock_path = settings.cache_dir / "image-builds" / "build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second `up` waits instead of building twice
        todo = builds_needed(images, set(missing_images(images)))
        for build in todo:
            started = time.monotonic()
            progress.step(build.name, f"building {build.tag}")
            build_image(build, settings.cache_dir, progress)
            progress.done(build.name, f"built {build.tag} in {time.monotonic() - started:.0f} s")
    return images, [build.tag for build in todo]


def builds_needed(images: Images, missing: set[str]) -> list[ImageBuild]:
    """The missing images the services use, plus missing bases they build FROM (a base alone
    is not rebuilt while everything built on it exists)."""
    used = {images.airflow, images.tools, images.postgres, images.kafka, images.elasticsearch, images.aws}
    needed = used & missing
    for build in reversed(images.builds):
        if build.tag in needed and build.base in missing:
            needed.add(build.base)
    return [build for build in images.builds if build.tag in needed]


def build_image(build: ImageBuild, cache_dir: Path, progress) -> None:
    log_dir = cache_dir / "image-builds"
    if not build.recipe:
        rootfs.build_base(build.tag, dict(build.files)["host-ca.crt"], work_dir=cache_dir / "rootfs",
                          log_dir=log_dir, progress=progress, name=build.name)
        return
    context = Path(tempfile.mkdtemp(prefix=f"context-{build.name}-", dir=_ensure(log_dir)))
    try:
        write_context(build, context)
        run = LoggedRun(build.name, f"building {build.tag}", log_dir / f"{build.name}.log", BUILD_TIMEOUT)
        run_logged(build_argv(build, context), run, progress)
    finally:
        shutil.rmtree(context, ignore_errors=True)


def write_context(build: ImageBuild, context: Path) -> None:
    """The Dockerfile folder, the common files and the generated inputs, nothing else."""
    for relative, content in (*recipes.recipe_files(build.recipe), *build.files):
        path = context / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        if relative.endswith(".sh"):
            path.chmod(0o755)


def build_argv(build: ImageBuild, context: Path) -> tuple[str, ...]:
    args = [a for name, value in (("BASE", build.base), *build.build_args)
            for a in ("--build-arg", f"{name}={value}")]
    return ("docker", "build", "--network", "host", "--force-rm", "--tag", build.tag,
            "--label", f"org.mwaa-sandbox.inputs={build.tag.rsplit(':', 1)[1]}",
            *args, str(context))


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
