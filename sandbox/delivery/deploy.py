"""`sandbox deploy`: upload the project to the emulated bucket exactly where mwaa.yaml's S3 paths
say, as a CI job's `aws s3 sync` does: removed DAG files deleted, tool folders skipped,
unchanged files not uploaded again.

"Unchanged" never relies on the ETag (under SSE-KMS an ETag is not an MD5): every object we
upload carries its sha256 in `x-amz-meta-sha256`, and an object without it counts as changed.
Deletions happen only under the DAG prefix, like `aws s3 sync --delete` of dags/.
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sandbox.delivery import pitfalls
from sandbox.delivery.airflowignore import IGNORE_FILE
from sandbox.delivery.pitfalls import Pitfall
from sandbox.errors import NotRunningError
from sandbox.mwaa.spec import EnvironmentSpec
from sandbox.services import aws
from sandbox.settings import Settings

SKIP_PARTS = frozenset({".git", ".github", "__pycache__", ".sandbox", ".venv", ".pytest_cache"})
SHA_META = "sha256"  # boto3 sends it as x-amz-meta-sha256


@dataclass(frozen=True)
class LocalFile:
    key: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class RemoteObject:
    key: str
    sha256: str | None = None  # None: not uploaded by us (no metadata), so never "unchanged"
    version_id: str | None = None


@dataclass(frozen=True)
class Plan:
    uploads: tuple[LocalFile, ...] = ()
    deletes: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


@dataclass(frozen=True)
class Version:
    """An object version this deploy created: an upload, or a delete marker."""

    key: str
    version_id: str | None
    delete_marker: bool = False
    encryption: str | None = None  # ServerSideEncryption, aws:kms under the bucket default
    kms_key_id: str | None = None


@dataclass(frozen=True)
class Layout:
    """Where the project's files go: the DAG folder under a prefix, MWAA's files at their keys."""

    bucket: str
    dag_prefix: str  # "dags/" (DagS3Path plus a slash; "" for the bucket root)
    dags_dir: Path
    extras: dict[str, str]  # mwaa.yaml field -> key (None when unset), e.g. RequirementsS3Path

    def extra_path(self, project_dir: Path, key: str) -> Path:
        return project_dir / key


@dataclass(frozen=True)
class DeployOptions:
    dags_dir: Path | None = None  # the local folder synced to DagS3Path (default PROJECT/DagS3Path)
    dry_run: bool = False


@dataclass
class DeployReport:
    bucket: str
    dag_prefix: str
    plan: Plan
    versions: list[Version] = field(default_factory=list)
    warnings: list[Pitfall] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def uploaded(self) -> list[str]:
        return [f.key for f in self.plan.uploads]

    @property
    def deleted(self) -> list[str]:
        return list(self.plan.deletes)

    def dag_relative(self, keys: list[str]) -> list[str]:
        """The keys under the DAG prefix, as paths inside Airflow's dags folder."""
        return [k[len(self.dag_prefix):] for k in keys if k.startswith(self.dag_prefix)]

    def as_dict(self) -> dict:
        return {"bucket": self.bucket, "dag_prefix": self.dag_prefix, "dry_run": self.dry_run,
                "uploaded": self.uploaded, "deleted": self.deleted,
                "unchanged": list(self.plan.unchanged),
                "counts": {"uploaded": len(self.plan.uploads), "deleted": len(self.plan.deletes),
                           "unchanged": len(self.plan.unchanged)},
                "versions": [vars(v) for v in self.versions],
                "warnings": [w.as_dict() for w in self.warnings],
                "seconds": round(self.seconds, 3)}


# -- planning (pure) ------------------------------------------------------------------------------
def dag_prefix(dag_s3_path: str) -> str:
    path = dag_s3_path.strip("/")
    return f"{path}/" if path else ""


def configured_keys(spec: EnvironmentSpec) -> dict[str, str | None]:
    """mwaa.yaml field -> key of MWAA's own files (None when unset)."""
    return {"RequirementsS3Path": spec.requirements_s3_path, "PluginsS3Path": spec.plugins_s3_path,
            "StartupScriptS3Path": spec.startup_script_s3_path}


def layout(settings: Settings, dags_dir: Path | None = None) -> Layout:
    spec = settings.spec
    folder = dags_dir or settings.project_dir / spec.dag_s3_path
    return Layout(spec.bucket_name, dag_prefix(spec.dag_s3_path), folder, configured_keys(spec))


def ignored_project_files(settings: Settings) -> list[Pitfall]:
    """requirements.txt, plugins.zip, startup.sh at the project root that mwaa.yaml does not
    name, so MWAA never reads them: the one check `up`, `deploy` and `status` all report."""
    at_root = {name for name in pitfalls.MWAA_FILES if (settings.project_dir / name).is_file()}
    return pitfalls.ignored_files(configured_keys(settings.spec), at_root)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def walk(root: Path) -> dict[str, Path]:
    """Files under root by posix relative path, skipping VCS, cache and tool folders."""
    if not root.is_dir():
        return {}
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not SKIP_PARTS.intersection(rel.parts):
            found[rel.as_posix()] = path
    return found


def collect_local(project_dir: Path, lay: Layout) -> list[LocalFile]:
    """The DAG folder's files at `<prefix><rel>`, plus MWAA's files at their keys (if present)."""
    files = [LocalFile(lay.dag_prefix + rel, path, sha256_file(path))
             for rel, path in walk(lay.dags_dir).items()]
    seen = {f.key for f in files}
    for key in lay.extras.values():
        path = lay.extra_path(project_dir, key) if key else None
        if path is not None and path.is_file() and key not in seen:
            files.append(LocalFile(key, path, sha256_file(path)))
            seen.add(key)
    return files


