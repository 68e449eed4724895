"""`sandbox requirements check`: would MWAA 2.9.2 install this requirements.txt?

MWAA's rules (shared/mwaa/2.9.2/README.md): the essential constraints always; the full Airflow
constraints forced, with two warning lines, when no line matches `-c |--constraint `; pip on
top of the image's package set; 9 minutes at most. We run the same pip resolution as a dry run
against the image set, so nothing is installed anywhere and the words are pip's own.

Three verdicts: `install`, `fail`, and `unknown` when the check could not see what MWAA would
(a server out of reach from here, a build this machine cannot do: sandbox/deps/undecided.py).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sandbox.deps import cloudwatch, piplog, plugins, undecided
from sandbox.deps.checker_env import Checker, ensure_checker, index_reachable, index_url, url_problem
from sandbox.deps.wheels import parse_wheel_filename, sdist_name_version
from sandbox.errors import CommandFailed, ConfigError, SandboxError
from sandbox.mwaa import constraints
from sandbox.mwaa.data import MwaaData, locate, normalize
from sandbox.mwaa.requirements import InstallPlan, plan_install
from sandbox.proc import runner
from sandbox.settings import Settings

INSTALL_TIMEOUT = 9 * 60  # MWAA's USER_REQUIREMENTS_MAX_INSTALL_TIME
INSTALL = "install"
FAIL = "fail"
UNKNOWN = "unknown"  # the check could not decide; never worded as MWAA failing


class IndexUnreachableError(SandboxError):
    """An online-only step (download) cannot reach the package index."""


@dataclass(frozen=True)
class CheckOptions:
    requirements: Path
    plugins: Path | None = None  # plugins.zip; None or missing: no plugins
    private: bool = False  # no index at all, only the wheels in plugins.zip
    source: str = "auto"  # auto (online, or the wheelhouse when the index is unreachable) | online | offline
    fill_wheelhouse: bool = True  # keep what an online check fetched, for offline checks
    publish: bool = True  # write the log to the emulated CloudWatch when the sandbox runs


@dataclass
class CheckResult:
    verdict: str
    forced_constraints: bool
    conflict: str | None
    problems: list[str]
    resolved: dict[str, str]
    log: list[str]
    mode: str  # online | offline | private
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    cloudwatch: dict | None = None
    wheelhouse: dict | None = None
    reason: str | None = None  # why the verdict is unknown
    constraints: dict | None = None  # the -c target requirements.txt names (ConstraintsRef.to_json)

    @property
    def ok(self) -> bool:
        return self.verdict == INSTALL

    @property
    def constraints_line(self) -> str | None:
        """'requirements.txt constrains to Airflow X ...' when that is not the environment's."""
        return (self.constraints or {}).get("line")

    def verdict_line(self) -> str:
        if self.verdict == UNKNOWN:
            return f"Cannot tell whether MWAA would install these requirements: {self.reason}"
        return ("MWAA would install these requirements" if self.ok
                else f"MWAA would fail: {self.conflict}")

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "verdict_line": self.verdict_line(), "reason": self.reason,
                "constraints": self.constraints,
                "forced_constraints": self.forced_constraints, "conflict": self.conflict,
                "problems": self.problems, "resolved": self.resolved, "mode": self.mode,
                "log": self.log, "notes": self.notes, "seconds": round(self.seconds, 2),
                "cloudwatch": self.cloudwatch, "wheelhouse": self.wheelhouse}


@dataclass
class _Run:
    """One pip dry run: its inputs and outputs, while the temporary folder exists."""

    work: Path
    plan: InstallPlan
    mode: str
    folder: plugins.PluginsFolder | None
    source_args: list[str]
    lines: list[str] = field(default_factory=list)
    returncode: int | None = None
    report: list[dict] = field(default_factory=list)  # pip's --report "install" items
    notes: list[str] = field(default_factory=list)
    offline_why: str | None = None  # offline mode's cause, for an unknown verdict's reason


