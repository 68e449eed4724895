"""sandbox deploy: planning and warnings on throwaway projects, execution against moto's
in-process mock of a versioned SSE-KMS bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.delivery import pitfalls
from sandbox.delivery.airflowignore import ignored, parse_patterns
from sandbox.delivery.deploy import (DeployOptions, LocalFile, RemoteObject, collect_local, dag_prefix,
                                     deploy_project, find_pitfalls, ignored_project_files, layout, plan,
                                     sha256_bytes, walk)
from sandbox.errors import NotRunningError
from sandbox.settings import load_settings

DAG = 'from airflow import DAG\nwith DAG("x"):\n    pass\n'
SPEC = "SourceBucketArn: arn:aws:s3:::unit-bucket\nDagS3Path: dags\nRequirementsS3Path: requirements.txt\n"


def write(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def local(key: str, text: str) -> LocalFile:
    return LocalFile(key, Path("/nowhere") / key, sha256_bytes(text.encode()))


def remote(key: str, text: str | None) -> RemoteObject:
    return RemoteObject(key, sha256_bytes(text.encode()) if text is not None else None, "v1")


@pytest.fixture
def proj(project) -> Path:
    write(project / "mwaa.yaml", SPEC)
    write(project / "dags" / "a.py", DAG)
    write(project / "requirements.txt", "pandas\n")
    return project


# -- planning ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("path,prefix", [("dags", "dags/"), ("dags/", "dags/"), ("a/b", "a/b/"), ("", "")])
def test_dag_prefix(path, prefix):
    assert dag_prefix(path) == prefix


def test_plan_uploads_new_and_changed_keeps_unchanged():
    todo = plan([local("dags/a.py", "a"), local("dags/b.py", "b2"), local("dags/c.py", "c")],
                {"dags/a.py": remote("dags/a.py", "a"), "dags/b.py": remote("dags/b.py", "b1")}, "dags/")
    assert [f.key for f in todo.uploads] == ["dags/b.py", "dags/c.py"]
    assert todo.unchanged == ("dags/a.py",)
    assert todo.deletes == ()


def test_plan_object_without_sha256_metadata_is_uploaded_again():
    todo = plan([local("dags/a.py", "a")], {"dags/a.py": remote("dags/a.py", None)}, "dags/")
    assert [f.key for f in todo.uploads] == ["dags/a.py"]


def test_plan_deletes_only_under_the_owned_prefix():
    todo = plan([local("dags/keep.py", "k")],
                {"dags/keep.py": remote("dags/keep.py", "k"), "dags/gone.py": remote("dags/gone.py", "g"),
                 "dags/sub/": remote("dags/sub/", ""), "requirements.txt": remote("requirements.txt", "r"),
                 "dagsother/x.py": remote("dagsother/x.py", "x")}, "dags/")
    assert todo.deletes == ("dags/gone.py",)


def test_walk_skips_vcs_cache_and_tool_folders(tmp_path):
    for rel in ("a.py", "sub/b.py", ".git/HEAD", ".github/workflows/ci.yml", "__pycache__/a.pyc",
                "sub/__pycache__/b.pyc", ".sandbox/x", ".venv/bin/python", ".pytest_cache/v"):
        write(tmp_path / rel)
    assert list(walk(tmp_path)) == ["a.py", "sub/b.py"]


def test_collect_local_maps_dags_and_mwaa_files_to_their_keys(proj):
    write(proj / "dags" / "sub" / "b.py", DAG)
    keys = [f.key for f in collect_local(proj, layout(load_settings(proj)))]
    assert keys == ["dags/a.py", "dags/sub/b.py", "requirements.txt"]


def test_collect_local_with_another_dags_dir_is_a_whole_repository_sync(proj):
    keys = [f.key for f in collect_local(proj, layout(load_settings(proj), proj))]
    assert "dags/requirements.txt" in keys and "dags/dags/a.py" in keys and "requirements.txt" in keys


# -- .airflowignore -------------------------------------------------------------------------------------
def test_airflowignore_folder_pattern_hides_its_files():
    assert ignored(["weblogs/a.py", "weblogs/deep/b.py", "dag.py"], {"": "weblogs/\n"}) == \
        {"weblogs/a.py", "weblogs/deep/b.py"}


def test_airflowignore_is_a_regexp_searched_anywhere_in_the_path():
    paths = ["lib/helpers.py", "helpers_dag.py", "x/y.py"]
    assert ignored(paths, {"": "helpers"}) == {"lib/helpers.py", "helpers_dag.py"}
    assert ignored(paths, {"": "^x$"}) == {"x/y.py"}  # a pruned folder hides everything below


def test_airflowignore_comments_blank_lines_and_invalid_regexps():
    assert [p.pattern for p in parse_patterns("# comment\n\nlib  # trailing\n[unclosed\nok\n")] == ["lib", "ok"]


def test_nested_airflowignore_applies_below_its_folder_relative_to_the_root():
    files = ["a/util.py", "b/util.py", "a/inner/x.py"]
    assert ignored(files, {"a": "util"}) == {"a/util.py"}
    # patterns match paths relative to the DAG folder root, as in Airflow 2.9
    assert ignored(files, {"a": "^inner"}) == set()
    assert ignored(files, {"a": "^a/inner"}) == {"a/inner/x.py"}


# -- warnings ---------------------------------------------------------------------------------------
CONFIGURED = {"RequirementsS3Path": "requirements.txt", "PluginsS3Path": None, "StartupScriptS3Path": None}


def test_misplaced_requirements_and_plugins_under_the_dag_prefix():
    found = pitfalls.misplaced_mwaa_files("dags/", ["a.py", "requirements.txt", "x/plugins.zip",
                                                    "x/requirements.txt"], CONFIGURED)
    assert [w.paths for w in found] == [("x/plugins.zip",), ("requirements.txt", "x/requirements.txt")]
    assert "dags/requirements.txt" in found[1].message and "RequirementsS3Path (requirements.txt)" in found[1].message
    assert "PluginsS3Path, which mwaa.yaml does not set" in found[0].message


def test_no_misplaced_warning_for_other_names():
    assert pitfalls.misplaced_mwaa_files("dags/", ["a.py", "my_requirements.txt", "startup.py"], CONFIGURED) == []


def test_non_python_files_one_warning_with_exemptions():
    found = pitfalls.non_python_files("dags/", [".airflowignore", "README.md", "q.sql", "conf.yaml", "a.py",
                                                "requirements.txt", "data.csv", "nb.ipynb", "pkg.zip"])
    assert len(found) == 1
    assert found[0].paths == ("data.csv", "nb.ipynb", "pkg.zip")


def test_no_non_python_warning_for_a_clean_folder():
    assert pitfalls.non_python_files("dags/", ["a.py", ".airflowignore", "sub/b.py"]) == []


@pytest.mark.parametrize("source,expected", [
    (DAG, True),
    ("from airflow.decorators import dag\n@dag(schedule=None)\ndef f(): ...\n", True),
    ("import airflow.models\nx = airflow.models.DAG('x')\n", True),
    ("from airflow.hooks.base import BaseHook\ndef conn(): ...\n", False),
    ("def DAG(x): ...\nDAG(1)\n", False),  # no airflow at all
])
def test_defines_dag_heuristic(source, expected):
    assert pitfalls.defines_dag(source) is expected


def test_helper_modules_in_subfolders_not_ignored():
    sources = {"top.py": "x = 1", "lib/helpers.py": "import airflow", "lib/dag_in_sub.py": DAG,
               "other/u.py": "", "hidden/h.py": ""}
    found = pitfalls.helper_modules("dags/", sources, {"": "^hidden/"})
    assert [w.paths for w in found] == [("lib/helpers.py",), ("other/u.py",)]
    assert "`lib/`" in found[0].message and "dags/.airflowignore" in found[0].message


def test_helper_modules_silent_when_airflowignore_lists_them():
    assert pitfalls.helper_modules("dags/", {"weblogs/a.py": "", "weblogs/__init__.py": ""},
                                   {"": "weblogs/\n"}) == []


def test_missing_mwaa_file_named_in_spec():
    found = pitfalls.missing_files({"RequirementsS3Path": "requirements.txt", "PluginsS3Path": "plugins.zip"},
                                   {"requirements.txt"})
    assert [w.paths for w in found] == [("plugins.zip",)]


NOTHING_SET = {"RequirementsS3Path": None, "PluginsS3Path": None, "StartupScriptS3Path": None}


@pytest.mark.parametrize("name,field", sorted((n, f) for n, f in pitfalls.MWAA_FILES.items()))
def test_an_mwaa_file_no_key_names_is_ignored(name, field):
    found = pitfalls.ignored_files(NOTHING_SET, {name})
    assert [(w.code, w.paths) for w in found] == [("ignored-mwaa-file", (name,))]
    assert f"{name}: MWAA ignores this file because mwaa.yaml does not set {field}" in found[0].message
    assert f"add `{field}: {name}` to mwaa.yaml" in found[0].message
    assert "\n" not in found[0].message


@pytest.mark.parametrize("name,field", sorted((n, f) for n, f in pitfalls.MWAA_FILES.items()))
def test_an_mwaa_file_its_key_names_is_not_ignored(name, field):
    assert pitfalls.ignored_files({**NOTHING_SET, field: name}, {name}) == []


def test_a_key_naming_another_path_leaves_the_root_file_ignored():
    found = pitfalls.ignored_files({**NOTHING_SET, "RequirementsS3Path": "deps/requirements.txt"},
                                   {"requirements.txt"})
    assert len(found) == 1
    assert "RequirementsS3Path is deps/requirements.txt" in found[0].message
    assert "none of its packages is installed" in found[0].message


def test_no_ignored_warning_without_the_file():
    assert pitfalls.ignored_files(NOTHING_SET, set()) == []


def test_ignored_project_files_reads_the_project_root(project):
    write(project / "mwaa.yaml", "RequirementsS3Path: deps/requirements.txt\nPluginsS3Path: plugins.zip\n")
    for name in ("requirements.txt", "deps/requirements.txt", "plugins.zip", "startup.sh"):
        write(project / name)
    found = ignored_project_files(load_settings(project, environ={}))
    assert [w.paths for w in found] == [("requirements.txt",), ("startup.sh",)]


def test_find_pitfalls_clean_project_and_whole_repository_sync(proj):
    write(proj / "dags" / ".airflowignore", "lib/\n")
    write(proj / "dags" / "lib" / "h.py", "x = 1")
    write(proj / "Makefile", "all:\n")
    settings = load_settings(proj)
    assert find_pitfalls(proj, layout(settings)) == []
    codes = {w.code for w in find_pitfalls(proj, layout(settings, proj))}
    assert {"misplaced-mwaa-file", "non-python-files"} <= codes


def test_repository_dags_folder_has_no_warnings(repo_dir):
    settings = load_settings(repo_dir)
    assert find_pitfalls(repo_dir, layout(settings)) == []


# -- execution against moto's in-process mock --------------------------------------------------------
@pytest.fixture
def bucket_s3(monkeypatch):
    from moto import mock_aws
    import boto3

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        kms = boto3.client("kms", region_name="us-east-1")
        key_arn = kms.create_key()["KeyMetadata"]["Arn"]
        s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        s3.create_bucket(Bucket="unit-bucket")
        s3.put_bucket_versioning(Bucket="unit-bucket", VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(Bucket="unit-bucket", ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}}]})
        yield s3, key_arn


def test_deploy_uploads_with_versions_then_nothing_then_deletes(proj, bucket_s3):
    s3, key_arn = bucket_s3
    settings = load_settings(proj)
    first = deploy_project(settings, s3=s3)
    assert first.uploaded == ["dags/a.py", "requirements.txt"]
    assert all(v.version_id and v.encryption == "aws:kms" and v.kms_key_id == key_arn for v in first.versions)
    head = s3.head_object(Bucket="unit-bucket", Key="dags/a.py")
    assert head["Metadata"]["sha256"] == sha256_bytes(DAG.encode())
    again = deploy_project(settings, s3=s3)
    assert (again.uploaded, again.deleted, again.versions) == ([], [], [])
    assert again.plan.unchanged == ("dags/a.py", "requirements.txt")
    (proj / "dags" / "a.py").unlink()
    gone = deploy_project(settings, s3=s3)
    assert gone.deleted == ["dags/a.py"] and gone.versions[0].delete_marker
    assert "Contents" not in s3.list_objects_v2(Bucket="unit-bucket", Prefix="dags/")


def test_deploy_warns_once_about_a_root_file_mwaa_ignores(proj, bucket_s3):
    s3, _ = bucket_s3
    write(proj / "startup.sh", "export A=1\n")
    report = deploy_project(load_settings(proj), DeployOptions(dry_run=True), s3=s3)
    assert [w.paths for w in report.warnings if w.code == "ignored-mwaa-file"] == [("startup.sh",)]
    assert "startup.sh" not in report.uploaded  # MWAA's bucket would not have it either
    # a whole-repository sync: the "misplaced" warning already names the same file
    whole = deploy_project(load_settings(proj), DeployOptions(dags_dir=proj, dry_run=True), s3=s3)
    assert [w.code for w in whole.warnings].count("ignored-mwaa-file") == 0


def test_dry_run_changes_nothing(proj, bucket_s3):
    s3, _ = bucket_s3
    report = deploy_project(load_settings(proj), DeployOptions(dry_run=True), s3=s3)
    assert report.uploaded == ["dags/a.py", "requirements.txt"] and report.versions == []
    assert "Contents" not in s3.list_objects_v2(Bucket="unit-bucket")


def test_missing_bucket_is_not_running(proj, bucket_s3):
    s3, _ = bucket_s3
    settings = load_settings(proj)
    from dataclasses import replace
    from sandbox.mwaa.spec import parse_spec

    other = replace(settings, spec=parse_spec({"SourceBucketArn": "arn:aws:s3:::no-such-bucket"}))
    with pytest.raises(NotRunningError, match="no-such-bucket") as info:
        deploy_project(other, s3=s3)
    assert "sandbox up" in info.value.hint
