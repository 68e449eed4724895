"""MWAA's reference data files, read at run time (never shipped in this repository).

Looked up in `mwaa_data_dir` when set (tests and CI point it at ../shared/mwaa/2.9.2, or at
../shared/mwaa, which holds one folder per Airflow version), else in the cache, where they are
downloaded once from the official URLs. Other versions' files are looked up beside the
environment's own folder (`MwaaData.version_file`), never downloaded.
"""

from __future__ import annotations

import http.client
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sandbox.errors import DataNotFoundError

AIRFLOW_VERSION = "2.9.2"
PYTHON_VERSION = "3.11"  # the Python minor of MWAA's 2.9.2 image
CONSTRAINTS_FILE = "constraints-2.9.2-py3.11.txt"
ESSENTIAL_FILE = "mwaa-essential-constraints-2.9.2.txt"
IMAGE_PACKAGES_FILE = "mwaa-2.9.2-image-packages.txt"

CONSTRAINTS_URL = "https://raw.githubusercontent.com/apache/airflow/constraints-2.9.2/constraints-3.11.txt"
_MWAA_IMAGES = "https://raw.githubusercontent.com/aws/amazon-mwaa-docker-images/main/images/airflow/2.9.2"
OFFICIAL_URLS = {
    CONSTRAINTS_FILE: CONSTRAINTS_URL,
    ESSENTIAL_FILE: f"{_MWAA_IMAGES}/etc/mwaa_essential_constraints.txt",
    IMAGE_PACKAGES_FILE: f"{_MWAA_IMAGES}/BillOfMaterials/2.9.2/Python-Packages-BOM.txt",
}
# The BOM names each package by its installed dist-info folder.
_BOM_DIST_INFO = re.compile(r"site-packages/([A-Za-z0-9_.]+?)-([0-9][^/-]*)\.dist-info/")


@dataclass(frozen=True)
class MwaaData:
    directory: Path  # the environment's own version folder
    airflow_version: str = AIRFLOW_VERSION
    python_version: str = PYTHON_VERSION

    @property
    def constraints(self) -> Path:
        return self.directory / CONSTRAINTS_FILE

    @property
    def essential_constraints(self) -> Path:
        return self.directory / ESSENTIAL_FILE

    @property
    def image_packages(self) -> Path:
        return self.directory / IMAGE_PACKAGES_FILE

    @property
    def system_packages(self) -> Path:
        """The image's OS packages (name-version lines); optional, only the shared data has it."""
        return self.directory / f"mwaa-{self.airflow_version}-system-packages.txt"

    def image_pins(self) -> dict[str, str]:
        return read_pins(self.image_packages)

    def os_packages(self) -> list[str] | None:
        """The image's OS packages, or None when the data folder does not list them."""
        if not self.system_packages.is_file():
            return None
        return [line.strip() for line in self.system_packages.read_text().splitlines() if line.strip()]

    def version_file(self, airflow_version: str, pattern: str) -> Path | None:
        """A data file of any Airflow version: this folder for our own version, else the sibling
        folder named after the version (the shared data holds one per version). `pattern` is a
        glob; None unless exactly one file matches."""
        folder = (self.directory if airflow_version == self.airflow_version
                  else self.directory.parent / airflow_version)
        found = sorted(folder.glob(pattern)) if folder.is_dir() else []
        return found[0] if len(found) == 1 else None


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    """name==version lines of a constraints or package file, keyed by normalized name."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[normalize(name.split("[")[0].strip())] = version.split(";")[0].strip()
    return pins


def parse_bom(text: str) -> dict[str, str]:
    """Package pins from MWAA's Python-Packages-BOM.txt (a licence dump naming dist-info paths)."""
    return {normalize(m.group(1)): m.group(2) for m in _BOM_DIST_INFO.finditer(text)}


def locate(data_dir: Path | None, cache_dir: Path, offline: bool = False) -> MwaaData:
    if data_dir is not None:
        if _has_files(data_dir / AIRFLOW_VERSION):  # a folder of version folders
            data_dir = data_dir / AIRFLOW_VERSION
        missing = [f for f in OFFICIAL_URLS if not (data_dir / f).is_file()]
        if missing:
            raise DataNotFoundError(
                f"MWAA {AIRFLOW_VERSION} data not found: {data_dir} lacks {', '.join(missing)}",
                hint="point SANDBOX_MWAA_DATA_DIR at a folder holding "
                     f"{', '.join(OFFICIAL_URLS)} (or a {AIRFLOW_VERSION} folder with them), "
                     "or unset it to download them")
        return MwaaData(data_dir)
    cached = cache_dir / "mwaa" / AIRFLOW_VERSION
    missing = [f for f in OFFICIAL_URLS if not (cached / f).is_file()]
    if missing and offline:
        raise DataNotFoundError(
            f"MWAA {AIRFLOW_VERSION} data not found in {cached} and offline mode is on",
            hint="set SANDBOX_MWAA_DATA_DIR to a folder with the files, or run once with network")
    for name in missing:
        _download(name, cached)
    return MwaaData(cached)


def _has_files(folder: Path) -> bool:
    return all((folder / f).is_file() for f in OFFICIAL_URLS)


def _download(name: str, target_dir: Path) -> None:
    url = OFFICIAL_URLS[name]
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            text = response.read().decode("utf-8")
    except (OSError, http.client.HTTPException, UnicodeDecodeError) as exc:
        raise DataNotFoundError(
            f"MWAA {AIRFLOW_VERSION} data not found: could not download {name} from {url} ({exc})",
            hint=f"download it by hand into {target_dir}, or set SANDBOX_MWAA_DATA_DIR to a "
                 "folder holding the files") from exc
    if name == IMAGE_PACKAGES_FILE:
        pins = parse_bom(text)
        if not pins:
            raise DataNotFoundError(f"{url} did not list any packages", hint="report this as a bug")
        text = "".join(f"{n}=={v}\n" for n, v in sorted(pins.items()))
    target_dir.mkdir(parents=True, exist_ok=True)
    partial = target_dir / f".{name}.part"
    partial.write_text(text)
    partial.replace(target_dir / name)  # atomic: a half download never looks complete
