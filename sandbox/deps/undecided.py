"""Why the check cannot decide (the `unknown` verdict), in one line each.

The check says `install` or `fail` only when it saw what MWAA would see. It cannot when
something on the way is out of its reach here: a constraints URL or the package index does not
answer (MWAA may well reach them), the wheelhouse lacks a file (offline), or an sdist's
metadata step needs a system library MWAA's image has and this machine does not.
"""

from __future__ import annotations

from typing import Callable

from sandbox.deps import piplog, system_libs
from sandbox.mwaa import constraints
from sandbox.mwaa.data import MwaaData


def unfetched_constraints(requirements: str, data: MwaaData, offline_why: str | None,
                          probe: Callable[[str], str | None]) -> str | None:
    """A constraints URL pip would have to fetch (no copy in the data folder) that it cannot:
    offline, or the URL does not answer. `probe` says why a URL cannot be fetched, or None."""
    for target in constraints.targets(requirements):
        if not constraints.is_url(target):
            continue
        ref = constraints.recognise(target, data, lambda _: None)
        missing = (f"; the MWAA data folder has no copy of the {ref.describe()}"
                   if ref.airflow_version else "")
        if offline_why:
            return f"the constraints {target} cannot be fetched: {offline_why}{missing}"
        problem = probe(target)
        if problem:
            return f"the constraints URL {target} is unreachable from here ({problem}){missing}"
    return None


def from_pip(lines: list[str], mode: str, offline_why: str | None, data: MwaaData) -> str | None:
    """Why a failed pip run says nothing about MWAA, or None when its failure is MWAA's too.
    A private web server has no network on MWAA either: its failures always count."""
    if mode == "private":
        return None
    network = piplog.network_failure(lines)
    if network:
        return f"pip could not reach the network from here: {network}"
    library = system_libs.unbuildable_here(lines, data)
    if library:
        where = (f"MWAA's image has {library.os_package}" if system_libs.image_has(data, library)
                 else "the MWAA data folder does not list the image's OS packages")
        return (f"{library.package} could not be prepared on this machine: its build needs "
                f"{library.library} ({where})")
    missing = piplog.unsatisfied(lines)
    if mode == "offline" and missing:
        return (f"{missing[0]} is not in the wheelhouse and the check cannot ask the index "
                f"({offline_why or 'offline'})")
    return None
