"""pip's output, read: the one-line conflict, the problems, and the log as MWAA writes it.

MWAA pipes pip's stdout and stderr (merged) line by line into the `requirements_install_*`
stream, after its own constraint warnings and before its own error line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from sandbox.mwaa.data import normalize

# The line MWAA logs after pip exits non-zero (mwaa/utils/user_requirements.py).
MWAA_INSTALL_FAILED = (
    "ERROR: pip installation exited with a non-zero error code. This could be the result of "
    "package conflict. Notice that MWAA enforces a list of critical packages, e.g. Airflow, "
    "Celery, among others, whose version cannot be overridden by the customer as that can "
    "break our setup. Please double check your requirements.txt file."
)
# Where things live on an MWAA worker, for the log we show.
MWAA_REQUIREMENTS_PATH = "/usr/local/airflow/requirements/requirements.txt"
MWAA_PLUGINS_DIR = "/usr/local/airflow/plugins"
MWAA_SITE_PACKAGES = "/usr/local/airflow/.local/lib/python3.11/site-packages"

_CANNOT_INSTALL = re.compile(r"^ERROR: (Cannot install .+ because these package versions have "
                             r"conflicting dependencies)\.?$")
_NO_MATCH = re.compile(r"^ERROR: No matching distribution found for (.+)$")
_NOT_FOUND = re.compile(r"^ERROR: Could not find a version that satisfies the requirement (\S+)")
_FETCHED = re.compile(r"^\s*(?:Downloading|Using cached) (\S+?\.(?:whl|tar\.gz|zip|tar\.bz2))\b")
_GENERIC = ("ERROR: ResolutionImpossible", "ERROR: pip's dependency resolver")
# pip giving up on the network: its connection diagnostics (`error: connection-failed`, then
# `× <what>` and `╰─> <cause>`), an OSError from a connection pool, and the last of its retries.
_CONNECTION_ERROR = re.compile(r"^error: (connection-failed|connection-timeout|ssl-missing|"
                               r"ssl-verification-failed|proxy-connection-failed|incomplete-download)$")
_NETWORK_EXCEPTION = re.compile(r"(?:urllib3|requests)\.exceptions\.(\w+(?:Error|Timeout)): (.+)$")
_POOL_OSERROR = re.compile(r"^ERROR: Could not install packages due to an OSError: (.*ConnectionPool\(.*)$")
_LAST_RETRY = re.compile(r"Retrying \(Retry\(total=0\b.*after connection broken by '(\w+)\((.*)\)': (\S+)$")
_HOST = re.compile(r"host='([^']+)', port=(\d+)\): (.*?)\"?$")


@dataclass(frozen=True)
class PipFailure:
    conflict: str  # the key line, one line
    problems: tuple[str, ...]


def conflict_causes(lines: list[str]) -> list[str]:
    """The indented lines under 'The conflict is caused by:'."""
    causes: list[str] = []
    for i, line in enumerate(lines):
        if line.strip() == "The conflict is caused by:":
            for cause in lines[i + 1:]:
                if not cause.strip():
                    break
                causes.append(cause.strip())
            break
    return causes


def read_failure(lines: list[str], returncode: int) -> PipFailure:
    """The conflict in one line, plus every cause or missing distribution as a problem."""
    causes = conflict_causes(lines)
    missing = [m.group(1) for line in lines if (m := _NO_MATCH.match(line.strip()))]
    for line in lines:
        match = _CANNOT_INSTALL.match(line.strip())
        if match:
            detail = f": {'; '.join(causes)}" if causes else ""
            return PipFailure(match.group(1) + detail, tuple(causes))
    if missing:
        return PipFailure(f"No matching distribution found for {missing[0]}",
                          tuple(f"no matching distribution found for {m}" for m in missing))
    errors = [l.strip()[len("ERROR: "):] for l in lines
              if l.strip().startswith("ERROR:") and not l.strip().startswith(_GENERIC)]
    if errors:
        return PipFailure(errors[0], tuple(errors))
    tail = [l.strip() for l in lines if l.strip()]
    return PipFailure(f"pip exited with code {returncode}" + (f": {tail[-1]}" if tail else ""), ())


def network_failure(lines: list[str]) -> str | None:
    """Why pip could not reach a server, in one line; None when the network played no part."""
    stripped = [l.strip() for l in lines]
    for i, line in enumerate(stripped):
        if _CONNECTION_ERROR.match(line):
            what = next((l.lstrip("× ").strip() for l in stripped[i + 1:] if l.startswith("×")), line)
            cause = next((l.lstrip("╰─> ").strip() for l in stripped[i + 1:] if l.startswith("╰─>")), "")
            return f"{what} ({cause})" if cause else what
        pool = _POOL_OSERROR.match(line) or _NETWORK_EXCEPTION.search(line)
        if pool:
            return f"pip could not reach a server: {pool.group(pool.lastindex or 1)}"
    for line in stripped:
        retry = _LAST_RETRY.search(line)
        if retry:
            host = _HOST.search(retry.group(2))
            where = f"{host.group(1)}:{host.group(2)}" if host else "a server"
            detail = host.group(3) if host else retry.group(1)
            return f"pip gave up reaching {where} for {retry.group(3)} ({detail})"
    return None


def unsatisfied(lines: Iterable[str]) -> list[str]:
    """Requirements pip found no distribution for ('Could not find a version ...')."""
    return [m.group(1) for line in lines if (m := _NOT_FOUND.match(line.strip()))]


def fetched_files(lines: Iterable[str]) -> list[str]:
    """Distribution files pip fetched from the index while resolving (for the wheelhouse)."""
    seen: dict[str, None] = {}
    for line in lines:
        match = _FETCHED.match(line)
        if match:
            seen[match.group(1).rsplit("/", 1)[-1]] = None
    return list(seen)


_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def install_order(report: list[dict]) -> list[tuple[str, str]]:
    """(name, version) in the order a real pip install takes them: deepest dependencies first
    (longest path from the requested packages), ties by name, both descending, as pip sorts."""
    items = {normalize(i["metadata"]["name"]): i for i in report}
    deps = {key: [normalize(m.group(1)) for r in item["metadata"].get("requires_dist") or []
                  if "extra ==" not in r and (m := _REQ_NAME.match(r))
                  and normalize(m.group(1)) in items]
            for key, item in items.items()}
    weight: dict[str, int] = {}

    def visit(key: str, depth: int, path: frozenset) -> None:
        if weight.get(key, 0) >= depth or key in path:
            return
        weight[key] = depth
        for dep in deps[key]:
            visit(dep, depth + 1, path | {key})

    for key, item in items.items():
        if item.get("requested"):
            visit(key, 1, frozenset())
    for key in items:
        weight.setdefault(key, 1)
    order = sorted(items, key=lambda k: (weight[k], k), reverse=True)
    return [(items[k]["metadata"]["name"], items[k]["metadata"]["version"]) for k in order]


def mwaa_lines(lines: Iterable[str], paths: Mapping[str, str], drop: Iterable[str] = (),
               order: list[tuple[str, str]] | None = None) -> list[str]:
    """pip's dry-run output turned into what MWAA's real install logs: our paths replaced by
    MWAA's, our own find-links line dropped, 'Would install' spelled as the real install does."""
    dropped = set(drop)
    out: list[str] = []
    for line in lines:
        if line.rstrip() in dropped:
            continue
        for ours, theirs in sorted(paths.items(), key=lambda kv: -len(kv[0])):
            line = line.replace(ours, theirs)
        if line.startswith("Would install ") and order:
            out.append("Installing collected packages: " + ", ".join(n for n, _ in order))
            done = sorted(order, key=lambda nv: nv[0])
            out.append("Successfully installed " + " ".join(f"{n}-{v}" for n, v in done))
            continue
        out.append(line.rstrip("\n"))
    while out and not out[-1].strip():
        out.pop()
    return out
