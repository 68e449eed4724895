"""How MWAA installs a project's requirements.txt (the rules in the shared README)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sandbox.mwaa.data import CONSTRAINTS_URL, MwaaData

# MWAA's test for "the user gave constraints": any line, even a commented one, that matches.
CONSTRAINT_LINE_RE = re.compile(r"-c |--constraint ")
FORCED_WARNING = (
    "WARNING: Constraints should be specified for requirements.txt. Please see "
    "https://docs.aws.amazon.com/mwaa/latest/userguide/working-dags-dependencies.html"
    "#working-dags-dependencies-test-create"
)
FORCING_LINE = "Forcing local constraints"
# Constraint URLs users put in requirements.txt that we can serve from the local data dir.
_KNOWN_CONSTRAINT_URLS = (
    CONSTRAINTS_URL,
    "https://raw.githubusercontent.com/apache/airflow/constraints-2.9.2/constraints-3.11.txt",
)


def has_constraint_line(text: str) -> bool:
    return any(CONSTRAINT_LINE_RE.search(line) for line in text.splitlines())


@dataclass(frozen=True)
class InstallPlan:
    """What MWAA would run: requirements text (URLs made local) plus constraint files."""

    requirements: str
    constraint_files: tuple[Path, ...]
    forced: bool
    messages: tuple[str, ...]


def plan_install(requirements_text: str, data: MwaaData) -> InstallPlan:
    forced = not has_constraint_line(requirements_text)
    text = localize_constraint_urls(requirements_text, data)
    constraints = [data.essential_constraints]
    messages: tuple[str, ...] = ()
    if forced:
        constraints.append(data.constraints)
        messages = (FORCED_WARNING, FORCING_LINE)
    return InstallPlan(text, tuple(constraints), forced, messages)


def localize_constraint_urls(text: str, data: MwaaData) -> str:
    """Point the official constraints URL at the local copy, so installs work offline."""
    for url in _KNOWN_CONSTRAINT_URLS:
        text = text.replace(f'"{url}"', str(data.constraints)).replace(url, str(data.constraints))
    return text
