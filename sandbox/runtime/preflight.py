"""Checks before anything starts: ports free, the PostgreSQL user able to reach its files."""

from __future__ import annotations

import errno
import os
import pwd
import socket
import stat
from pathlib import Path

from sandbox.errors import PortInUseError, SandboxError
from sandbox.proc import Command, runner
from sandbox.settings import Settings, env_var


def port_holder(port: int) -> str | None:
    """'name (pid N)' of the process listening on port, when we may know it."""
    try:
        import psutil

        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                return f"{psutil.Process(conn.pid).name()} (pid {conn.pid})"
    except Exception:  # best effort: permissions or a racing exit
        return None
    return None


def check_ports_free(settings: Settings, services: list[str]) -> None:
    """Each named service's published port (services that publish none are skipped)."""
    from sandbox.services.catalog import PUBLISHED

    for service in services:
        port = PUBLISHED.get(service)
        if port is not None:
            check_port_free(settings.host, port.host_port(settings), service, port.setting)


def check_port_free(host: str, port: int, service: str, setting: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
            holder = port_holder(port)
            held = f", held by {holder}" if holder else ""
            raise PortInUseError(
                f"port {port} for {service} is already in use on {host}{held}",
                hint=f"stop that process or set {env_var(setting)} (or Sandbox.{setting} in mwaa.yaml) "
                     "to a free port") from None


def ensure_system_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        runner.run(Command.of("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                              name, timeout=30)).check(f"creating system user {name}")


def ensure_reachable(path: Path, user: str) -> list[Path]:
    """Let `user` traverse every parent of `path` (search permission only, o+x), as PostgreSQL
    running as that user must reach its data and binaries. Returns the folders changed."""
    changed = []
    for parent in reversed(path.resolve().parents):
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(parent, mode | stat.S_IXOTH)
            changed.append(parent)
    return changed


def own_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def require(condition: bool, message: str, hint: str | None = None) -> None:
    if not condition:
        raise SandboxError(message, hint=hint)
