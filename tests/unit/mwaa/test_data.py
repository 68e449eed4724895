"""MWAA reference data: locating it, parsing pins and the BOM, downloading into the cache."""

from __future__ import annotations

import io
import shutil
import urllib.error
from pathlib import Path

import pytest

from sandbox.errors import DataNotFoundError
from sandbox.mwaa import data as data_mod
from sandbox.mwaa.data import (CONSTRAINTS_FILE, ESSENTIAL_FILE, IMAGE_PACKAGES_FILE, OFFICIAL_URLS,
                               MwaaData, locate, normalize, parse_bom, read_pins)

BOM_SAMPLE = """\
Package: Babel
/usr/local/airflow/.local/lib/python3.11/site-packages/Babel-2.15.0.dist-info/LICENSE
/usr/local/airflow/.local/lib/python3.11/site-packages/Babel-2.15.0.dist-info/LICENSE
Some licence text mentioning site-packages without a dist-info folder.
"""


def test_parse_bom_sample():
    assert parse_bom(BOM_SAMPLE) == {"babel": "2.15.0"}


def test_parse_bom_normalizes_names_and_keeps_versions():
    text = (
        "/x/site-packages/zope.interface-6.4.post2.dist-info/LICENSE.txt\n"
        "/x/site-packages/apache_airflow_providers_amazon-8.24.0.dist-info/licenses/NOTICE\n"
        "/x/site-packages/Flask_AppBuilder-4.4.1.dist-info/LICENSE\n"
    )
    assert parse_bom(text) == {"zope-interface": "6.4.post2",
                               "apache-airflow-providers-amazon": "8.24.0",
                               "flask-appbuilder": "4.4.1"}


def test_parse_bom_without_paths_is_empty():
    assert parse_bom("MIT License\nCopyright (c) someone\n") == {}


def test_normalize():
    assert normalize("Flask_AppBuilder") == "flask-appbuilder"
    assert normalize("zope.interface") == "zope-interface"


def test_read_pins_parses_and_skips(tmp_path):
    path = tmp_path / "pins.txt"
    path.write_text("# comment\n-c other.txt\nBoto3==1.34.0  # trailing\n"
                    "apache-airflow[celery]==2.9.2\nfoo==1.0; python_version<'3.12'\nbar>=2\n")
    assert read_pins(path) == {"boto3": "1.34.0", "apache-airflow": "2.9.2", "foo": "1.0"}


def test_read_pins_on_shared_files(shared_data_dir):
    data = MwaaData(shared_data_dir)
    image = data.image_pins()
    assert len(image) == 185
    assert image["apache-airflow"] == "2.9.2"
    assert image["babel"] == "2.15.0"
    essential = read_pins(data.essential_constraints)
    assert essential["apache-airflow"] == "2.9.2"
    constraints = read_pins(data.constraints)
    assert constraints["apache-airflow-providers-apache-kafka"] == "1.4.1"
    assert constraints["elasticsearch"] == "8.13.2"


def test_locate_uses_given_directory(shared_data_dir, tmp_path):
    data = locate(shared_data_dir, tmp_path / "cache")
    assert data == MwaaData(shared_data_dir)
    assert data.constraints.name == CONSTRAINTS_FILE
    assert not (tmp_path / "cache").exists()


def test_locate_directory_missing_files(tmp_path):
    folder = tmp_path / "partial"
    folder.mkdir()
    (folder / CONSTRAINTS_FILE).write_text("x==1\n")
    with pytest.raises(DataNotFoundError) as info:
        locate(folder, tmp_path / "cache")
    message = info.value.one_line()
    assert str(folder) in message
    assert ESSENTIAL_FILE in message and IMAGE_PACKAGES_FILE in message
    assert f"lacks {CONSTRAINTS_FILE}" not in message
    assert "SANDBOX_MWAA_DATA_DIR" in info.value.hint


def test_locate_offline_with_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(data_mod.urllib.request, "urlopen", _forbidden)
    with pytest.raises(DataNotFoundError) as info:
        locate(None, tmp_path / "cache", offline=True)
    assert "offline" in str(info.value)
    assert str(tmp_path / "cache" / "mwaa" / "2.9.2") in str(info.value)
    assert "SANDBOX_MWAA_DATA_DIR" in info.value.hint


