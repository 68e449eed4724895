"""`sandbox requirements package`: plugins.zip for a private MWAA web server (no internet).

Wheels for MWAA's platform (manylinux x86_64, CPython 3.11) whatever the host is, the
constraints file beside them, and a requirements.txt that installs from them only, as the
AWS guide for private environments describes.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.deps import piplog
from sandbox.deps.check import INSTALL_TIMEOUT, read_requirements
from sandbox.deps.checker_env import Checker, index_url
from sandbox.deps.wheels import MWAA_GLIBC, parse_wheel_filename, sdist_name_version
from sandbox.errors import CommandFailed, SandboxError
from sandbox.mwaa.data import MwaaData, normalize
from sandbox.mwaa.requirements import plan_install
from sandbox.proc import runner

CONSTRAINTS_NAME = "constraints.txt"
# Every manylinux tag MWAA's glibc accepts; pip expands only the legacy names by itself.
PLATFORMS = ("manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64",
             *(f"manylinux_2_{minor}_x86_64" for minor in range(MWAA_GLIBC[1], 16, -1)))
# Lines that choose where pip looks; the packaged file replaces them with plugins.zip.
_SOURCE_LINE = re.compile(r"^\s*(--no-index|--find-links|-f\s|--index-url|-i\s|--extra-index-url)")
_CONSTRAINT_LINE = re.compile(r"^\s*(-c\s|--constraint[\s=])")


class PackagingError(SandboxError):
    """pip could not download wheels for MWAA's platform."""


@dataclass
class Package:
    plugins_zip: Path
    requirements: Path
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already in MWAA's image


def platform_args() -> list[str]:
    args = ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp"]
    for tag in PLATFORMS:
        args += ["--platform", tag]
    return args


def packaged_requirements(text: str, has_constraints: bool) -> str:
    """The user's requirements, installing only from plugins.zip (constraints from there too)."""
    kept = [l for l in text.splitlines() if not _SOURCE_LINE.match(l) and not _CONSTRAINT_LINE.match(l)]
    head = ["--no-index", f"--find-links {piplog.MWAA_PLUGINS_DIR}"]
    if has_constraints:
        head.append(f"--constraint {piplog.MWAA_PLUGINS_DIR}/{CONSTRAINTS_NAME}")
    return "\n".join(head + kept).rstrip() + "\n"


def build(checker: Checker, data: MwaaData, requirements: Path, output: Path) -> Package:
    """Download the wheels, drop those MWAA's image already has, write plugins.zip and requirements.txt."""
    text = read_requirements(requirements)
    plan = plan_install(text, data)
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mwaa-package-") as tmp:
        work = Path(tmp)
        source = "\n".join(l for l in plan.requirements.splitlines() if not _SOURCE_LINE.match(l))
        (work / "requirements.txt").write_text(source + "\n")
        wheels_dir = work / "wheels"
        _download(checker, work / "requirements.txt", plan.constraint_files, wheels_dir)
        package = Package(output / "plugins.zip", output / "requirements.txt")
        pins = data.image_pins()
        for path in sorted(wheels_dir.iterdir()):
            pair = _name_version(path.name)
            if pair and pins.get(normalize(pair[0])) == pair[1]:
                package.skipped.append(path.name)
                path.unlink()
            else:
                package.files.append(path.name)
        user_constraints = _has_user_constraints(text)
        # The constraints MWAA would apply, shipped beside the wheels (no URL works offline).
        shutil.copyfile(data.constraints, wheels_dir / CONSTRAINTS_NAME)
        _zip(wheels_dir, package.plugins_zip)
    package.requirements.write_text(packaged_requirements(text, user_constraints))
    return package


def _has_user_constraints(text: str) -> bool:
    return any(_CONSTRAINT_LINE.match(l) for l in text.splitlines())


def _download(checker: Checker, requirements: Path, constraints: tuple[Path, ...], dest: Path) -> None:
    args = ["download", "--progress-bar", "off", "--dest", str(dest), "--index-url", index_url(),
            *platform_args(), "-r", str(requirements)]
    for constraint in constraints:
        args += ["--constraint", str(constraint)]
    try:
        result = runner.run(checker.pip(*args, timeout=INSTALL_TIMEOUT))
    except CommandFailed as exc:
        raise PackagingError(f"downloading wheels took longer than {INSTALL_TIMEOUT // 60} minutes",
                             hint="check the network, or trim requirements.txt") from exc
    if not result.ok:
        lines = result.stdout.strip().splitlines()
        failure = piplog.read_failure(lines, result.returncode)
        raise PackagingError(f"pip could not download wheels for MWAA (Linux x86_64, CPython 3.11): "
                             f"{failure.conflict}",
                             hint="a package with no manylinux wheel must be built on Linux x86_64 "
                                  "and its wheel added by hand", details="\n".join(lines[-20:]))


def _name_version(filename: str) -> tuple[str, str] | None:
    if filename.endswith(".whl"):
        wheel = parse_wheel_filename(filename)
        return wheel.name, wheel.version
    return sdist_name_version(filename)


def _zip(folder: Path, target: Path) -> None:
    partial = target.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)  # at the top: --find-links does not look deeper
    partial.replace(target)
