"""The checker's pip: the variables an sdist's metadata step gets from MWAA's image."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from sandbox.deps import checker_env
from sandbox.deps.checker_env import Checker
from sandbox.mwaa.data import MwaaData
from sandbox.settings import load_settings


def test_checker_pip_gets_the_build_variables(tmp_path):
    checker = Checker(Path("/t/python"), Path("/e/python"), tmp_path,
                      {"MYSQLCLIENT_CFLAGS": "-I/usr/include/mysql"})
    assert checker.pip("install", "x", timeout=5).env["MYSQLCLIENT_CFLAGS"] == "-I/usr/include/mysql"
    assert "MYSQLCLIENT_CFLAGS" not in Checker(Path("/t"), Path("/e"), tmp_path).pip("x", timeout=5).env


def test_ensure_checker_derives_the_variables_from_the_image(shared_data_dir, project, monkeypatch):
    class FakeBuilder:
        def __init__(self, **options):
            pass

        def ensure(self):
            return SimpleNamespace(python=Path("/image/bin/python"))

    monkeypatch.setattr(checker_env, "EnvironmentBuilder", FakeBuilder)
    monkeypatch.setattr(checker_env, "ensure_pip_tool", lambda settings, progress: Path("/tool/python"))
    checker = checker_env.ensure_checker(load_settings(project), MwaaData(shared_data_dir))
    assert checker.build_env["MYSQLCLIENT_LDFLAGS"] == "-L/usr/lib64 -lmariadb"  # MariaDB-devel in the image

