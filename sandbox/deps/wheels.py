"""Which wheels can install on MWAA 2.9.2: Linux x86_64 with glibc 2.34 (Amazon Linux 2023),
CPython 3.11. Wheel file names per PEP 427, tags per PEP 425 / PEP 600; pure Python, no pip."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.mwaa.data import normalize

MWAA_GLIBC = (2, 34)  # Amazon Linux 2023, the base of MWAA's 2.9.2 image
MWAA_PYTHON = (3, 11)
MWAA_PLATFORM = "Linux x86_64 (glibc 2.34) and CPython 3.11"
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz")
# Legacy manylinux names and the glibc they stand for.
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_MANYLINUX_RE = re.compile(r"^manylinux_(\d+)_(\d+)_(.+)$")
_PY_RE = re.compile(r"^(py|cp)(\d)(\d*)$")


@dataclass(frozen=True)
class WheelName:
    filename: str
    name: str
    version: str
    python_tags: tuple[str, ...]
    abi_tags: tuple[str, ...]
    platform_tags: tuple[str, ...]

    @property
    def key(self) -> str:
        return normalize(self.name)


def parse_wheel_filename(filename: str) -> WheelName:
    """`name-version[-build]-python-abi-platform.whl`; each tag field may hold dotted alternatives."""
    if not filename.endswith(".whl"):
        raise ValueError(f"{filename} is not a wheel")
    parts = filename[:-4].split("-")
    if len(parts) not in (5, 6):
        raise ValueError(f"{filename} is not a valid wheel file name (PEP 427)")
    name, version, python, abi, platform = parts[0], parts[1], *parts[-3:]
    return WheelName(filename, name, version, tuple(python.split(".")), tuple(abi.split(".")),
                     tuple(platform.split(".")))


def sdist_name_version(filename: str) -> tuple[str, str] | None:
    """(name, version) of a source distribution file, or None if it is not one."""
    for suffix in SDIST_SUFFIXES:
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            name, sep, version = stem.rpartition("-")
            return (name, version) if sep and name else None
    return None


def platform_problem(tag: str) -> str | None:
    """Why this platform tag cannot install on MWAA, or None if it can."""
    if tag in ("any", "linux_x86_64"):
        return None
    if tag.endswith("_x86_64") and tag[: -len("_x86_64")] in _LEGACY_MANYLINUX:
        return None
    match = _MANYLINUX_RE.match(tag)
    if match and match.group(3) == "x86_64":
        glibc = (int(match.group(1)), int(match.group(2)))
        if glibc <= MWAA_GLIBC:
            return None
        return f"needs glibc {glibc[0]}.{glibc[1]} (MWAA's Amazon Linux 2023 has 2.34)"
    if tag.startswith("macosx_"):
        if tag.endswith("_arm64"):
            return "built for macOS on Apple Silicon (arm64)"
        return f"built for macOS ({tag.split('_', 3)[-1]})"
    if tag.startswith("win"):
        return "built for Windows"
    if tag.startswith("musllinux_"):
        return "built for musl libc (Alpine Linux); MWAA uses glibc"
    if tag.endswith(("_aarch64", "_armv7l", "_ppc64le", "_s390x", "_i686")):
        return f"built for Linux {tag.rsplit('_', 1)[-1]}"
    return f"built for platform {tag}"


def _python_ok(python: str, abi: str) -> bool:
    match = _PY_RE.match(python)
    if not match or match.group(2) != "3":
        return False
    kind, minor = match.group(1), match.group(3)
    fits = minor == "" or int(minor) <= MWAA_PYTHON[1]
    if abi == "none":
        return fits if kind == "py" else minor == "11"
    if abi == "abi3":
        return kind == "cp" and fits
    return kind == "cp" and minor == "11" and abi == "cp311"


def python_problem(wheel: WheelName) -> str | None:
    """Why no python/abi pair of the wheel fits CPython 3.11, or None if one does."""
    if any(_python_ok(p, a) for p in wheel.python_tags for a in wheel.abi_tags):
        return None
    tags = wheel.python_tags
    if any(t.startswith("pp") for t in tags):
        return "built for PyPy"
    versions = sorted({f"3.{m.group(3)}" for t in tags if (m := _PY_RE.match(t))
                       and m.group(1) == "cp" and m.group(2) == "3" and m.group(3)})
    if versions:
        return f"built for CPython {', '.join(versions)}"
    if all(t.startswith(("py2", "cp2")) for t in tags):
        return "Python 2 only"
    return f"built for {'.'.join(tags)}-{'.'.join(wheel.abi_tags)}"


def incompatibility(wheel: WheelName) -> str | None:
    """One reason this wheel cannot install on MWAA, or None if it can."""
    platform_reasons = [platform_problem(t) for t in wheel.platform_tags]
    if all(platform_reasons):
        return platform_reasons[0]
    return python_problem(wheel)


def describe_problem(filename: str) -> str | None:
    """'<file>: <reason>; MWAA needs ...' for a distribution file in plugins.zip, or None."""
    if filename.endswith(".whl"):
        try:
            reason = incompatibility(parse_wheel_filename(filename))
        except ValueError as exc:
            reason = str(exc)
        return f"{filename}: {reason}; MWAA needs {MWAA_PLATFORM}" if reason else None
    return None
