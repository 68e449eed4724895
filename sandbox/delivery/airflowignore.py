"""Which DAG-folder files Airflow 2.9 skips because of `.airflowignore` (the default `regexp` syntax).

Mirrors airflow.utils.file._find_path_from_directory: every `.airflowignore` adds its lines
(comments stripped, blank lines dropped, invalid regexps skipped) to the patterns of its folder
and every folder below it; each pattern is `re.search`ed against the path relative to the DAG
folder root (no trailing slash on folders); a matched folder is not descended into.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

IGNORE_FILE = ".airflowignore"
_COMMENT = re.compile(r"\s*#.*")


def parse_patterns(text: str) -> list[re.Pattern]:
    """The regexps of one .airflowignore file, in order; invalid ones are skipped as Airflow does."""
    patterns = []
    for line in text.split("\n"):
        line = _COMMENT.sub("", line)
        if not line:
            continue
        try:
            patterns.append(re.compile(line))
        except re.error:
            continue  # Airflow logs a warning and ignores the line
    return patterns


def _matches(rel: str, patterns: list[re.Pattern]) -> bool:
    return any(p.search(rel) for p in patterns)


def ignored(rel_paths: Iterable[str], ignore_files: Mapping[str, str]) -> set[str]:
    """The paths (posix, relative to the DAG folder) Airflow would not see.

    `ignore_files` maps a folder ("" for the root, "sub/dir" below it) to the text of its
    .airflowignore."""
    compiled = {folder: parse_patterns(text) for folder, text in ignore_files.items()}
    out = set()
    for rel in rel_paths:
        parts = rel.split("/")
        patterns = list(compiled.get("", []))
        hidden = False
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if _matches(folder, patterns):
                hidden = True
                break
            patterns += compiled.get(folder, [])
        if hidden or _matches(rel, patterns):
            out.add(rel)
    return out
