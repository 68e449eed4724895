"""Fail the image build unless the venv holds exactly MWAA's image versions.

Usage: python verify-pins.py PINS_FILE  (run with the Airflow venv's python)
"""

import re
import sys
from importlib import metadata


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: str) -> dict[str, str]:
    pins = {}
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[normalize(name.split("[")[0].strip())] = version.split(";")[0].strip()
    return pins


def main(path: str) -> int:
    pins = read_pins(path)
    installed = {normalize(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = [f"{n} {installed.get(n, 'missing')} (MWAA: {v})"
             for n, v in sorted(pins.items()) if installed.get(n) != v]
    if wrong:
        print(f"ERROR: package set mismatch with MWAA 2.9.2's image: {', '.join(wrong)}", file=sys.stderr)
        return 1
    print(f"verified: all {len(pins)} MWAA 2.9.2 image packages at MWAA's versions")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
