"""NativeRuntime's side of MWAA's plugins: `up` unpacks the project's plugins.zip (the install and
the database are faked: nothing starts here)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from sandbox.runtime import updates
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


@pytest.mark.parametrize("key, expected", [("PluginsS3Path: plugins.zip\n", ["my_plugin.py"]),
                                           ("", [])])  # MWAA reads no plugins without the key
def test_up_unpacks_the_projects_plugins_zip(project, monkeypatch, key, expected):
    (project / "mwaa.yaml").write_text(SPEC + key)
    runtime = NativeRuntime(load_settings(project))
    make_zip(project / "plugins.zip", "my_plugin.py")
    runtime.state.plugins_folder.mkdir(parents=True)
    (runtime.state.plugins_folder / "stale.py").write_text("# from an earlier run\n")
    monkeypatch.setattr(updates, "install_environment",
                        lambda *args: (SimpleNamespace(path=project / "env"), None))
    monkeypatch.setattr(runtime, "_init_postgres", lambda: None)
    runtime.prepare()
    assert plugin_files(runtime) == expected
