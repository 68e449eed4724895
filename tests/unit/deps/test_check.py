"""The check's MWAA rules with pip faked at the proc seam: constraints, sources, verdicts, timeout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sandbox.deps import check as check_mod
from sandbox.deps import checker_env
from sandbox.deps.check import CheckOptions, run_check
from sandbox.deps.checker_env import Checker
from sandbox.deps.piplog import MWAA_INSTALL_FAILED
from sandbox.errors import CommandFailed, ConfigError
from sandbox.mwaa.requirements import FORCED_WARNING, FORCING_LINE
from sandbox.proc import Result
from sandbox.settings import load_settings

CONFLICT = """ERROR: Cannot install pandas==1.3.0 because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested pandas==1.3.0
    The user requested (constraint) pandas==2.1.4

ERROR: ResolutionImpossible: for help visit https://pip.pypa.io
"""


class FakePip:
    """Answers pip commands; remembers each Command and the requirements file it was given."""

    def __init__(self, stdout="Would install six-1.16.0\n", returncode=0, install=(("six", "1.16.0"),),
                 raises=None):
        self.stdout, self.returncode, self.install, self.raises = stdout, returncode, install, raises
        self.commands = []
        self.requirements_text = None

    def run(self, cmd):
        self.commands.append(cmd)
        if self.raises:
            raise self.raises
        argv = list(cmd.argv)
        if "-r" in argv:
            self.requirements_text = Path(argv[argv.index("-r") + 1]).read_text()
        if "--report" in argv and self.returncode == 0:
            Path(argv[argv.index("--report") + 1]).write_text(json.dumps({"install": [
                {"metadata": {"name": n, "version": v}, "requested": True} for n, v in self.install]}))
        return Result(cmd, self.returncode, self.stdout, "")

    @property
    def install_argv(self):
        return next(list(c.argv) for c in self.commands if "install" in c.argv)


@pytest.fixture
def env(shared_data_dir, project, tmp_path, monkeypatch):
    checker = Checker(Path("/fake/tool/bin/python"), tmp_path / "image" / "bin" / "python", tmp_path / "cache")
    monkeypatch.setattr(check_mod, "ensure_checker", lambda settings, data, progress: checker)
    monkeypatch.setattr(check_mod, "index_reachable", lambda url: True)

    def run(requirements: str, pip: FakePip | None = None, **options):
        pip = pip or FakePip()
        monkeypatch.setattr(check_mod, "runner", pip)
        (project / "requirements.txt").write_text(requirements)
        opts = CheckOptions(project / "requirements.txt", project / "plugins.zip", publish=False,
                            fill_wheelhouse=False, **options)
        return run_check(load_settings(project), opts), pip

    run.checker = checker
    run.data = shared_data_dir
    return run


def _constraint_files(argv):
    pip_args = argv[argv.index("install"):]  # not the `sh -c` wrapper in front
    return [pip_args[i + 1] for i, a in enumerate(pip_args) if a in ("-c", "--constraint")]


def test_no_constraint_line_forces_the_airflow_constraints(env):
    result, pip = env("six==1.16.0\n")
    assert result.forced_constraints and result.verdict == "install"
    assert result.log[:2] == [FORCED_WARNING, FORCING_LINE]
    assert _constraint_files(pip.install_argv) == [
        str(env.data / "mwaa-essential-constraints-2.9.2.txt"), str(env.data / "constraints-2.9.2-py3.11.txt")]
    assert result.resolved == {"six": "1.16.0"}
    assert result.log[-1] == "Successfully installed six-1.16.0"


def test_a_commented_constraint_line_switches_forcing_off(env):
    result, pip = env("# -c https://example.com/c.txt\nsix==1.16.0\n")
    assert not result.forced_constraints
    assert FORCED_WARNING not in result.log and FORCING_LINE not in result.log
    # the essential constraints always apply
    assert _constraint_files(pip.install_argv) == [str(env.data / "mwaa-essential-constraints-2.9.2.txt")]


def test_official_constraints_url_is_served_locally(env):
    url = "https://raw.githubusercontent.com/apache/airflow/constraints-2.9.2/constraints-3.11.txt"
    result, pip = env(f'--constraint "{url}"\nsix\n')
    assert not result.forced_constraints
    assert url not in pip.requirements_text
    assert str(env.data / "constraints-2.9.2-py3.11.txt") in pip.requirements_text


def test_pip_failure_gives_fail_verdict_and_mwaa_error_line(env):
    result, _ = env("pandas==1.3.0\n", FakePip(CONFLICT, returncode=1))
    assert result.verdict == "fail" and not result.ok
    assert result.conflict.startswith("Cannot install pandas==1.3.0 because")
    assert result.verdict_line() == f"MWAA would fail: {result.conflict}"
    assert result.log[-1] == MWAA_INSTALL_FAILED
    assert result.resolved == {}
    payload = result.to_json()
    assert {"verdict", "forced_constraints", "conflict", "problems", "resolved"} <= set(payload)


def test_nine_minute_limit(env):
    result, pip = env("slow\n", FakePip(raises=CommandFailed("pip did not finish within 540 s")))
    assert pip.commands[0].timeout == 9 * 60
    assert result.verdict == "fail" and "9 minutes" in result.conflict
    assert result.log[-1] == MWAA_INSTALL_FAILED


def test_online_passes_the_index_explicitly(env, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    result, pip = env("six\n")
    assert result.mode == "online"
    argv = pip.install_argv
    assert argv[argv.index("--index-url") + 1] == "https://mirror.example/simple"
    assert "--dry-run" in argv and "--no-index" not in argv


def test_unreachable_index_falls_back_to_the_wheelhouse(env, monkeypatch):
    monkeypatch.setattr(check_mod, "index_reachable", lambda url: False)
    result, pip = env("six\n")
    argv = pip.install_argv
    assert result.mode == "offline" and "--index-url" not in argv
    assert argv[argv.index("--find-links") + 1] == str(env.checker.wheelhouse)
    assert "--no-index" in argv and "unreachable" in result.notes[0]


def test_download_needs_the_index(env, monkeypatch):
    from sandbox.deps.check import IndexUnreachableError

    monkeypatch.setattr(check_mod, "index_reachable", lambda url: False)
    with pytest.raises(IndexUnreachableError, match="unreachable"):
        env("six\n", source="online")


def test_offline_setting_never_touches_the_index(env, monkeypatch):
    monkeypatch.setenv("SANDBOX_OFFLINE", "1")
    monkeypatch.setattr(check_mod, "index_reachable", lambda url: pytest.fail("probed the index"))
    result, _ = env("six\n")
    assert result.mode == "offline"


def test_private_mode_uses_only_plugins(env, make_plugins_zip, project):
    make_plugins_zip("mwaa_fake_alpha-1.0.0-py3-none-any.whl").replace(project / "plugins.zip")
    text = "--no-index\n--find-links /usr/local/airflow/plugins\nmwaa-fake-alpha==1.0.0\nmwaa-fake-beta==1\n"
    result, pip = env(text, FakePip("ERROR: No matching distribution found for mwaa-fake-beta==1\n", 1),
                      private=True)
    argv = pip.install_argv
    assert result.mode == "private" and "--index-url" not in argv and "--no-index" in argv
    assert "--find-links" not in argv  # only the one requirements.txt names, pointed at plugins.zip
    assert "/usr/local/airflow/plugins" not in pip.requirements_text
    assert "--find-links /" in pip.requirements_text and "/plugins" in pip.requirements_text
    assert "mwaa-fake-beta==1: no wheel in plugins.zip" in result.problems
    assert result.conflict == "No matching distribution found for mwaa-fake-beta==1"


def test_private_mode_without_find_links_line_is_a_problem(env):
    result, pip = env("mwaa-fake-alpha==1.0.0\n", FakePip("ERROR: No matching distribution found for x\n", 1),
                      private=True)
    assert "--find-links" not in pip.install_argv
    assert any("has no `--find-links /usr/local/airflow/plugins` line" in p for p in result.problems)
    assert any(p.startswith("no plugins.zip") for p in result.problems)


def test_private_mode_cannot_download_constraint_urls(env):
    result, _ = env('-c "https://raw.githubusercontent.com/apache/airflow/constraints-2.9.2/constraints-3.11.txt"\n',
                    private=True)
    assert result.verdict == "fail" and "cannot download the constraints" in result.conflict


def test_missing_requirements_file(shared_data_dir, project):
    with pytest.raises(ConfigError, match="not found"):
        run_check(load_settings(project), CheckOptions(project / "nope.txt"))


def test_pip_runs_without_the_machines_pip_configuration(monkeypatch, tmp_path):
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "file:///opt/pypi/simple")
    monkeypatch.setenv("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
    cmd = Checker(Path("/t/python"), Path("/e/python"), tmp_path).pip("install", "x", timeout=5)
    assert cmd.env["PIP_CONFIG_FILE"] == os.devnull
    assert "PIP_FIND_LINKS" not in cmd.env and "PIP_EXTRA_INDEX_URL" not in cmd.env
    assert cmd.env["PIP_CERT"] == "/etc/ssl/certs/ca-certificates.crt"
    assert cmd.argv[-6:] == ("-m", "pip", "--python", "/e/python", "install", "x")
    assert checker_env.index_url() == checker_env.DEFAULT_INDEX
