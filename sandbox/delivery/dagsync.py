"""Mirror a folder: copy new and changed files, delete removed ones (what MWAA's S3 sync does)."""

from __future__ import annotations

import filecmp
import shutil
from dataclasses import dataclass, field
from pathlib import Path

SKIP = {"__pycache__", ".git", ".github", ".sandbox", ".pytest_cache"}


@dataclass
class SyncResult:
    copied: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def _files(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        return {}
    found = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.is_file() and not SKIP.intersection(rel.parts):
            found[rel.as_posix()] = path
    return found


def mirror(source: Path, target: Path) -> SyncResult:
    result = SyncResult()
    target.mkdir(parents=True, exist_ok=True)
    wanted = _files(source)
    present = _files(target)
    for rel, src in sorted(wanted.items()):
        dst = target / rel
        if rel in present and filecmp.cmp(src, dst, shallow=False):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.sync")
        shutil.copy2(src, tmp)
        tmp.replace(dst)  # never let Airflow parse a half-written file
        result.copied.append(rel)
    for rel in sorted(set(present) - set(wanted)):
        (target / rel).unlink()
        result.deleted.append(rel)
    return result
