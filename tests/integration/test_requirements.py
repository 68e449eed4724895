"""`sandbox requirements check` over the failure corpus with real pip: online, then with the
index unreachable (offline from the wheelhouse the online run filled), plus private mode; the
`unknown` verdict (servers out of reach), other Airflow versions' constraints, mysqlclient."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sandbox.cli import requirements as requirements_cli
from sandbox.cli.context import CliContext

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "mwaa" / "2.9.2"
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "mwaa_failures"))

import requirements_corpus  # noqa: E402

CASES = requirements_corpus.cases()
UNREACHABLE_INDEX = "http://127.0.0.1:9/simple"  # the discard port: nothing listens


def _app() -> typer.Typer:
    """The requirements sub-app under a root like sandbox's own (--project sets the context)."""
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context, project: str = typer.Option(".", "--project")):
        ctx.obj = CliContext.create(project, False)

    requirements_cli.register(app)
    return app


@pytest.fixture
def check(monkeypatch, tmp_path):
    """Runs `requirements check --json` on a case's project; the default cache is reused."""
    for name in list(os.environ):
        if name.startswith("SANDBOX_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SANDBOX_MWAA_DATA_DIR", str(SHARED_DATA))
    monkeypatch.setenv("SANDBOX_AWS_PORT", "9")  # no emulator: CloudWatch is skipped

    def run(case, *extra: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        project = requirements_corpus.build_project(case, tmp_path / case.name)
        result = CliRunner().invoke(_app(), ["--project", str(project), "requirements", "check",
                                             "--json", *extra])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result.exit_code, json.loads(result.stdout)

    return run


def _assert_case(case, code: int, payload: dict) -> None:
    assert payload["verdict"] == case.verdict, payload["log"]
    assert code == case.exit_code
    text = {"fail": payload["conflict"], "unknown": payload["reason"]}.get(case.verdict,
                                                                          "\n".join(payload["log"]))
    assert case.key_line in text, text
    if case.forced_constraints is not None:
        assert payload["forced_constraints"] is case.forced_constraints
    if case.problem:
        assert any(case.problem in p for p in payload["problems"]), payload["problems"]
    for name, version in case.resolved.items():
        assert payload["resolved"].get(name) == version, payload["resolved"]
    if case.verdict == "fail":
        assert payload["log"][-1].startswith("ERROR: pip installation exited with a non-zero error code")


def test_corpus_is_complete():
    names = {c.name for c in CASES}
    assert {"pandas_below_constraint", "snowflake_below_constraint", "airflow_essential",
            "awswrangler_transitive", "no_such_package", "no_constraints_installs",
            "commented_constraint_line", "private_missing_wheel", "private_macos_wheel"} <= names


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_online(check, case):
    code, payload = check(case)
    assert payload["mode"] == ("private" if case.private else "online")
    _assert_case(case, code, payload)
    assert payload["seconds"] < 60


@pytest.mark.parametrize("case", [c for c in CASES if not c.private], ids=[c.name for c in CASES if not c.private])
def test_corpus_offline_with_the_index_unreachable(check, case):
    check(case)  # fills the wheelhouse (a no-op when an earlier run did)
    code, payload = check(case, env={"PIP_INDEX_URL": UNREACHABLE_INDEX, "PIP_CONFIG_FILE": os.devnull})
    assert payload["mode"] == "offline"
    assert any("unreachable" in n for n in payload["notes"])
    _assert_case(case.offline_case(), code, payload)


def test_commented_line_is_what_keeps_forcing_off(check, tmp_path):
    """The control for commented_constraint_line: without the comment the same pin fails."""
    case = next(c for c in CASES if c.name == "commented_constraint_line")
    stripped = tmp_path / "stripped_case"
    stripped.mkdir()
    text = (case.folder / "requirements.txt").read_text()
    (stripped / "requirements.txt").write_text("\n".join(l for l in text.splitlines() if "-c " not in l) + "\n")
    (stripped / "expected.yaml").write_text((case.folder / "expected.yaml").read_text())
    code, payload = check(requirements_corpus.Case("stripped", stripped, "fail", 1, "confluent-kafka"))
    assert code == 1 and payload["forced_constraints"] is True
    assert "The user requested (constraint) confluent-kafka==2.4.0" in payload["conflict"]


def test_mwaa_yaml_private_only_selects_private_mode(check):
    case = next(c for c in CASES if c.name == "private_missing_wheel")
    code, payload = check(case)  # build_project writes WebserverAccessMode: PRIVATE_ONLY
    assert payload["mode"] == "private" and code == 1
    code, payload = check(case, "--public")
    assert payload["mode"] == "online"


def test_check_never_changes_the_image_environment(check):
    from sandbox.deps.checker_env import ensure_checker
    from sandbox.mwaa.data import MwaaData
    from sandbox.settings import load_settings

    case = next(c for c in CASES if c.name == "no_constraints_installs")
    check(case)
    settings = load_settings(REPO)
    site = ensure_checker(settings, MwaaData(SHARED_DATA)).site_packages

    def snapshot():
        return sorted((str(p.relative_to(site)), p.stat().st_mtime_ns) for p in site.iterdir())

    before = snapshot()
    code, payload = check(case)
    assert payload["verdict"] == "install" and payload["resolved"]
    assert snapshot() == before
    assert not (site.parent.parent.parent / "bin" / "pip").exists()  # pip never lands in it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_log_goes_to_cloudwatch_when_the_sandbox_runs(check, monkeypatch, tmp_path):
    import boto3

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        logs = boto3.client("logs", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")
        deadline = time.monotonic() + 30
        while True:
            try:
                logs.describe_log_groups()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        case = next(c for c in CASES if c.name == "pandas_below_constraint")
        groups = [f"airflow-corpus-pandas-below-constraint-{s}" for s in ("Worker", "Scheduler")]
        for group in groups:
            logs.create_log_group(logGroupName=group)
        code, payload = check(case, env={"SANDBOX_AWS_PORT": str(port)})
        assert payload["cloudwatch"]["groups"] == groups
        stream = payload["cloudwatch"]["stream"]
        assert stream.startswith("requirements_install_") and stream.endswith(".log")
        for group in groups:
            events = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
            messages = [e["message"] for e in events]
            assert messages[0].startswith("WARNING: Constraints should be specified")
            assert messages[-1] == payload["log"][-1]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_package_builds_a_private_plugins_zip_that_installs(check, tmp_path):
    import zipfile

    from sandbox.deps.wheels import describe_problem

    case = next(c for c in CASES if c.name == "no_constraints_installs")
    project = requirements_corpus.build_project(case, tmp_path / "pkg")
    out = tmp_path / "out"
    result = CliRunner().invoke(_app(), ["--project", str(project), "requirements", "package",
                                         "--output", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    names = zipfile.ZipFile(out / "plugins.zip").namelist()
    assert "constraints.txt" in names and all("/" not in n for n in names)
    wheels = [n for n in names if n.endswith(".whl")]
    assert {w.split("-")[0] for w in wheels} == {"confluent_kafka", "elasticsearch", "elastic_transport"}
    assert all(describe_problem(w) is None for w in wheels)
    assert "urllib3" not in " ".join(wheels)  # in MWAA's image already: left out
    text = (out / "requirements.txt").read_text()
    assert text.startswith("--no-index\n--find-links /usr/local/airflow/plugins\n")
    assert payload["check"]["verdict"] == "install" and payload["check"]["mode"] == "private"


URL_281 = "https://raw.githubusercontent.com/apache/airflow/constraints-2.8.1/constraints-3.11.txt"
URL_331 = "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt"


def _case(tmp_path, name: str, requirements: str):
    """A one-off case folder (requirements.txt only); what to expect is asserted by the test."""
    folder = tmp_path / f"{name}_case"
    folder.mkdir()
    (folder / "requirements.txt").write_text(requirements)
    return requirements_corpus.Case(name, folder, "", 0, "")


@pytest.fixture
def github_unreachable(monkeypatch):
    """raw.githubusercontent.com out of reach (a proxy nobody listens on), the index not: pip and
    our own probe both read these variables; urllib's cached opener is dropped so it reads them."""
    import urllib.parse
    import urllib.request

    from sandbox.deps.checker_env import index_url

    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    index_host = urllib.parse.urlsplit(index_url()).hostname
    monkeypatch.setenv("NO_PROXY", f"{index_host},files.pythonhosted.org,127.0.0.1,localhost")
    monkeypatch.setattr(urllib.request, "_opener", None)


def test_other_version_constraints_out_of_reach_are_unknown(check, tmp_path, github_unreachable):
    """2.8.1 is not in the data and its URL does not answer: the check cannot tell (exit 3)."""
    code, payload = check(_case(tmp_path, "c281", f"-c {URL_281}\nsix\n"))
    assert code == 3 and payload["verdict"] == "unknown", payload
    assert payload["reason"].startswith(f"the constraints URL {URL_281} is unreachable from here")
    assert "no copy of the Airflow 2.8.1 / Python 3.11 constraints" in payload["reason"]
    assert payload["constraints"]["line"] == ("requirements.txt constrains to Airflow 2.8.1 / Python 3.11 "
                                              "constraints, but the environment runs Airflow 2.9.2 on Python 3.11")
    assert payload["constraints"]["local_copy"] is None
    assert "MWAA would fail" not in payload["verdict_line"]
    assert not any(l.startswith("ERROR: pip installation exited") for l in payload["log"])
    assert payload["seconds"] < 60


def test_other_version_constraints_in_the_data_are_used_instead_of_the_url(check, tmp_path, monkeypatch,
                                                                            github_unreachable):
    """3.3.1 / Python 3.12 is in the shared data: pip reads that file (the URL is out of reach, so
    any attempt to fetch it would have ended `unknown`). The data dir names the folder of folders."""
    monkeypatch.setenv("SANDBOX_MWAA_DATA_DIR", str(SHARED_DATA.parent))
    code, payload = check(_case(tmp_path, "c331", f'--constraint "{URL_331}"\nsix\n'))
    copy = SHARED_DATA.parent / "3.3.1" / "constraints-3.3.1-py3.12.txt"
    assert payload["constraints"]["local_copy"] == str(copy)
    assert payload["constraints"]["line"] == ("requirements.txt constrains to Airflow 3.3.1 / Python 3.12 "
                                              "constraints, but the environment runs Airflow 2.9.2 on Python 3.11")
    assert payload["verdict"] in ("install", "fail"), payload["reason"]  # whatever pip says, it decided
    assert code == {"install": 0, "fail": 1}[payload["verdict"]]
    assert payload["forced_constraints"] is False
    assert payload["seconds"] < 60


def test_mysql_provider_installs_as_on_mwaa(check, tmp_path):
    """mysqlclient 2.2.4 is an sdist whose metadata step needs MySQL headers: MWAA's image has
    MariaDB-devel, so the check's pip gets MYSQLCLIENT_CFLAGS/LDFLAGS and MWAA's verdict."""
    code, payload = check(_case(tmp_path, "mysql", "apache-airflow-providers-mysql\n"))
    assert code == 0 and payload["verdict"] == "install", payload["reason"] or payload["conflict"]
    assert payload["resolved"]["mysqlclient"] == "2.2.4"
    assert payload["seconds"] < 60


def test_unreachable_index_is_unknown(check, tmp_path):
    """No index and a package the wheelhouse lacks: exit 3 naming both, never 'MWAA would fail'."""
    code, payload = check(_case(tmp_path, "noindex", "mwaa-sandbox-never-downloaded-xyz==1.0\n"),
                          env={"PIP_INDEX_URL": UNREACHABLE_INDEX, "PIP_CONFIG_FILE": os.devnull})
    assert code == 3 and payload["verdict"] == "unknown" and payload["mode"] == "offline"
    assert payload["reason"] == ("mwaa-sandbox-never-downloaded-xyz==1.0 is not in the wheelhouse and the check "
                                 f"cannot ask the index (the package index {UNREACHABLE_INDEX} is unreachable)")
    assert not any(l.startswith("ERROR: pip installation exited") for l in payload["log"])


def test_a_download_pip_cannot_reach_is_unknown(check, tmp_path):
    """pip itself failing on the network (a direct URL on a closed port): real pip's words."""
    code, payload = check(_case(tmp_path, "directurl", "mwaa-fake @ http://127.0.0.1:9/mwaa_fake-1.0.tar.gz\n"))
    assert code == 3 and payload["verdict"] == "unknown", payload
    assert payload["reason"].startswith("pip could not reach the network from here: Failed to connect to "
                                        "127.0.0.1 while fetching http://127.0.0.1:9/mwaa_fake-1.0.tar.gz")
