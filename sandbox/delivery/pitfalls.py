"""The mistakes that silently break MWAA deployments, found in what is about to be uploaded.

Pure functions over the DAG folder's files (posix paths relative to the DAG folder); each
returns Pitfall values, never prints. Decisions:
- MWAA reads requirements.txt, plugins.zip and startup.sh only at the keys mwaa.yaml names
  (RequirementsS3Path, ...): a copy under the DAG prefix is never read, nor is one at the
  project root that no key names (a missing package then shows up only as a failing task).
- Non-Python files: Airflow never parses them, yet they are copied to every scheduler and
  worker. Exempt: `.airflowignore`, documentation (`.md`) and the files DAGs commonly read as
  templates or config (Airflow's usual template_ext: .sql .hql .sh .bash .json .yaml .yml
  .j2 .jinja .jinja2). Everything else is listed in one warning.
- Helper modules: Python files in subfolders that define no DAG (no `airflow` mention with a
  `DAG(` call or an `@dag` decorator) and that no .airflowignore pattern hides. Airflow
  imports every such file on each parsing loop; they belong in .airflowignore. Top-level
  files are left alone (a top-level file without a DAG is usually a mistake of its own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Mapping

from sandbox.delivery.airflowignore import IGNORE_FILE, ignored

# MWAA's own files and the mwaa.yaml field that says where MWAA reads each one.
MWAA_FILES = {"requirements.txt": "RequirementsS3Path", "plugins.zip": "PluginsS3Path",
              "startup.sh": "StartupScriptS3Path"}
EXEMPT_SUFFIXES = frozenset({".py", ".md", ".sql", ".hql", ".sh", ".bash", ".json", ".yaml", ".yml",
                             ".j2", ".jinja", ".jinja2"})
_DAG_CALL = re.compile(r"\bDAG\s*\(|^\s*@(?:[\w.]+\.)?dag\b", re.MULTILINE)
_LISTED = 5  # names shown in a grouped warning before "+N more"
# What is lost when MWAA never reads the file: the warning says it so the cause is recognisable.
_IGNORED_EFFECT = {"requirements.txt": "none of its packages is installed",
                   "plugins.zip": "none of its plugins or wheels is loaded",
                   "startup.sh": "it never runs and nothing it exports reaches Airflow"}


@dataclass(frozen=True)
class Pitfall:
    code: str  # misplaced-mwaa-file | ignored-mwaa-file | non-python-files | helper-modules | missing-file
    message: str
    paths: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "paths": list(self.paths)}


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:_LISTED])
    return shown + (f" (+{len(paths) - _LISTED} more)" if len(paths) > _LISTED else "")


def misplaced_mwaa_files(dag_prefix: str, rel_paths: list[str],
                         configured: Mapping[str, str | None]) -> list[Pitfall]:
    """requirements.txt / plugins.zip / startup.sh under the DAG prefix, one warning per name
    (shallowest copy first). `configured` maps each mwaa.yaml field (RequirementsS3Path, ...)
    to its value (None when unset)."""
    by_name: dict[str, list[str]] = {}
    for rel in sorted(rel_paths, key=lambda r: (r.count("/"), r)):
        name = PurePosixPath(rel).name
        if name in MWAA_FILES:
            by_name.setdefault(name, []).append(rel)
    found = []
    for name, rels in sorted(by_name.items()):
        field = MWAA_FILES[name]
        where = configured.get(field)
        target = f"{field} ({where})" if where else f"{field}, which mwaa.yaml does not set"
        found.append(Pitfall(
            "misplaced-mwaa-file",
            f"{_listing([dag_prefix + r for r in rels])}: MWAA never reads {name} under the DAG "
            f"folder; it reads only {target}. A whole-repository `aws s3 sync . "
            f"s3://BUCKET/{dag_prefix}` puts it there: sync only the DAG folder into "
            f"{dag_prefix or 'the bucket root'}",
            tuple(rels)))
    return found


def non_python_files(dag_prefix: str, rel_paths: list[str]) -> list[Pitfall]:
    """One warning listing the DAG folder's non-Python files that are neither exempt nor MWAA
    files (those have their own warning)."""
    odd = []
    for rel in sorted(rel_paths):
        path = PurePosixPath(rel)
        if path.name == IGNORE_FILE or path.name in MWAA_FILES:
            continue
        if "".join(path.suffixes[-1:]).lower() in EXEMPT_SUFFIXES:
            continue
        odd.append(rel)
    if not odd:
        return []
    return [Pitfall(
        "non-python-files",
        f"{len(odd)} non-Python file(s) in the DAG folder {dag_prefix}: {_listing(odd)}. Airflow "
        "never parses them but MWAA copies them to every scheduler and worker (a .zip is even "
        "opened as packaged DAGs): remove them unless a DAG reads them",
        tuple(odd))]


def defines_dag(source: str) -> bool:
    """The heuristic: mentions airflow and builds a DAG (`DAG(` or an `@dag` decorator)."""
    return "airflow" in source and _DAG_CALL.search(source) is not None


def helper_modules(dag_prefix: str, sources: Mapping[str, str],
                   ignore_files: Mapping[str, str]) -> list[Pitfall]:
    """Python files in subfolders that define no DAG and no .airflowignore hides; one warning
    per top-level subfolder, with the line to add. `sources` maps each .py path to its text."""
    hidden = ignored(list(sources), ignore_files)
    by_folder: dict[str, list[str]] = {}
    for rel, text in sorted(sources.items()):
        if "/" not in rel or not rel.endswith(".py") or rel in hidden or defines_dag(text):
            continue
        by_folder.setdefault(rel.split("/", 1)[0], []).append(rel)
    return [Pitfall(
        "helper-modules",
        f"helper module(s) {_listing(files)} define no DAG but Airflow imports them on every "
        f"parsing loop: list them in {dag_prefix}{IGNORE_FILE} (e.g. a line `{folder}/`); "
        "DAGs can still import them",
        tuple(files)) for folder, files in by_folder.items()]


def missing_files(configured: Mapping[str, str | None], present: set[str]) -> list[Pitfall]:
    """mwaa.yaml names a requirements/plugins/startup key the project has no file for."""
    return [Pitfall("missing-file",
                    f"mwaa.yaml sets {field}: {key} but the project has no file {key}; "
                    "nothing was uploaded for it and MWAA would fail to read it",
                    (key,))
            for field, key in configured.items() if key and key not in present]


def ignored_files(configured: Mapping[str, str | None], at_root: set[str]) -> list[Pitfall]:
    """MWAA's files at the project root (`at_root`: the names present there) that no mwaa.yaml
    key names: MWAA never reads them. One warning per file, saying how to make MWAA read it."""
    found = []
    for name, field in MWAA_FILES.items():
        key = configured.get(field)
        if name not in at_root or key == name:
            continue
        if key:
            why, fix = f"mwaa.yaml's {field} is {key}", f"set `{field}: {name}` or delete it"
        else:
            why, fix = f"mwaa.yaml does not set {field}", f"add `{field}: {name}` to mwaa.yaml"
        found.append(Pitfall("ignored-mwaa-file",
                             f"{name}: MWAA ignores this file because {why}, so "
                             f"{_IGNORED_EFFECT[name]}; {fix}", (name,)))
    return found
