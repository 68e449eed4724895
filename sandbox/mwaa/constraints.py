"""Which constraints a requirements.txt points pip at (`-c`/`--constraint`), for which Airflow
and Python, and whether the MWAA data folder holds the same file.

MWAA downloads whatever the line names and pip uses it. When the named file is one the data
folder holds (any Airflow version it has a folder for), we hand pip that file instead of the URL:
the same constraints, with no network. The forms are a table: a new publisher or file name is a
row, never a branch.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sandbox.mwaa.data import MwaaData

_RAW = r"^https?://(?:raw\.githubusercontent\.com/{repo}/(?:refs/heads/)?|github\.com/{repo}/raw/(?:refs/heads/)?)"
_APACHE = _RAW.format(repo="apache/airflow") + r"constraints-(?P<airflow>[^/]+)/"
_MWAA = _RAW.format(repo="aws/amazon-mwaa-docker-images") + r"(?P<ref>[^/]+)/images/airflow/(?P<airflow>[^/]+)/etc/"


@dataclass(frozen=True)
class UrlForm:
    publisher: str
    pattern: re.Pattern
    data_file: str | None  # glob for the same file in the data folder; None: the folder has no copy
    variant: str = ""  # which of Airflow's constraint files, when not the full one


URL_FORMS = (
    UrlForm("apache/airflow", re.compile(_APACHE + r"constraints-(?P<python>\d+\.\d+)\.txt$"),
            "constraints-{airflow}-py{python}.txt"),
    UrlForm("apache/airflow", re.compile(_APACHE + r"constraints-no-providers-(?P<python>\d+\.\d+)\.txt$"),
            None, "no-providers"),
    UrlForm("apache/airflow", re.compile(_APACHE + r"constraints-source-providers-(?P<python>\d+\.\d+)\.txt$"),
            None, "source-providers"),
    # MWAA's own copies (images/airflow/<version>/etc/ of amazon-mwaa-docker-images): the Python
    # is the image's, which the data folder's file name tells.
    UrlForm("aws/amazon-mwaa-docker-images", re.compile(_MWAA + r"airflow_constraints\.txt$"),
            "constraints-{airflow}-py*.txt"),
    UrlForm("aws/amazon-mwaa-docker-images", re.compile(_MWAA + r"mwaa_essential_constraints\.txt$"),
            "mwaa-essential-constraints-{airflow}.txt", "MWAA essential"),
)
_DATA_PYTHON = re.compile(r"-py(\d+\.\d+)\.txt$")
_AIRFLOW_PIN = re.compile(r"^\s*apache[-_.]airflow\s*(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)", re.IGNORECASE)
_COMMENT = re.compile(r"(^|\s+)#.*$")


@dataclass(frozen=True)
class ConstraintsRef:
    """One `-c` target of requirements.txt and what it stands for."""

    source: str  # as written in requirements.txt
    publisher: str  # apache/airflow, aws/amazon-mwaa-docker-images, file, or url (not recognised)
    airflow_version: str | None = None
    python_version: str | None = None
    variant: str = ""
    local_copy: Path | None = None  # the data folder's copy, handed to pip instead of the URL

    @property
    def is_url(self) -> bool:
        return is_url(self.source)

    def matches(self, data: MwaaData) -> bool | None:
        if self.airflow_version is None:
            return None
        return (self.airflow_version == data.airflow_version
                and self.python_version in (None, data.python_version))

    def describe(self) -> str:
        """`Airflow 2.8.1 / Python 3.11 constraints`, the variant in brackets when not the full one."""
        python = f" / Python {self.python_version}" if self.python_version else ""
        variant = f" ({self.variant})" if self.variant else ""
        return f"Airflow {self.airflow_version}{python} constraints{variant}"

    def mismatch_line(self, data: MwaaData) -> str | None:
        """One line saying the constraints are another version's; None when they match."""
        if self.matches(data) is not False:
            return None
        return (f"requirements.txt constrains to {self.describe()}, but the environment runs "
                f"Airflow {data.airflow_version} on Python {data.python_version}")

    def to_json(self, data: MwaaData) -> dict:
        return {"source": self.source, "publisher": self.publisher,
                "airflow_version": self.airflow_version, "python_version": self.python_version,
                "variant": self.variant or None, "matches_environment": self.matches(data),
                "local_copy": str(self.local_copy) if self.local_copy else None,
                "line": self.mismatch_line(data)}


def is_url(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*://", target, re.IGNORECASE)) and not target.startswith("file:")


def targets(text: str) -> list[str]:
    """Every `-c`/`--constraint` target pip would read (comments are not lines for pip)."""
    found: list[str] = []
    for line in text.replace("\\\n", " ").splitlines():
        line = _COMMENT.sub("", line).strip()
        if not line.startswith("-"):
            continue
        try:
            tokens = shlex.split(line)
        except ValueError:
            tokens = line.split()
        for i, token in enumerate(tokens):
            if token in ("-c", "--constraint") and i + 1 < len(tokens):
                found.append(tokens[i + 1])
            elif token.startswith("--constraint="):
                found.append(token.split("=", 1)[1])
            elif token.startswith("-c") and not token.startswith("--") and len(token) > 2:
                found.append(token[2:])
    return found


def recognise(target: str, data: MwaaData, open_file: Callable[[str], Path | None]) -> ConstraintsRef:
    """What the target is; `open_file` finds a local target's file on this machine (or None)."""
    if not is_url(target):
        path = open_file(target)
        return _from_file(target, path) if path else ConstraintsRef(target, "file")
    for form in URL_FORMS:
        match = form.pattern.match(target)
        if match:
            return _from_url(target, form, match.groupdict(), data)
    return ConstraintsRef(target, "url")


def _from_url(target: str, form: UrlForm, groups: dict, data: MwaaData) -> ConstraintsRef:
    airflow, python = groups["airflow"], groups.get("python")
    copy = None
    if form.data_file:
        copy = data.version_file(airflow, form.data_file.format(airflow=airflow, python=python or "*"))
    if copy is not None and python is None and (found := _DATA_PYTHON.search(copy.name)):
        python = found.group(1)
    return ConstraintsRef(target, form.publisher, airflow, python, form.variant, copy)


def _from_file(target: str, path: Path) -> ConstraintsRef:
    """A local file names its Airflow by its apache-airflow pin; MWAA's copies also name the
    apache URL they came from in a comment, which tells the Python."""
    airflow = python = None
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ConstraintsRef(target, "file")
    for line in lines:
        pin = _AIRFLOW_PIN.match(line)
        if pin and airflow is None:
            airflow = pin.group(1)
        if python is None and line.lstrip().startswith("#"):
            python = _python_of(line.lstrip("# ").strip())
    return ConstraintsRef(target, "file", airflow, python)


def _python_of(url: str) -> str | None:
    for form in URL_FORMS:
        match = form.pattern.match(url)
        if match and match.groupdict().get("python"):
            return match.group("python")
    return None


def describe(text: str, data: MwaaData, open_file: Callable[[str], Path | None]) -> ConstraintsRef | None:
    """The constraints requirements.txt names: the first target that names an Airflow version,
    else the first target; None when there is no `-c` line."""
    refs = [recognise(t, data, open_file) for t in targets(text)]
    named = [r for r in refs if r.airflow_version]
    return (named or refs or [None])[0]


def local_copies(text: str, data: MwaaData) -> dict[str, Path]:
    """URL target -> the data folder's copy of the same file, for every target that has one."""
    copies = {}
    for target in targets(text):
        ref = recognise(target, data, lambda _: None)
        if ref.local_copy is not None:
            copies[target] = ref.local_copy
    return copies