def read_requirements(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig", errors="replace")
    except FileNotFoundError:
        raise ConfigError(f"requirements file {path} not found",
                          hint="pass --requirements FILE, or create requirements.txt in the project") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def run_check(settings: Settings, options: CheckOptions,
              progress: Callable[[str], None] = lambda _: None) -> CheckResult:
    started = time.monotonic()
    text = read_requirements(options.requirements)
    data = locate(settings.mwaa_data_dir, settings.cache_dir, settings.offline)
    plan = plan_install(text, data, other_versions=True)
    checker = ensure_checker(settings, data, progress)
    with tempfile.TemporaryDirectory(prefix="mwaa-check-") as tmp:
        run = _prepare(Path(tmp), plan, options, settings, checker)
        named = constraints.describe(text, data, _file_opener(options.requirements, run.folder))
        unfetched = (None if run.mode == "private" else
                     undecided.unfetched_constraints(plan.requirements, data, run.offline_why, url_problem))
        if unfetched:
            result = _unknown(run, unfetched, list(plan.messages), [])
        else:
            progress(f"resolving with pip ({run.mode})")
            _resolve(run, checker, data)
            result = _result(run, text, data, checker)
        if run.mode == "online" and options.fill_wheelhouse and result.verdict != UNKNOWN:
            result.wheelhouse = fill_wheelhouse(checker, run)
    result.notes = run.notes + result.notes
    result.constraints = named.to_json(data) if named else None
    if options.publish and result.verdict != UNKNOWN:  # MWAA's log is not known either
        result.cloudwatch = cloudwatch.publish(settings, result.log)
    result.seconds = time.monotonic() - started
    return result


def _file_opener(requirements: Path, folder: plugins.PluginsFolder | None) -> Callable[[str], Path | None]:
    """Finds a local `-c` file here: MWAA's plugins folder in plugins.zip, others as written
    (relative to requirements.txt)."""
    def open_file(target: str) -> Path | None:
        target = target.removeprefix("file://")
        if folder is not None and target.startswith(piplog.MWAA_PLUGINS_DIR + "/"):
            path = folder.path / target[len(piplog.MWAA_PLUGINS_DIR) + 1:]
        else:
            path = requirements.parent / target  # an absolute target stays itself
        return path if path.is_file() else None
    return open_file


def _prepare(work: Path, plan: InstallPlan, options: CheckOptions, settings: Settings,
             checker: Checker) -> _Run:
    folder = None
    if options.plugins is not None and options.plugins.is_file():
        folder = plugins.extract(options.plugins, work / "plugins")
    elif options.private:
        folder = plugins.PluginsFolder(work / "plugins")
        folder.path.mkdir()
        folder.problems.append("no plugins.zip: a private web server has no internet, so every "
                               "requirement not in MWAA's image needs a wheel in plugins.zip")
    run = _Run(work, plan, "private", folder, ["--no-index"])
    if options.private:
        # As on MWAA: no index, and only the find-links requirements.txt itself names.
        if piplog.MWAA_PLUGINS_DIR not in plan.requirements:
            folder.problems.append(f"requirements.txt has no `--find-links {piplog.MWAA_PLUGINS_DIR}` "
                                   "line, so pip does not look at the wheels in plugins.zip")
    else:
        _index_source(run, settings, options, checker)
    return run


def _index_source(run: _Run, settings: Settings, options: CheckOptions, checker: Checker) -> None:
    url = index_url()
    if options.source == "offline":
        run.offline_why = "offline mode is on"
    elif options.source == "auto" and settings.offline:
        run.offline_why = "offline mode is on (SANDBOX_OFFLINE or --offline)"
    if options.source == "online" and not index_reachable(url):
        raise IndexUnreachableError(f"the package index {url} is unreachable",
                                    hint="connect to the network, or set PIP_INDEX_URL to a reachable mirror")
    if not run.offline_why and options.source == "auto" and not index_reachable(url):
        run.notes.append(f"the package index {url} is unreachable: resolving from the wheelhouse "
                         f"{checker.wheelhouse}")
        run.offline_why = f"the package index {url} is unreachable"
    if run.offline_why:
        checker.wheelhouse.mkdir(parents=True, exist_ok=True)
        run.mode, run.source_args = "offline", ["--no-index", "--find-links", str(checker.wheelhouse)]
    else:
        run.mode, run.source_args = "online", ["--index-url", url]


def _resolve(run: _Run, checker: Checker, data: MwaaData) -> None:
    text = run.plan.requirements
    if run.folder is not None:
        text = text.replace(piplog.MWAA_PLUGINS_DIR, str(run.folder.path))
    requirements, report = run.work / "requirements.txt", run.work / "report.json"
    requirements.write_text(text)
    # MWAA: pip3 install --constraint <essential> -r requirements.txt [-c <constraints>]
    constraints = [a for c in run.plan.constraint_files[1:] for a in ("-c", str(c))]
    args = ["install", "--dry-run", "--report", str(report), "--progress-bar", "off",
            *run.source_args, "--constraint", str(data.essential_constraints),
            "-r", str(requirements), *constraints]
    try:
        result = runner.run(checker.pip(*args, timeout=INSTALL_TIMEOUT))
    except CommandFailed:  # the Runner's timeout: MWAA kills pip at 9 minutes too
        run.lines, run.returncode = [], None
        return
    run.lines, run.returncode = result.stdout.splitlines(), result.returncode
    if result.ok and report.is_file():
        run.report = json.loads(report.read_text()).get("install", [])


def _result(run: _Run, text: str, data: MwaaData, checker: Checker) -> CheckResult:
    paths = {str(run.work / "requirements.txt"): piplog.MWAA_REQUIREMENTS_PATH,
             str(checker.site_packages): piplog.MWAA_SITE_PACKAGES}
    if run.folder is not None:
        paths[str(run.folder.path)] = piplog.MWAA_PLUGINS_DIR
    drop = [f"Looking in links: {checker.wheelhouse}"] if run.mode == "offline" else []
    pip_lines = piplog.mwaa_lines(run.lines, paths, drop, piplog.install_order(run.report))
    log = list(run.plan.messages) + pip_lines
    problems = list(run.folder.problems) if run.folder is not None else []
    if run.mode == "private":
        problems += plugins.missing_wheels(text, run.folder, data.image_pins())
    blocked = plugins.url_constraints(text) if run.mode == "private" else []
    if blocked:
        conflict = (f"a private web server has no internet, so it cannot download the constraints "
                    f"{blocked[0]}")
        hint = "put the file in plugins.zip and use --constraint /usr/local/airflow/plugins/<file>"
        return CheckResult(FAIL, run.plan.forced, conflict, problems + [f"{conflict} ({hint})"],
                           {}, log + [piplog.MWAA_INSTALL_FAILED], run.mode)
    if run.returncode == 0:
        resolved = {i["metadata"]["name"]: i["metadata"]["version"] for i in run.report}
        return CheckResult(INSTALL, run.plan.forced, None, problems, resolved, log, run.mode)
    reason = undecided.from_pip(pip_lines, run.mode, run.offline_why, data)
    if reason and run.returncode is not None:
        return _unknown(run, reason, log, problems + _missing_problems(run.mode, pip_lines, problems))
    log.append(piplog.MWAA_INSTALL_FAILED)
    if run.returncode is None:  # MWAA's own limit: it kills pip at 9 minutes too
        conflict = (f"pip did not finish within {INSTALL_TIMEOUT // 60} minutes, "
                    "MWAA's limit for installing requirements")
        return CheckResult(FAIL, run.plan.forced, conflict, problems + [conflict], {}, log, run.mode)
    failure = piplog.read_failure(pip_lines, run.returncode)
    problems += _missing_problems(run.mode, pip_lines, problems) or list(failure.problems)
    return CheckResult(FAIL, run.plan.forced, failure.conflict, _unique(problems), {}, log, run.mode)


def _unknown(run: _Run, reason: str, log: list[str], problems: list[str]) -> CheckResult:
    """No MWAA error line in the log: whether MWAA would write it is what we cannot tell."""
    return CheckResult(UNKNOWN, run.plan.forced, None, _unique(problems), {}, log, run.mode,
                       reason=reason)


def _missing_problems(mode: str, lines: list[str], known: list[str]) -> list[str]:
    """Requirements pip found nothing for, said in terms of where it looked."""
    where = {"private": "no matching wheel in plugins.zip",
             "offline": "not in the wheelhouse (run `sandbox requirements download` with network)"}
    if mode not in where:
        return []
    return [f"{m}: {where[mode]}" for m in piplog.unsatisfied(lines)
            if not any(k.startswith(m + ":") for k in known)]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _name_version(filename: str) -> tuple[str, str] | None:
    if filename.endswith(".whl"):
        wheel = parse_wheel_filename(filename)
        return wheel.name, wheel.version
    return sdist_name_version(filename)


def _wheelhouse_contents(folder: Path) -> set[tuple[str, str]]:
    found = set()
    for path in folder.glob("*") if folder.is_dir() else ():
        try:
            pair = _name_version(path.name)
        except ValueError:
            continue
        if pair:
            found.add((normalize(pair[0]), pair[1]))
    return found


def fill_wheelhouse(checker: Checker, run: _Run) -> dict:
    """Keep every file the online resolution fetched, so the same check works offline."""
    have = _wheelhouse_contents(checker.wheelhouse)
    specs: dict[str, None] = {}
    wanted = [_name_version(f) for f in piplog.fetched_files(run.lines)]
    wanted += [(i["metadata"]["name"], i["metadata"]["version"]) for i in run.report]
    for name, version in filter(None, wanted):
        if (normalize(name), version) not in have:
            specs[f"{name}=={version}"] = None
    summary = {"path": str(checker.wheelhouse), "added": 0, "error": None}
    if not specs:
        return summary
    checker.wheelhouse.mkdir(parents=True, exist_ok=True)
    before = set(checker.wheelhouse.iterdir())
    result = runner.run(checker.pip("download", "--no-deps", "--progress-bar", "off",
                                    "--dest", str(checker.wheelhouse), *run.source_args,
                                    *specs, timeout=INSTALL_TIMEOUT))
    summary["added"] = len(set(checker.wheelhouse.iterdir()) - before)
    if not result.ok:
        summary["error"] = (result.stdout.strip().splitlines() or ["pip download failed"])[-1]
    return summary
