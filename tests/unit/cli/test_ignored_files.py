"""MWAA's files that mwaa.yaml does not name: one warning line each from up, deploy and status,
through the CLI with no server running (up on a stand-in runtime, deploy on moto's mock)."""

from __future__ import annotations

import json

import pytest

from sandbox.runtime.base import UpReport
from sandbox.runtime.select import Choice

SPEC = "SourceBucketArn: arn:aws:s3:::unit-bucket\nRequirementsS3Path: deps/requirements.txt\n"
REQUIREMENTS_LINE = "Warning: requirements.txt: MWAA ignores this file because"


@pytest.fixture
def ignoring_project(project):
    (project / "mwaa.yaml").write_text(SPEC)
    (project / "dags").mkdir()
    (project / "deps").mkdir()
    (project / "deps" / "requirements.txt").write_text("pandas\n")
    (project / "requirements.txt").write_text("confluent-kafka==2.4.0\n")
    (project / "startup.sh").write_text("export STAGE=dev\n")
    return project


def _lines(text: str, start: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(start)]


def test_status_says_it_once_per_file(sandbox, ignoring_project, no_subprocesses):
    result = sandbox("--project", str(ignoring_project), "status")
    assert result.code == 0, result.err
    lines = _lines(result.out, "Warning:")
    assert len(lines) == 2
    assert lines[0].startswith(REQUIREMENTS_LINE) and "RequirementsS3Path is deps/requirements.txt" in lines[0]
    assert "startup.sh: MWAA ignores this file" in lines[1] and "StartupScriptS3Path: startup.sh" in lines[1]


def test_status_json_carries_the_warnings(sandbox, ignoring_project, no_subprocesses):
    payload = json.loads(sandbox("--project", str(ignoring_project), "status", "--json").out)
    assert [(w["code"], w["paths"]) for w in payload["warnings"]] == [
        ("ignored-mwaa-file", ["requirements.txt"]), ("ignored-mwaa-file", ["startup.sh"])]


def test_status_json_of_a_clean_project_has_no_warnings(sandbox, project, no_subprocesses):
    assert json.loads(sandbox("--project", str(project), "status", "--json").out)["warnings"] == []


class _StandInRuntime:
    """What `up` needs of a runtime: its settings and an up() that starts nothing."""

    def __init__(self, settings):
        self.settings = settings

    def up(self) -> UpReport:
        return UpReport("native", already_running=True)


@pytest.fixture
def stand_in_runtime(monkeypatch):
    from sandbox.cli import context

    monkeypatch.setattr(context, "make_runtime",
                        lambda settings, progress=None: (_StandInRuntime(settings), Choice("native", "test")))


def test_up_says_it_once_per_file_before_starting(sandbox, ignoring_project, stand_in_runtime):
    result = sandbox("--project", str(ignoring_project), "up")
    assert result.code == 0, result.err
    lines = _lines(result.err, "Warning:")
    assert len(lines) == 2 and lines[0].startswith(REQUIREMENTS_LINE)
    assert "Warning:" not in result.out


def test_up_json_carries_the_warnings(sandbox, ignoring_project, stand_in_runtime):
    result = sandbox("--project", str(ignoring_project), "up", "--json")
    assert [w["paths"] for w in json.loads(result.out)["warnings"]] == [["requirements.txt"], ["startup.sh"]]


def test_deploy_says_it_once_per_file(sandbox, ignoring_project, monkeypatch, versioned_bucket):
    from sandbox.delivery import deploy

    with versioned_bucket("unit-bucket") as s3:
        monkeypatch.setattr(deploy, "s3_client", lambda settings: s3)
        result = sandbox("--project", str(ignoring_project), "deploy", "--dry-run")
        strict = sandbox("--project", str(ignoring_project), "deploy", "--dry-run", "--strict")
    assert result.code == 0, result.err
    lines = _lines(result.out, "Warning:")
    assert len(lines) == 2 and lines[0].startswith(REQUIREMENTS_LINE)
    assert strict.code == 1  # CI's --strict fails on them like on every other deploy warning
