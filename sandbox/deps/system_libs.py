"""Source distributions whose metadata step needs a system library MWAA's image has.

pip prepares an sdist's metadata by running its build backend, and some setups look for a C
library there (mysqlclient asks pkg-config for the MySQL client). MWAA's image carries the
library's development package, this machine may not: without help the check would say `fail`
where MWAA installs. Each row names the OS package that justifies it and the variables that let
the setup skip its search; the pip of the check gets them only when MWAA's OS package list has
that package. They are read by the metadata step of a dry run: nothing is compiled or installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from sandbox.mwaa.data import MwaaData, normalize


@dataclass(frozen=True)
class SystemLibrary:
    package: str  # the sdist whose setup needs it
    library: str  # what to call it in a message
    os_package: str  # the image's OS package that provides it (name, without the version)
    env: Mapping[str, str]  # what the setup reads instead of searching


SYSTEM_LIBRARIES = (
    # mysqlclient's setup.py reads these before trying pkg-config (mysqlclient, mariadb,
    # libmariadb); MariaDB-devel puts its headers in /usr/include/mysql and links -lmariadb.
    SystemLibrary("mysqlclient", "the MySQL client library (MariaDB Connector/C)", "MariaDB-devel",
                  {"MYSQLCLIENT_CFLAGS": "-I/usr/include/mysql",
                   "MYSQLCLIENT_LDFLAGS": "-L/usr/lib64 -lmariadb"}),
)
# pip's words when a build backend step failed, naming the distribution.
_FAILED_BUILD = (
    re.compile(r"^ERROR: Failed to build '?([A-Za-z0-9][A-Za-z0-9._-]*)'?"),
    re.compile(r"^ERROR: Failed building wheel for ([A-Za-z0-9][A-Za-z0-9._-]*)"),
    re.compile(r"^\s*╰─> ([A-Za-z0-9][A-Za-z0-9._-]*)(?:\s*[=<>!~(].*)?$"),  # metadata-generation-failed
)


def _os_package_name(entry: str) -> str:
    """`MariaDB-devel-11.4.3` -> `MariaDB-devel` (the list holds name-version)."""
    name, _, version = entry.rpartition("-")
    return name if name and version[:1].isdigit() else entry


def image_has(data: MwaaData, library: SystemLibrary) -> bool | None:
    """True/False from MWAA's OS package list; None when the data folder has no such list."""
    packages = data.os_packages()
    if packages is None:
        return None
    return library.os_package in {_os_package_name(p) for p in packages}


def build_environment(data: MwaaData) -> dict[str, str]:
    """The variables pip's build steps get: those of every library MWAA's image has."""
    env: dict[str, str] = {}
    for library in SYSTEM_LIBRARIES:
        if image_has(data, library):
            env.update(library.env)
    return env


def failed_builds(lines: Iterable[str]) -> list[str]:
    """Distributions whose build step failed, normalised, in pip's order."""
    found: dict[str, None] = {}
    after_metadata_error = False
    for line in lines:
        if line.startswith("error: metadata-generation-failed"):
            after_metadata_error = True
        for pattern in _FAILED_BUILD:
            match = pattern.match(line)
            if match and (pattern is not _FAILED_BUILD[2] or after_metadata_error):
                found[normalize(match.group(1))] = None
    return list(found)


def unbuildable_here(lines: Iterable[str], data: MwaaData) -> SystemLibrary | None:
    """The library a failed build needed when MWAA's image has it (or may have it): then the
    failure says something about this machine, not about MWAA."""
    failed = set(failed_builds(lines))
    for library in SYSTEM_LIBRARIES:
        if normalize(library.package) in failed and image_has(data, library) is not False:
            return library
    return None
