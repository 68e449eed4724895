"""plugins.zip packaging rules (no network): the packaged requirements and the platform flags."""

from __future__ import annotations

from sandbox.deps.package import PLATFORMS, packaged_requirements, platform_args


def test_packaged_requirements_install_only_from_plugins():
    text = ('--index-url https://pypi.org/simple\n--constraint "https://x/constraints.txt"\n'
            "# -c switched off\nconfluent-kafka==2.4.0\n")
    assert packaged_requirements(text, has_constraints=True) == (
        "--no-index\n--find-links /usr/local/airflow/plugins\n"
        "--constraint /usr/local/airflow/plugins/constraints.txt\n"
        "# -c switched off\nconfluent-kafka==2.4.0\n")
    assert packaged_requirements("six\n", has_constraints=False) == (
        "--no-index\n--find-links /usr/local/airflow/plugins\nsix\n")


def test_platform_flags_are_mwaas_whatever_the_host():
    args = platform_args()
    assert args[:5] == ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp"]
    platforms = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    assert platforms == list(PLATFORMS)
    assert "manylinux2014_x86_64" in platforms and "manylinux_2_34_x86_64" in platforms
    assert "manylinux_2_35_x86_64" not in platforms and not any("arm" in p or "mac" in p for p in platforms)
