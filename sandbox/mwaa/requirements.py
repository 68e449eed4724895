"""How MWAA installs a project's requirements.txt (the rules in the shared README)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sandbox.mwaa import constraints as constraints_files
from sandbox.mwaa.data import MwaaData

# MWAA's test for "the user gave constraints": any line, even a commented one, that matches.
CONSTRAINT_LINE_RE = re.compile(r"-c |--constraint ")
FORCED_WARNING = (
    "WARNING: Constraints should be specified for requirements.txt. Please see "
    "https://docs.aws.amazon.com/mwaa/latest/userguide/working-dags-dependencies.html"
    "#working-dags-dependencies-test-create"
)
FORCING_LINE = "Forcing local constraints"


def has_constraint_line(text: str) -> bool:
    return any(CONSTRAINT_LINE_RE.search(line) for line in text.splitlines())


@dataclass(frozen=True)
class InstallPlan:
    """What MWAA would run: requirements text (URLs made local) plus constraint files."""

    requirements: str
    constraint_files: tuple[Path, ...]
    forced: bool
    messages: tuple[str, ...]


def plan_install(requirements_text: str, data: MwaaData, *, other_versions: bool = False) -> InstallPlan:
    """`other_versions`: also serve other Airflow versions' constraint URLs from the data folder
    (the check does; environment builds keep to files their image holds)."""
    forced = not has_constraint_line(requirements_text)
    text = localize_constraint_urls(requirements_text, data, other_versions)
    constraints = [data.essential_constraints]
    messages: tuple[str, ...] = ()
    if forced:
        constraints.append(data.constraints)
        messages = (FORCED_WARNING, FORCING_LINE)
    return InstallPlan(text, tuple(constraints), forced, messages)


def localize_constraint_urls(text: str, data: MwaaData, other_versions: bool = False) -> str:
    """Point constraint URLs the data folder has a copy of at that copy, so installs work offline."""
    for url, copy in constraints_files.local_copies(text, data).items():
        if other_versions or copy.parent == data.directory:
            text = text.replace(f'"{url}"', str(copy)).replace(url, str(copy))
    return text
