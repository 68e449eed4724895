"""What `sandbox parse` gives Airflow's DAG processor: plugins.zip only where the spec names it."""

from __future__ import annotations

import zipfile

from sandbox.parse import _plugins_folder
from sandbox.settings import load_settings


def test_plugins_zip_is_loaded_only_when_the_spec_names_it(project, tmp_path):
    with zipfile.ZipFile(project / "plugins.zip", "w") as zf:
        zf.writestr("my_plugin.py", "X = 1\n")
    for scratch in ("a", "b"):
        (tmp_path / scratch).mkdir()
    unnamed = _plugins_folder(load_settings(project, environ={}), tmp_path / "a")
    assert list(unnamed.iterdir()) == []  # MWAA loads no plugins.zip it is not told about
    (project / "mwaa.yaml").write_text("PluginsS3Path: plugins.zip\n")
    named = _plugins_folder(load_settings(project, environ={}), tmp_path / "b")
    assert (named / "my_plugin.py").read_text() == "X = 1\n"
