"""plugins.zip as a private MWAA web server sees it: a folder of wheels for `--find-links`."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.deps import wheels
from sandbox.errors import ConfigError
from sandbox.mwaa import constraints
from sandbox.mwaa.data import normalize

_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


@dataclass
class PluginsFolder:
    """What came out of plugins.zip: the folder, its distributions, and what is wrong with them."""

    path: Path
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def usable_names(self) -> set[str]:
        """Normalized project names with a distribution MWAA can install."""
        names = set()
        for name in self.files:
            if name.endswith(".whl"):
                if wheels.describe_problem(name) is None:
                    names.add(wheels.parse_wheel_filename(name).key)
            elif (sdist := wheels.sdist_name_version(name)):
                names.add(normalize(sdist[0]))
        return names


def is_distribution(name: str) -> bool:
    return name.endswith(".whl") or wheels.sdist_name_version(name) is not None


def extract(zip_path: Path, target: Path) -> PluginsFolder:
    """Copy the distributions at the top of plugins.zip into target; list what cannot work."""
    target.mkdir(parents=True, exist_ok=True)
    folder = PluginsFolder(target)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{zip_path} is not a readable zip file ({exc})",
                          hint="rebuild it, e.g. with `sandbox requirements package`") from None
    with archive:
        for info in archive.infolist():
            base = info.filename.rsplit("/", 1)[-1]
            if info.is_dir() or not (is_distribution(base) or base.endswith(".txt")):
                continue
            if "/" in info.filename.strip("/"):  # in a subfolder
                if is_distribution(base):
                    folder.problems.append(
                        f"{info.filename}: not at the top of plugins.zip, so "
                        "`--find-links /usr/local/airflow/plugins` does not see it")
                continue
            (target / base).write_bytes(archive.read(info))
            if is_distribution(base):
                folder.files.append(base)
    folder.problems.extend(p for f in sorted(folder.files) if (p := wheels.describe_problem(f)))
    return folder


def url_constraints(text: str) -> list[str]:
    """Constraint URLs in requirements.txt: a web server with no internet cannot fetch them."""
    return [t for t in constraints.targets(text) if constraints.is_url(t)]


def requirement_specs(text: str) -> list[tuple[str, str]]:
    """(normalized name, the requirement as written) for each package line of requirements.txt."""
    specs = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")) or "://" in line or line.startswith((".", "/")):
            continue
        match = _REQ_NAME.match(line)
        if match:
            specs.append((normalize(match.group(1)), line.split(";", 1)[0].strip()))
    return specs


def missing_wheels(text: str, folder: PluginsFolder, image_pins: dict[str, str]) -> list[str]:
    """Each requirement with no installable distribution in plugins.zip and not in the image."""
    usable = folder.usable_names()
    problems = []
    for name, spec in requirement_specs(text):
        if name in usable:
            continue
        if name in image_pins and _pinned_version(spec) in (None, image_pins[name]):
            continue  # already installed on MWAA at a version the line accepts
        found = [f for f in folder.files if _file_key(f) == name]
        why = "only an incompatible wheel" if found else "no wheel"
        problems.append(f"{spec}: {why} in plugins.zip")
    return problems


def _pinned_version(spec: str) -> str | None:
    """The version of an exact `==` pin; None (any range) leaves the judgement to pip."""
    match = re.fullmatch(r"[^<>=!~]*===?\s*([^\s,;]+)\s*", spec)
    return match.group(1) if match else None


def _file_key(filename: str) -> str:
    if filename.endswith(".whl"):
        return wheels.parse_wheel_filename(filename).key
    sdist = wheels.sdist_name_version(filename)
    return normalize(sdist[0]) if sdist else ""
