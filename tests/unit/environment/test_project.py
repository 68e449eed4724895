"""Where `up` puts the project's inputs: the plugins folder and the environment link."""

from __future__ import annotations

from sandbox.environment import project
from sandbox.environment.state import StateDir


def test_plugins_zip_is_unpacked_into_the_plugins_folder(tmp_path):
    import zipfile

    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("my_plugin.py", "# plugin\n")
    state = StateDir(tmp_path / ".sandbox")
    (state.airflow_home / "plugins").mkdir(parents=True)
    (state.airflow_home / "plugins" / "stale.py").write_text("")
    project.install_plugins(state, archive)
    assert sorted(p.name for p in (state.airflow_home / "plugins").iterdir()) == ["my_plugin.py"]


def test_the_environment_link_is_replaced(tmp_path):
    state = StateDir(tmp_path)
    project.link_environment(state, tmp_path / "one")
    project.link_environment(state, tmp_path / "two")
    assert (tmp_path / "airflow-env").readlink() == tmp_path / "two"
