"""The checker's pip: the variables an sdist's metadata step gets from MWAA's image, and the
probe that says why a URL cannot be fetched."""

from __future__ import annotations

import urllib.error
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


def _urlopen_raising(exc):
    def urlopen(request, timeout=None):
        raise exc
    return urlopen


def test_url_problem(monkeypatch):
    cases = [
        (urllib.error.HTTPError("u", 404, "Not Found", {}, None), None),  # answered: pip gets MWAA's 404
        (urllib.error.HTTPError("u", 503, "Service Unavailable", {}, None), "HTTP 503 Service Unavailable"),
        (urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")), "[Errno 111] Connection refused"),
        (TimeoutError("timed out"), "timed out"),
    ]
    for exc, expected in cases:
        monkeypatch.setattr(checker_env.urllib.request, "urlopen", _urlopen_raising(exc))
        assert checker_env.url_problem("https://x.example/c.txt") == expected


def test_an_index_answering_5xx_is_unreachable(monkeypatch):
    """pip finds nothing on such an index and says only 'from versions: none'."""
    monkeypatch.setattr(checker_env.urllib.request, "urlopen",
                        _urlopen_raising(urllib.error.HTTPError("u", 503, "Unavailable", {}, None)))
    assert checker_env.index_reachable("https://mirror.example/simple") is False
    monkeypatch.setattr(checker_env.urllib.request, "urlopen",
                        _urlopen_raising(urllib.error.HTTPError("u", 404, "Not Found", {}, None)))
    assert checker_env.index_reachable("https://mirror.example/simple") is True
    assert checker_env.index_reachable("file:///srv/simple") is True
