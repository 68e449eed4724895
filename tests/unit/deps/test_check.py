"""The check's MWAA rules with pip faked at the proc seam: constraints, sources, verdicts, timeout."""

from __future__ import annotations

import json
import os
import shutil
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
    monkeypatch.setattr(check_mod, "url_problem", lambda url: pytest.fail(f"probed {url}"))

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


URL_281 = "https://raw.githubusercontent.com/apache/airflow/constraints-2.8.1/constraints-3.11.txt"
URL_331 = "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt"
MISMATCH_281 = ("requirements.txt constrains to Airflow 2.8.1 / Python 3.11 constraints, but the "
                "environment runs Airflow 2.9.2 on Python 3.11")


def test_network_failure_inside_pip_is_unknown_not_fail(env, pip_output, monkeypatch):
    monkeypatch.setattr(check_mod, "url_problem", lambda url: None)  # answered our probe, not pip
    result, _ = env("-c http://127.0.0.1:9/constraints-3.11.txt\nsix\n",
                    FakePip(pip_output("constraints_url_refused"), returncode=1))
    assert result.verdict == "unknown" and not result.ok
    assert result.reason == ("pip could not reach the network from here: Failed to connect to 127.0.0.1 while "
                             "fetching http://127.0.0.1:9/constraints-3.11.txt ([Errno 111] Connection refused)")
    assert result.verdict_line() == f"Cannot tell whether MWAA would install these requirements: {result.reason}"
    assert "MWAA would fail" not in result.verdict_line()
    assert MWAA_INSTALL_FAILED not in result.log and result.conflict is None
    payload = result.to_json()
    assert payload["verdict"] == "unknown" and payload["reason"] == result.reason


def test_index_refused_during_an_online_run_is_unknown(env, pip_output):
    result, _ = env("kafka-python==2.0.2\n", FakePip(pip_output("index_refused"), returncode=1))
    assert result.mode == "online" and result.verdict == "unknown"
    assert "pip gave up reaching 127.0.0.1:9" in result.reason


def test_a_404_constraints_url_is_mwaas_failure_too(env, pip_output, monkeypatch):
    monkeypatch.setattr(check_mod, "url_problem", lambda url: None)
    result, _ = env("-c http://127.0.0.1:18503/404/c.txt\nsix\n",
                    FakePip(pip_output("constraints_url_404"), returncode=1))
    assert result.verdict == "fail" and result.conflict.startswith("404 Client Error: Not Found")
    assert result.log[-1] == MWAA_INSTALL_FAILED


def test_unreachable_constraints_url_not_in_the_data_is_unknown_without_running_pip(env, monkeypatch):
    monkeypatch.setattr(check_mod, "url_problem", lambda url: "[Errno -2] Name or service not known")
    result, pip = env(f"-c {URL_281}\nsix\n")
    assert pip.commands == []  # pip would only retry the same URL
    assert result.verdict == "unknown"
    assert result.reason == (f"the constraints URL {URL_281} is unreachable from here ([Errno -2] Name or "
                             "service not known); the MWAA data folder has no copy of the Airflow 2.8.1 / "
                             "Python 3.11 constraints")
    assert result.constraints_line == MISMATCH_281
    assert result.to_json()["constraints"] == {
        "source": URL_281, "publisher": "apache/airflow", "airflow_version": "2.8.1", "python_version": "3.11",
        "variant": None, "matches_environment": False, "local_copy": None, "line": MISMATCH_281}


def test_offline_never_fetches_a_constraints_url(env, monkeypatch):
    monkeypatch.setenv("SANDBOX_OFFLINE", "1")
    result, pip = env(f"--constraint {URL_281}\nsix\n")
    assert pip.commands == [] and result.verdict == "unknown" and result.mode == "offline"
    assert result.reason.startswith(f"the constraints {URL_281} cannot be fetched: offline mode is on")


