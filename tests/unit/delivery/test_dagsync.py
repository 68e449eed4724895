"""The S3 -> dags folder mirror: copy new and changed files, delete removed ones, skip caches."""

from __future__ import annotations

import os
from pathlib import Path

from sandbox.delivery.dagsync import mirror


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}


def test_first_sync_copies_everything(tmp_path):
    src, dst = tmp_path / "dags", tmp_path / "airflow" / "dags"
    write(src / "producer.py", "producer")
    write(src / "lib" / "helpers.py", "helpers")
    result = mirror(src, dst)
    assert result.copied == ["lib/helpers.py", "producer.py"]
    assert result.deleted == []
    assert tree(dst) == {"lib/helpers.py": "helpers", "producer.py": "producer"}


def test_second_sync_without_changes_does_nothing(tmp_path):
    src, dst = tmp_path / "dags", tmp_path / "out"
    write(src / "a.py", "a")
    mirror(src, dst)
    result = mirror(src, dst)
    assert (result.copied, result.deleted) == ([], [])


def test_updates_changed_and_deletes_removed(tmp_path):
    src, dst = tmp_path / "dags", tmp_path / "out"
    write(src / "keep.py", "same")
    write(src / "change.py", "v1")
    write(src / "gone.py", "bye")
    write(src / "sub" / "gone_too.sql", "select 1")
    mirror(src, dst)
    write(src / "change.py", "v2")  # same size, other content
    (src / "gone.py").unlink()
    (src / "sub" / "gone_too.sql").unlink()
    write(src / "new.py", "new")
    result = mirror(src, dst)
    assert result.copied == ["change.py", "new.py"]
    assert result.deleted == ["gone.py", "sub/gone_too.sql"]
    assert tree(dst) == {"keep.py": "same", "change.py": "v2", "new.py": "new"}


def test_same_size_and_mtime_is_still_compared_by_content(tmp_path):
    src, dst = tmp_path / "dags", tmp_path / "out"
    write(src / "a.py", "one")
    mirror(src, dst)
    stamp = os.stat(dst / "a.py")
    write(src / "a.py", "two")
    os.utime(src / "a.py", ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert mirror(src, dst).copied == ["a.py"]
    assert (dst / "a.py").read_text() == "two"


def test_skips_pycache_and_tool_folders(tmp_path):
    src, dst = tmp_path / "dags", tmp_path / "out"
    write(src / "a.py", "a")
    write(src / "__pycache__" / "a.cpython-311.pyc", "bytecode")
    write(src / "sub" / "__pycache__" / "b.pyc", "bytecode")
    write(src / ".git" / "HEAD", "ref")
    write(dst / "__pycache__" / "a.cpython-311.pyc", "airflow's own cache")
    result = mirror(src, dst)
    assert result.copied == ["a.py"]
    assert result.deleted == []  # the target's __pycache__ is not ours to delete
    assert tree(dst) == {"a.py": "a", "__pycache__/a.cpython-311.pyc": "airflow's own cache"}


def test_missing_source_empties_target(tmp_path):
    dst = tmp_path / "out"
    write(dst / "old.py", "old")
    result = mirror(tmp_path / "no-dags", dst)
    assert result.deleted == ["old.py"]
    assert tree(dst) == {}


def test_no_temporary_files_left(tmp_path):
    src, dst = tmp_path / "dags", tmp_path / "out"
    write(src / "a.py", "a")
    write(src / "deep" / "b.py", "b")
    mirror(src, dst)
    leftovers = [p.name for p in dst.rglob("*") if p.name.endswith(".sync")]
    assert leftovers == []
