"""The offline base image: Debian bookworm made with debootstrap, imported with `docker import`.

For machines with no container registry. The host's CA bundle goes in, because outbound HTTPS
may pass a re-signing proxy that later build steps (pip, uv) must trust.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from sandbox.errors import EnvironmentBuildError, ToolMissingError
from sandbox.proc import Command, runner
from sandbox.runtime.compose.buildlog import LoggedRun, run_logged

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("ca-certificates", "python3", "python3-venv", "bash", "procps", "tzdata")
RECIPE_VERSION = "1"  # bump when the recipe below changes
REPOSITORY = "mwaa-sandbox/base"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
IMAGE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    "LABEL org.mwaa-sandbox.image=base",
    'CMD ["bash"]',
)
# Configuration written into the root filesystem: lean installs, no documentation.
_ROOTFS_FILES = {
    "etc/apt/apt.conf.d/90mwaa-sandbox": 'APT::Install-Recommends "false";\n'
                                         'APT::Install-Suggests "false";\n',
    # as Debian's official image: downloaded packages never stay in a layer
    "etc/apt/apt.conf.d/docker-clean": 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
                                       '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
                                       'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
                                       '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
                                       'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n',
    "etc/dpkg/dpkg.cfg.d/90mwaa-sandbox": "path-exclude /usr/share/doc/*\n"
                                          "path-include /usr/share/doc/*/copyright\n"
                                          "path-exclude /usr/share/man/*\n"
                                          "path-exclude /usr/share/info/*\n"
                                          "path-exclude /usr/share/locale/*\n",
}
_REMOVE = ("var/lib/apt/lists", "var/cache/apt/archives", "var/log")


def host_ca_bundle() -> bytes:
    """The host's CA bundle (empty when the host has none, e.g. macOS)."""
    try:
        return HOST_CA_BUNDLE.read_bytes()
    except OSError:
        return b""


def base_tag(ca_bundle: bytes) -> str:
    """mwaa-sandbox/base:<hash of suite, packages, CA bundle and recipe>."""
    digest = hashlib.sha256()
    for part in (RECIPE_VERSION, SUITE, ",".join(PACKAGES), "\n".join(IMAGE_CHANGES),
                 repr(sorted(_ROOTFS_FILES.items())), hashlib.sha256(ca_bundle).hexdigest()):
        digest.update(part.encode())
        digest.update(b"\0")
    return f"{REPOSITORY}:{digest.hexdigest()[:16]}"


def check_tools() -> None:
    """debootstrap writes device nodes and chroots: it needs root and the debootstrap package."""
    if shutil.which("debootstrap") is None:
        raise ToolMissingError(
            "debootstrap not found; the offline base image is made with it",
            hint="install it (apt-get install debootstrap), or build from registry images "
                 "(without --offline-images)")
    if os.geteuid() != 0:
        raise EnvironmentBuildError(
            "building the offline base image needs root (debootstrap creates device nodes and chroots)",
            hint="run as root, or build from registry images (without --offline-images)")
    if not HOST_CA_BUNDLE.is_file():
        raise EnvironmentBuildError(
            f"{HOST_CA_BUNDLE} not found; the offline images need the host's CA certificates",
            hint="install ca-certificates on this machine (apt-get install ca-certificates)")


def build_base(tag: str, ca_bundle: bytes, *, work_dir: Path, log_dir: Path, progress,
               name: str = "base") -> None:
    """debootstrap into a temporary folder, add our configuration, `docker import` it as `tag`."""
    check_tools()
    work_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="rootfs-", dir=work_dir))
    try:
        rootfs = tmp / "rootfs"
        progress.step(name, f"debootstrap {SUITE} (minbase + {', '.join(PACKAGES)}) from {MIRROR}")
        run_logged(debootstrap_argv(rootfs), LoggedRun(name, f"debootstrap {SUITE}",
                                                       log_dir / "debootstrap.log", 1800), progress)
        finish_rootfs(rootfs, ca_bundle)
        progress.step(name, f"importing the root filesystem as {tag}")
        tarball = tmp / "rootfs.tar"
        runner.run(Command.of("tar", "--numeric-owner", "-C", rootfs, "-cf", tarball, ".",
                              timeout=600)).check("packing the base root filesystem")
        runner.run(Command.of(*import_argv(tarball, tag), timeout=600)).check(f"docker import {tag}")
    finally:
        remove_rootfs(tmp)


def debootstrap_argv(rootfs: Path) -> tuple[str, ...]:
    return ("debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
            SUITE, str(rootfs), MIRROR)


def import_argv(tarball: Path, tag: str) -> tuple[str, ...]:
    changes = [a for change in IMAGE_CHANGES for a in ("--change", change)]
    return ("docker", "import", *changes, str(tarball), tag)


def finish_rootfs(rootfs: Path, ca_bundle: bytes) -> None:
    """The host's CA bundle, lean apt/dpkg settings, and no package caches or logs."""
    (rootfs / "etc/ssl/certs/ca-certificates.crt").write_bytes(ca_bundle)
    for relative, text in _ROOTFS_FILES.items():
        path = rootfs / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for relative in _REMOVE:
        folder = rootfs / relative
        if folder.is_dir():
            for child in folder.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)


def remove_rootfs(tmp: Path) -> None:
    """Remove a build folder, first unmounting anything an interrupted debootstrap left mounted
    inside it (removing through a mounted /proc or /sys must never happen)."""
    if not tmp.exists():
        return
    for mount in reversed(mounts_below(tmp)):
        runner.run(Command.of("umount", "-l", mount, timeout=60))
    if mounts_below(tmp):
        raise EnvironmentBuildError(f"{tmp} still has file systems mounted below it",
                                    hint=f"unmount them (grep {tmp} /proc/mounts), then remove {tmp}")
    shutil.rmtree(tmp, ignore_errors=True)


def mounts_below(folder: Path, mounts_file: Path = Path("/proc/mounts")) -> list[str]:
    prefix = str(folder.resolve()) + "/"
    try:
        lines = mounts_file.read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]
    return sorted(p for p in points if p.startswith(prefix))