def test_locate_offline_with_full_cache(shared_data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(data_mod.urllib.request, "urlopen", _forbidden)
    cached = tmp_path / "cache" / "mwaa" / "2.9.2"
    shutil.copytree(shared_data_dir, cached)
    assert locate(None, tmp_path / "cache", offline=True) == MwaaData(cached)


def _forbidden(*args, **kwargs):
    raise AssertionError("no download expected")


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_writes_files_and_converts_bom(tmp_path, monkeypatch):
    served = {
        OFFICIAL_URLS[CONSTRAINTS_FILE]: "apache-airflow==2.9.2\nboto3==1.34.106\n",
        OFFICIAL_URLS[ESSENTIAL_FILE]: "apache-airflow==2.9.2\n",
        OFFICIAL_URLS[IMAGE_PACKAGES_FILE]: BOM_SAMPLE
        + "/usr/local/airflow/.local/lib/python3.11/site-packages/apache_airflow-2.9.2.dist-info/LICENSE\n",
    }
    requested = []

    def fake_urlopen(url, timeout=None):
        requested.append(url)
        return FakeResponse(served[url].encode())

    monkeypatch.setattr(data_mod.urllib.request, "urlopen", fake_urlopen)
    written = []
    real_write_text = Path.write_text

    def spy_write_text(self, *args, **kwargs):
        written.append(self.name)
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", spy_write_text)
    data = locate(None, tmp_path / "cache")
    # atomic: each file is written under a hidden .part name, then renamed into place
    assert sorted(written) == sorted(f".{name}.part" for name in OFFICIAL_URLS)
    cached = tmp_path / "cache" / "mwaa" / "2.9.2"
    assert data == MwaaData(cached)
    assert sorted(requested) == sorted(served)
    assert data.constraints.read_text() == served[OFFICIAL_URLS[CONSTRAINTS_FILE]]
    assert data.image_packages.read_text() == "apache-airflow==2.9.2\nbabel==2.15.0\n"
    assert data.image_pins() == {"apache-airflow": "2.9.2", "babel": "2.15.0"}
    assert sorted(p.name for p in cached.iterdir()) == sorted(OFFICIAL_URLS)  # no .part left over
    requested.clear()
    locate(None, tmp_path / "cache")
    assert requested == []  # cached: nothing downloaded again


def test_download_only_missing_files(shared_data_dir, tmp_path, monkeypatch):
    cached = tmp_path / "cache" / "mwaa" / "2.9.2"
    shutil.copytree(shared_data_dir, cached)
    (cached / ESSENTIAL_FILE).unlink()
    requested = []

    def fake_urlopen(url, timeout=None):
        requested.append(url)
        return FakeResponse(b"apache-airflow==2.9.2\n")

    monkeypatch.setattr(data_mod.urllib.request, "urlopen", fake_urlopen)
    locate(None, tmp_path / "cache")
    assert requested == [OFFICIAL_URLS[ESSENTIAL_FILE]]


def test_failing_download(tmp_path, monkeypatch):
    def fake_urlopen(url, timeout=None):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(data_mod.urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(DataNotFoundError) as info:
        locate(None, tmp_path / "cache")
    message = str(info.value)
    assert "could not download" in message and "Name or service not known" in message
    assert "SANDBOX_MWAA_DATA_DIR" in info.value.hint
    cached = tmp_path / "cache" / "mwaa" / "2.9.2"
    assert not cached.exists() or not any(cached.iterdir())


def test_bom_without_packages_is_an_error(tmp_path, monkeypatch):
    def fake_urlopen(url, timeout=None):
        body = "no paths here\n" if url == OFFICIAL_URLS[IMAGE_PACKAGES_FILE] else "x==1\n"
        return FakeResponse(body.encode())

    monkeypatch.setattr(data_mod.urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(DataNotFoundError, match="did not list any packages"):
        locate(None, tmp_path / "cache")
    assert not (tmp_path / "cache" / "mwaa" / "2.9.2" / IMAGE_PACKAGES_FILE).exists()


def test_locate_accepts_the_folder_of_version_folders(shared_data_dir, tmp_path):
    root = tmp_path / "mwaa"
    shutil.copytree(shared_data_dir, root / "2.9.2")
    (root / "3.3.1").mkdir()
    assert locate(root, tmp_path / "cache") == MwaaData(root / "2.9.2")
    assert locate(root / "2.9.2", tmp_path / "cache") == MwaaData(root / "2.9.2")


def test_locate_root_without_our_version_names_both_layouts(tmp_path):
    (tmp_path / "mwaa" / "3.3.1").mkdir(parents=True)
    with pytest.raises(DataNotFoundError) as info:
        locate(tmp_path / "mwaa", tmp_path / "cache")
    assert "a 2.9.2 folder" in info.value.hint


def test_version_file_looks_beside_our_folder(shared_data_dir, tmp_path):
    root = tmp_path / "mwaa"
    data = MwaaData(shutil.copytree(shared_data_dir, root / "2.9.2"))
    (root / "2.10.1").mkdir()
    (root / "2.10.1" / "constraints-2.10.1-py3.11.txt").write_text("apache-airflow==2.10.1\n")
    assert data.version_file("2.10.1", "constraints-2.10.1-py*.txt") == root / "2.10.1" / "constraints-2.10.1-py3.11.txt"
    assert data.version_file("2.9.2", "constraints-2.9.2-py3.11.txt") == data.constraints
    assert data.version_file("2.8.1", "constraints-2.8.1-py*.txt") is None
    (root / "2.10.1" / "constraints-2.10.1-py3.12.txt").write_text("x==1\n")
    assert data.version_file("2.10.1", "constraints-2.10.1-py*.txt") is None  # ambiguous


def test_os_packages_are_optional(shared_data_dir, tmp_path):
    data = MwaaData(shutil.copytree(shared_data_dir, tmp_path / "d"))
    (tmp_path / "d" / "mwaa-2.9.2-system-packages.txt").write_text("bash-5.2.15\nMariaDB-devel-11.4.3\n\n")
    assert data.os_packages() == ["bash-5.2.15", "MariaDB-devel-11.4.3"]
    (tmp_path / "d" / "mwaa-2.9.2-system-packages.txt").unlink()
    assert data.os_packages() is None
