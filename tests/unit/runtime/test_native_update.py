"""NativeRuntime's side of MWAA's plugins and environment updates: `up` unpacks the project's
plugins.zip, and a restart that fails rolls Airflow back to its old environment, the old startup
script's exports and the old plugins (Airflow's processes are faked: nothing starts here)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from sandbox.errors import ReadinessTimeout
from sandbox.environment.project import install_plugins
from sandbox.runtime import native
from sandbox.runtime.native import NativeRuntime
from sandbox.settings import load_settings

SPEC = """\
Name: native-update
SourceBucketArn: arn:aws:s3:::native-update-bucket
DagS3Path: dags
"""


def make_zip(path: Path, *names: str) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, f"# {name}\n")
    return path


def plugin_files(rt: NativeRuntime) -> list[str]:
    return sorted(p.name for p in rt.state.plugins_folder.iterdir())


class FakeAirflow:
    """Stands in for Airflow's processes: records what each start used; fails on `broken` venvs."""

    def __init__(self, rt: NativeRuntime, broken: set[Path]):
        self.started: list[tuple[Path, dict]] = []
        self.stops = 0
        self.broken = broken
        rt.airflow.process_env = self.process_env
        rt.airflow.initialise = lambda venv, env: None
        rt._start_group = self.start_group
        rt._stop_names = self.stop_names

    def process_env(self, venv, exports):
        self.started.append((venv, dict(exports)))
        return {}

    def start_group(self, specs, started):
        if self.started[-1][0] in self.broken:
            raise ReadinessTimeout("airflow-webserver did not become ready")

    def stop_names(self, names):
        self.stops += 1


@pytest.fixture
def rt(project, monkeypatch):
    (project / "mwaa.yaml").write_text(SPEC)
    runtime = NativeRuntime(load_settings(project))
    runtime.state.ensure()
    monkeypatch.setattr(native.startup_script, "publish", lambda settings, result: [])
    return runtime


def test_a_failed_restart_rolls_back_environment_exports_and_plugins(rt, tmp_path):
    old, new = tmp_path / "envs" / "old", tmp_path / "envs" / "new"
    old.mkdir(parents=True)
    airflow = FakeAirflow(rt, broken={new})
    install_plugins(rt.state, make_zip(tmp_path / "old.zip", "old_plugin.py"))
    rt._launch_airflow(old, {"STAGE": "old"})  # as `up` left it
    startup = SimpleNamespace(exported={"STAGE": "new"})
    install_new = lambda: install_plugins(rt.state, make_zip(tmp_path / "new.zip", "new_plugin.py"))

    with pytest.raises(ReadinessTimeout):
        rt.restart_airflow(new, startup, before_start=install_new)
    assert airflow.started[-1] == (new, {"STAGE": "new"}) and plugin_files(rt) == ["new_plugin.py"]

    assert rt.roll_back() is True
    assert airflow.started[-1] == (old, {"STAGE": "old"})
    assert plugin_files(rt) == ["old_plugin.py"]
    assert (rt.state.root / "airflow-env").resolve() == old
    assert rt.state.load_exports() == {"STAGE": "old"}  # a second failed update rolls back to it too
    assert airflow.stops == 2  # the update's stop, then the half-started new processes


def test_a_restart_that_works_records_the_new_exports(rt, tmp_path):
    airflow = FakeAirflow(rt, broken=set())
    (tmp_path / "old").mkdir()
    rt._launch_airflow(tmp_path / "old", {"STAGE": "old"})
    rt.restart_airflow(tmp_path / "new", None)  # the update removed the startup script
    assert airflow.started[-1] == (tmp_path / "new", {})
    assert rt.state.load_exports() == {} and rt.previous_exports == {"STAGE": "old"}


def test_nothing_to_roll_back_to_without_an_earlier_environment(rt):
    FakeAirflow(rt, broken=set())
    assert rt.roll_back() is False


@pytest.mark.parametrize("key, expected", [("PluginsS3Path: plugins.zip\n", ["my_plugin.py"]),
                                           ("", [])])  # MWAA reads no plugins without the key
def test_up_unpacks_the_projects_plugins_zip(project, monkeypatch, key, expected):
    (project / "mwaa.yaml").write_text(SPEC + key)
    runtime = NativeRuntime(load_settings(project))
    make_zip(project / "plugins.zip", "my_plugin.py")
    runtime.state.plugins_folder.mkdir(parents=True)
    (runtime.state.plugins_folder / "stale.py").write_text("# from an earlier run\n")
    monkeypatch.setattr(native, "install_environment",
                        lambda *args: (SimpleNamespace(path=project / "env"), None))
    monkeypatch.setattr(runtime, "_init_postgres", lambda: None)
    runtime.prepare()
    assert plugin_files(runtime) == expected