def plan(local: list[LocalFile], remote: dict[str, RemoteObject], owned_prefix: str) -> Plan:
    """Uploads: new or different by sha256. Deletes: remote keys under the owned prefix with no
    local file (folder markers ending in / are left alone)."""
    by_key = {f.key: f for f in local}
    uploads, unchanged = [], []
    for key, f in sorted(by_key.items()):
        current = remote.get(key)
        if current is not None and current.sha256 == f.sha256:
            unchanged.append(key)
        else:
            uploads.append(f)
    deletes = sorted(k for k in remote
                     if k not in by_key and k.startswith(owned_prefix) and not k.endswith("/"))
    return Plan(tuple(uploads), tuple(deletes), tuple(unchanged))


def _folder(rel: str) -> str:
    parent = PurePosixPath(rel).parent.as_posix()
    return "" if parent == "." else parent


def find_pitfalls(project_dir: Path, lay: Layout, ignore_syntax: str = "regexp") -> list[Pitfall]:
    """Every warning for this layout. The helper-module check emulates .airflowignore's regexp
    syntax (Airflow 2.9's default) and is skipped when core.dag_ignore_file_syntax is glob."""
    files = walk(lay.dags_dir)
    rels = list(files)
    ignore_files = {_folder(rel): path.read_text(errors="replace")
                    for rel, path in files.items() if PurePosixPath(rel).name == IGNORE_FILE}
    sources = {rel: path.read_text(errors="replace") for rel, path in files.items() if rel.endswith(".py")}
    present = {key for key in lay.extras.values() if key and lay.extra_path(project_dir, key).is_file()}
    return (pitfalls.misplaced_mwaa_files(lay.dag_prefix, rels, lay.extras)
            + pitfalls.non_python_files(lay.dag_prefix, rels)
            + (pitfalls.helper_modules(lay.dag_prefix, sources, ignore_files)
               if ignore_syntax == "regexp" else [])
            + pitfalls.missing_files(lay.extras, present))


# -- talking to the bucket ----------------------------------------------------------------------
def s3_client(settings: Settings):
    """An S3 client on the emulator that fails fast when nothing answers."""
    from botocore.config import Config

    config = Config(connect_timeout=3, read_timeout=60, retries={"max_attempts": 2, "mode": "standard"})
    return aws.client(settings, "s3", config=config)


def ensure_reachable(s3, settings: Settings, bucket: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise NotRunningError(f"bucket {bucket} does not exist in the AWS emulator at {aws.url(settings)}",
                                  hint="`sandbox up` creates it (the emulator keeps nothing across a restart)")
        raise
    except BotoCoreError as exc:
        raise NotRunningError(f"the AWS emulator does not answer at {aws.url(settings)} ({exc})",
                              hint="start the sandbox with `sandbox up`") from exc


def _head(s3, bucket: str, key: str) -> RemoteObject | None:
    from botocore.exceptions import ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return RemoteObject(key, (head.get("Metadata") or {}).get(SHA_META), head.get("VersionId"))


def list_remote(s3, bucket: str, prefix: str, extra_keys: list[str]) -> dict[str, RemoteObject]:
    """The current objects under prefix plus the extra keys, with their sha256 metadata."""
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    keys += [k for k in extra_keys if k not in keys]
    with ThreadPoolExecutor(max_workers=8) as pool:  # one HEAD per object: metadata is not listed
        heads = list(pool.map(lambda k: _head(s3, bucket, k), keys))
    return {h.key: h for h in heads if h is not None}


def execute(s3, bucket: str, todo: Plan) -> list[Version]:
    """Upload and delete; returns the versions created (uploads, then delete markers)."""
    created = []
    for f in todo.uploads:
        body = f.path.read_bytes()  # the digest is of exactly what is sent
        put = s3.put_object(Bucket=bucket, Key=f.key, Body=body, Metadata={SHA_META: sha256_bytes(body)})
        created.append(Version(f.key, put.get("VersionId"), False, put.get("ServerSideEncryption"),
                               put.get("SSEKMSKeyId")))
    for start in range(0, len(todo.deletes), 1000):  # DeleteObjects takes up to 1000 keys
        chunk = todo.deletes[start:start + 1000]
        done = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": False})
        if done.get("Errors"):
            first = done["Errors"][0]
            raise RuntimeError(f"deleting {first.get('Key')} failed: {first.get('Message')}")
        for d in sorted(done.get("Deleted", []), key=lambda d: d["Key"]):
            created.append(Version(d["Key"], d.get("DeleteMarkerVersionId") or d.get("VersionId"), True))
    return created


def deploy_project(settings: Settings, options: DeployOptions = DeployOptions(), s3=None) -> DeployReport:
    """Plan against the bucket, execute (unless dry_run), and report versions and warnings."""
    started = time.monotonic()
    lay = layout(settings, options.dags_dir)
    s3 = s3 or s3_client(settings)
    ensure_reachable(s3, settings, lay.bucket)
    local = collect_local(settings.project_dir, lay)
    extra_keys = [k for k in lay.extras.values() if k]
    remote = list_remote(s3, lay.bucket, lay.dag_prefix, extra_keys)
    todo = plan(local, remote, lay.dag_prefix)
    syntax = settings.spec.airflow_configuration_options.get("core.dag_ignore_file_syntax", "regexp")
    warnings = find_pitfalls(settings.project_dir, lay, syntax.lower())
    if lay.dags_dir.resolve() != settings.project_dir.resolve():  # else "misplaced" says it
        warnings += ignored_project_files(settings)
    report = DeployReport(lay.bucket, lay.dag_prefix, todo, dry_run=options.dry_run, warnings=warnings)
    if not options.dry_run:
        report.versions = execute(s3, lay.bucket, todo)
    report.seconds = time.monotonic() - started
    return report
