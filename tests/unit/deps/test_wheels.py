"""Which wheel file names can install on MWAA (Linux x86_64, glibc 2.34, CPython 3.11)."""

from __future__ import annotations

import pytest

from sandbox.deps.wheels import describe_problem, incompatibility, parse_wheel_filename, sdist_name_version

INSTALLABLE = [
    "six-1.16.0-py2.py3-none-any.whl",
    "requests-2.32.3-py3-none-any.whl",
    "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "orjson-3.10.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    "cryptography-42.0.8-cp39-abi3-manylinux_2_28_x86_64.whl",
    "old-1.0-cp311-cp311-manylinux1_x86_64.whl",
    "glibc_edge-1.0-cp311-cp311-manylinux_2_34_x86_64.whl",
    "local-1.0-cp311-cp311-linux_x86_64.whl",
    "pure311-1.0-py311-none-any.whl",
    "mac_and_linux-1.0-cp311-cp311-macosx_11_0_arm64.manylinux2014_x86_64.whl",
    "build_tag-1.0-1-py3-none-any.whl",
]

REJECTED = [
    ("pandas-2.1.4-cp311-cp311-macosx_11_0_arm64.whl", "macOS on Apple Silicon (arm64)"),
    ("pandas-2.1.4-cp311-cp311-macosx_10_9_x86_64.whl", "macOS (x86_64)"),
    ("pandas-2.1.4-cp311-cp311-win_amd64.whl", "Windows"),
    ("pandas-2.1.4-cp311-cp311-linux_aarch64.whl", "Linux aarch64"),
    ("pandas-2.1.4-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", "Linux aarch64"),
    ("pandas-2.1.4-cp311-cp311-musllinux_1_1_x86_64.whl", "musl libc"),
    ("new-1.0-cp311-cp311-manylinux_2_39_x86_64.whl", "needs glibc 2.39"),
    ("pandas-2.1.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "CPython 3.12"),
    ("future-1.0-cp312-abi3-manylinux_2_17_x86_64.whl", "CPython 3.12"),
    ("pandas-2.1.4-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl", "PyPy"),
    ("legacy-1.0-py2-none-any.whl", "Python 2 only"),
    ("pure312-1.0-py312-none-any.whl", "py312-none"),
]


@pytest.mark.parametrize("filename", INSTALLABLE)
def test_installable_wheels(filename):
    assert incompatibility(parse_wheel_filename(filename)) is None
    assert describe_problem(filename) is None


@pytest.mark.parametrize("filename,reason", REJECTED)
def test_rejected_wheels_name_the_reason(filename, reason):
    problem = describe_problem(filename)
    assert problem is not None and problem.startswith(filename + ": ")
    assert reason in problem
    assert "MWAA needs Linux x86_64" in problem


def test_parse_fields():
    wheel = parse_wheel_filename("Foo_Bar-1.2.3-1-cp311-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    assert (wheel.name, wheel.version, wheel.key) == ("Foo_Bar", "1.2.3", "foo-bar")
    assert wheel.python_tags == ("cp311",) and wheel.abi_tags == ("abi3",)
    assert wheel.platform_tags == ("manylinux_2_17_x86_64", "manylinux2014_x86_64")


@pytest.mark.parametrize("bad", ["foo-1.0.whl", "foo-1.0-py3-none.whl", "foo-1.0-py3-none-any.zip"])
def test_malformed_names_raise(bad):
    with pytest.raises(ValueError):
        parse_wheel_filename(bad)


def test_malformed_wheel_is_a_problem_not_a_crash():
    assert "not a valid wheel" in describe_problem("foo-1.0.whl")


def test_sdist_names():
    assert sdist_name_version("pandas-1.3.0.tar.gz") == ("pandas", "1.3.0")
    assert sdist_name_version("apache-airflow-2.9.2.tar.gz") == ("apache-airflow", "2.9.2")
    assert sdist_name_version("thing.whl") is None