def test_matching_constraints_have_no_line(env):
    result, _ = env("-c https://raw.githubusercontent.com/apache/airflow/constraints-2.9.2/constraints-3.11.txt\n")
    assert result.constraints["matches_environment"] is True and result.constraints_line is None
    assert result.constraints["local_copy"] == str(env.data / "constraints-2.9.2-py3.11.txt")


def test_no_constraints_line_gives_null(env):
    result, _ = env("six\n")
    assert result.constraints is None and result.to_json()["constraints"] is None


def test_another_versions_constraints_from_the_data_are_handed_to_pip(env, shared_data_dir, tmp_path,
                                                                       monkeypatch):
    root = tmp_path / "mwaa"
    shutil.copytree(shared_data_dir, root / "2.9.2")
    (root / "3.3.1").mkdir()
    copy = root / "3.3.1" / "constraints-3.3.1-py3.12.txt"
    copy.write_text("apache-airflow==3.3.1\nsix==1.17.0\n")
    monkeypatch.setenv("SANDBOX_MWAA_DATA_DIR", str(root))  # the folder of version folders
    result, pip = env(f'--constraint "{URL_331}"\nsix\n', FakePip("Would install six-1.17.0\n",
                                                                  install=(("six", "1.17.0"),)))
    assert URL_331 not in pip.requirements_text and f"--constraint {copy}" in pip.requirements_text
    assert _constraint_files(pip.install_argv) == [str(root / "2.9.2" / "mwaa-essential-constraints-2.9.2.txt")]
    assert result.verdict == "install" and result.constraints["local_copy"] == str(copy)
    assert result.constraints_line == ("requirements.txt constrains to Airflow 3.3.1 / Python 3.12 constraints, "
                                       "but the environment runs Airflow 2.9.2 on Python 3.11")


def test_local_constraints_file_names_its_version(env, project):
    (project / "constraints.txt").write_text("apache-airflow==2.8.1\nsix==1.16.0\n")
    result, _ = env("-c constraints.txt\nsix\n")
    assert result.constraints["source"] == "constraints.txt"
    assert result.constraints["airflow_version"] == "2.8.1" and result.constraints["python_version"] is None
    assert result.constraints_line == ("requirements.txt constrains to Airflow 2.8.1 constraints, but the "
                                       "environment runs Airflow 2.9.2 on Python 3.11")


def test_offline_missing_distribution_is_unknown(env, monkeypatch):
    monkeypatch.setattr(check_mod, "index_reachable", lambda url: False)
    no_match = ("ERROR: Could not find a version that satisfies the requirement kafka-python==2.0.2 "
                "(from versions: none)\nERROR: No matching distribution found for kafka-python==2.0.2\n")
    result, _ = env("kafka-python==2.0.2\n", FakePip(no_match, returncode=1))
    assert result.mode == "offline" and result.verdict == "unknown"
    assert "kafka-python==2.0.2 is not in the wheelhouse" in result.reason
    assert "is unreachable" in result.reason
    assert any("not in the wheelhouse" in p for p in result.problems)


def test_mysqlclient_that_cannot_build_here_is_unknown(env, pip_output):
    result, _ = env("apache-airflow-providers-mysql\n", FakePip(pip_output("mysqlclient_no_headers"), 1))
    assert result.verdict == "unknown" and result.reason.startswith("mysqlclient could not be prepared")


def test_unknown_is_not_published_to_cloudwatch(env, pip_output, project, monkeypatch):
    monkeypatch.setattr(check_mod.cloudwatch, "publish", lambda settings, lines: pytest.fail("published"))
    monkeypatch.setattr(check_mod, "runner", FakePip(pip_output("index_refused"), returncode=1))
    (project / "requirements.txt").write_text("kafka-python==2.0.2\n")
    result = run_check(load_settings(project), CheckOptions(project / "requirements.txt", fill_wheelhouse=False))
    assert result.verdict == "unknown" and result.cloudwatch is None
