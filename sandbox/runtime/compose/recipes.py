"""What goes into each locally built image, decided without Docker: the Dockerfile folder under
compose/images/, the FROM image, build arguments and generated context files. A tag is a hash of
all of that, so an unchanged input never rebuilds and a changed one always does."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import sandbox
from sandbox.errors import EnvironmentBuildError
from sandbox.mwaa.data import MwaaData
from sandbox.mwaa.requirements import plan_install
from sandbox.environment.airflow_env import BASE_SPECS

REPOSITORY = "mwaa-sandbox"
SOURCE_ROOT = Path(sandbox.__file__).resolve().parent.parent  # the checkout: pyproject, compose/
IMAGES_DIR = SOURCE_ROOT / "compose" / "images"
COMMON_RECIPE = "common"  # files every build context gets
REGISTRY_PYTHON = "python:3.11-slim-bookworm"
IMAGE_MWAA_DIR = "/opt/airflow/mwaa"  # where the airflow image keeps MWAA's files
_SKIP_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".swp", "~")


@dataclass(frozen=True)
class ImageBuild:
    """One image to build with `docker build` (or, for the base, debootstrap + docker import)."""

    name: str  # progress step and image name: base, airflow-mwaa, airflow, tools, postgres
    tag: str
    recipe: str  # folder under compose/images/; "" for the debootstrap base
    base: str  # the FROM image (build argument BASE)
    build_args: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[str, bytes], ...] = ()  # generated context files: relative path -> content


def make_build(name: str, recipe: str, base: str, *, build_args: dict[str, str] | None = None,
               files: dict[str, bytes] | None = None) -> ImageBuild:
    args = tuple(sorted((build_args or {}).items()))
    extra = tuple(sorted((files or {}).items()))
    digest = hashlib.sha256()
    for part in (name, base, repr(args)):
        digest.update(part.encode() + b"\0")
    for relative, content in (*recipe_files(recipe), *extra):
        digest.update(relative.encode() + b"\0" + hashlib.sha256(content).digest())
    return ImageBuild(name, f"{REPOSITORY}/{name}:{digest.hexdigest()[:16]}", recipe, base, args, extra)


def recipe_files(recipe: str) -> tuple[tuple[str, bytes], ...]:
    """The Dockerfile folder's files plus the common ones, by their name in the build context."""
    if not recipe:
        return ()
    found: dict[str, bytes] = {}
    for folder in (IMAGES_DIR / COMMON_RECIPE, IMAGES_DIR / recipe):
        if not folder.is_dir():
            raise EnvironmentBuildError(
                f"the image recipe {folder} is missing",
                hint="run mwaa-sandbox from its source checkout (pip install -e .), which holds compose/images/")
        for path in sorted(folder.iterdir()):
            if path.is_file():
                found[path.name] = path.read_bytes()
    return tuple(sorted(found.items()))


def uv_version() -> str:
    """The uv the native runtime builds with (pyproject pins it), so both install alike."""
    return metadata.version("uv")


def airflow_mwaa_build(data: MwaaData, base: str, ca_bundle: bytes) -> ImageBuild:
    """Airflow with exactly MWAA's package set (the native runtime's install command)."""
    files = {f"mwaa/{path.name}": path.read_bytes()
             for path in (data.constraints, data.essential_constraints, data.image_packages)}
    files["mwaa/base-specs.txt"] = "".join(f"{spec}\n" for spec in BASE_SPECS).encode()
    files["host-ca.crt"] = ca_bundle
    return make_build("airflow-mwaa", "airflow", base, build_args={"UV_VERSION": uv_version()},
                      files=files)


def airflow_project_build(mwaa_image: ImageBuild, requirements_text: str,
                          data: MwaaData) -> ImageBuild | None:
    """The project's requirements.txt on top, the MWAA way; None when there is nothing to add."""
    if not requirements_text.strip():
        return None
    plan = plan_install(requirements_text, data)
    in_image = {str(path): f"{IMAGE_MWAA_DIR}/{path.name}"
                for path in (data.constraints, data.essential_constraints)}
    text = plan.requirements
    for host_path, image_path in in_image.items():  # plan_install points URLs at host copies
        text = text.replace(host_path, image_path)
    constraints = " ".join(f"{IMAGE_MWAA_DIR}/{path.name}" for path in plan.constraint_files)
    return make_build("airflow", "airflow-project", mwaa_image.tag,
                      build_args={"CONSTRAINTS": constraints},
                      files={"requirements.mwaa.txt": text.encode()})


def tools_build(base: str, ca_bundle: bytes) -> ImageBuild:
    """mwaa-sandbox from this checkout: dependencies (from pyproject) and source as context files."""
    pyproject = (SOURCE_ROOT / "pyproject.toml").read_bytes()
    files = {"dependencies.txt": dependencies_text(pyproject).encode(),
             "host-ca.crt": ca_bundle,
             "src/pyproject.toml": pyproject,
             # pyproject names a readme; the real one would rebuild the image on every doc edit
             "src/README.md": b"mwaa-sandbox, installed in the compose runtime's tools image\n"}
    files.update(source_files(SOURCE_ROOT / "sandbox", "src/sandbox"))
    return make_build("tools", "tools", base, build_args={"UV_VERSION": uv_version()}, files=files)


def postgres_build(base: str) -> ImageBuild:
    return make_build("postgres", "postgres", base)


def dependencies_text(pyproject: bytes) -> str:
    dependencies = tomllib.loads(pyproject.decode())["project"]["dependencies"]
    return "".join(f"{dep}\n" for dep in dependencies)


def source_files(folder: Path, prefix: str) -> dict[str, bytes]:
    """Every source file below folder (no caches or editor leftovers), keyed prefix/relative."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if (not path.is_file() or _SKIP_PARTS.intersection(relative.parts)
                or path.name.endswith(_SKIP_SUFFIXES)):
            continue
        files[f"{prefix}/{relative.as_posix()}"] = path.read_bytes()
    return files
