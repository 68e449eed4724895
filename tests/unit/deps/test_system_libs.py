"""sdists whose metadata step needs a system library: the variables pip gets when MWAA's image
has the library, and reading which build failed."""

from __future__ import annotations

import shutil

import pytest

from sandbox.deps import system_libs
from sandbox.deps.system_libs import build_environment, failed_builds, image_has, unbuildable_here
from sandbox.mwaa.data import MwaaData

MYSQLCLIENT = system_libs.SYSTEM_LIBRARIES[0]


@pytest.fixture
def data(shared_data_dir, tmp_path):
    """The 2.9.2 data with an OS package list the test writes (None: no list at all)."""
    folder = shutil.copytree(shared_data_dir, tmp_path / "data")

    def make(os_packages: list[str] | None) -> MwaaData:
        target = folder / "mwaa-2.9.2-system-packages.txt"
        target.unlink(missing_ok=True)
        if os_packages is not None:
            target.write_text("".join(f"{p}\n" for p in os_packages))
        return MwaaData(folder)

    return make


def test_mysqlclient_variables_when_the_image_has_mariadb_devel(data):
    env = build_environment(data(["bash-5.2.15", "MariaDB-devel-11.4.3", "MariaDB-shared-11.4.3"]))
    assert env == {"MYSQLCLIENT_CFLAGS": "-I/usr/include/mysql",
                   "MYSQLCLIENT_LDFLAGS": "-L/usr/lib64 -lmariadb"}


@pytest.mark.parametrize("packages", [["MariaDB-shared-11.4.3", "MariaDB-devel-docs-1.0"], [], None])
def test_no_variables_without_the_devel_package(data, packages):
    assert build_environment(data(packages)) == {}


def test_image_has_is_unknown_without_a_list(data):
    assert image_has(data(None), MYSQLCLIENT) is None
    assert image_has(data(["MariaDB-devel-11.4.3"]), MYSQLCLIENT) is True
    assert image_has(data(["pkgconf-1.8.0"]), MYSQLCLIENT) is False


def test_shared_data_lists_mariadb_devel(shared_data_dir):
    """The premise of the table, in the real data: MWAA's 2.9.2 image carries MariaDB-devel."""
    assert image_has(MwaaData(shared_data_dir), MYSQLCLIENT) is True


def test_failed_builds_from_pip(pip_output):
    assert failed_builds(pip_output("mysqlclient_no_headers").splitlines()) == ["mysqlclient"]
    metadata = ["error: metadata-generation-failed", "", "× Encountered error while generating package metadata.",
                "╰─> MySQLclient==2.2.4", "", "note: This is an issue with the package mentioned above, not pip."]
    assert failed_builds(metadata) == ["mysqlclient"]
    assert failed_builds(["  ╰─> [28 lines of output]", "╰─> 127.0.0.1 refused"]) == []


def test_unbuildable_here_only_when_mwaa_could_build_it(data, pip_output):
    lines = pip_output("mysqlclient_no_headers").splitlines()
    assert unbuildable_here(lines, data(["MariaDB-devel-11.4.3"])) is MYSQLCLIENT
    assert unbuildable_here(lines, data(None)) is MYSQLCLIENT  # cannot tell what the image has
    assert unbuildable_here(lines, data(["bash-5.2.15"])) is None  # MWAA cannot build it either
    assert unbuildable_here(["ERROR: Failed to build 'pycurl' when getting requirements to build wheel"],
                            data(["MariaDB-devel-11.4.3"])) is None
