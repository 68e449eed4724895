"""Write an e2e result as JUnit XML (for CI), a self-contained HTML page and JSON; plus a sparkline.

Standard library only. The HTML page has inline CSS and an inline SVG chart: no scripts, no
external assets, so it can be archived as a CI artefact and opened anywhere.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from datetime import datetime
from html import escape
from pathlib import Path

from sandbox.e2e.result import Check, E2EResult, MinuteCount

SUITE_NAME = "mwaa-sandbox e2e"
SPARK_BARS = "▁▂▃▄▅▆▇█"
# Characters XML 1.0 does not allow (ANSI escapes in a detail would make the report unparsable).
_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(value: object) -> str:
    return _XML_INVALID.sub("\ufffd", str(value))


def _h(value: object) -> str:
    return escape(_x(value), quote=True)


# --------------------------------------------------------------------------------------- JUnit


def _failure_message(check: Check) -> str:
    return check.detail or f"expected {check.expected or '?'}, got {check.actual or '?'}"


def render_junit(result: E2EResult) -> str:
    """One <testsuite> (inside <testsuites>) with one <testcase> per check."""
    failures = sum(1 for c in result.checks if not c.passed and not c.skipped)
    skips = sum(1 for c in result.checks if c.skipped)
    counts = {"tests": str(len(result.checks)), "failures": str(failures), "errors": "0", "skipped": str(skips)}
    elapsed = f"{result.seconds:.3f}"
    root = ET.Element("testsuites", {"name": SUITE_NAME, **counts, "time": elapsed})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, **counts, "time": elapsed})
    if result.started_at:
        # JUnit's schema wants a timestamp without a zone designator; started_at is UTC anyway.
        suite.set("timestamp", _x(result.started_at).removesuffix("Z"))
    props = ET.SubElement(suite, "properties")
    for name in ("produced", "indexed", "lost", "duplicates", "dead_letter", "malformed", "topic", "index"):
        ET.SubElement(props, "property", {"name": name, "value": _x(getattr(result, name))})
    classname = _x(f"e2e.{result.producer}->{result.consumer}")
    for check in result.checks:
        case = ET.SubElement(suite, "testcase", {"classname": classname, "name": _x(check.name), "time": "0"})
        if check.skipped:
            ET.SubElement(case, "skipped", {"message": _x(check.detail)})
        elif not check.passed:
            failure = ET.SubElement(case, "failure", {"message": _x(_failure_message(check)), "type": "CheckFailed"})
            lines = [f"expected: {check.expected}", f"actual: {check.actual}"]
            if check.detail:
                lines.append(f"detail: {check.detail}")
            failure.text = _x("\n".join(lines))
    if result.notes:
        ET.SubElement(suite, "system-out").text = _x("\n".join(result.notes))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---------------------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
main{max-width:1100px;margin:0 auto;padding:24px}
header{padding:20px 24px;border-radius:8px;color:#fff;margin-bottom:24px}
header.passed{background:#2f855a}header.failed{background:#c53030}
header h1{margin:0 0 4px;font-size:26px}header p{margin:0;opacity:.9}
section{background:#fff;border-radius:8px;padding:16px 20px;margin-bottom:20px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:18px;margin:0 0 12px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e4e7eb;vertical-align:top}
table.summary th{width:180px;color:#52606d;font-weight:600}
table.checks thead th{background:#f0f4f8}
td.num{font-variant-numeric:tabular-nums}td.bad{color:#c53030;font-weight:700}
tr.ok td.status{color:#2f855a;font-weight:700}tr.fail{background:#fff5f5}
tr.fail td.status{color:#c53030;font-weight:700}
tr.skip td.status{color:#975a16;font-weight:700}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;word-break:break-all}
.nodata{color:#7b8794;font-style:italic}
svg.chart{width:100%;height:auto;display:block}
svg.chart text{font-size:12px;fill:#52606d}
.bar-actual{fill:#4a7fc1}.bar-actual.bar-mismatch{fill:#e07a5f}
.mark-expected{stroke:#1f2933;stroke-width:2.5}
.grid{stroke:#e4e7eb}.axis{stroke:#9aa5b1}
"""


def _summary_rows(result: E2EResult) -> list[tuple[str, str, str]]:
    """(label, value, css class) for the summary table."""

    def count(value: int, bad_if_positive: bool = False) -> tuple[str, str]:
        return f"{value:,}", "num bad" if bad_if_positive and value > 0 else "num"

    rows = [
        ("Produced", *count(result.produced)),
        ("Indexed", *count(result.indexed)),
        ("Lost", *count(result.lost, True)),
        ("Duplicates", *count(result.duplicates, True)),
        ("Dead-letter", *count(result.dead_letter)),
        ("Malformed", *count(result.malformed)),
        ("Seconds", f"{result.seconds:.1f}", "num"),
    ]
    for label, value in (("Topic", result.topic), ("Index", result.index), ("Producer", result.producer),
                         ("Consumer", result.consumer), ("Started at", result.started_at),
                         ("Identity", result.identity), ("Record format", result.record_format)):
        if not value:
            continue
        rows.append((label, f"<code>{_h(value)}</code>", ""))
    return rows


def _summary_table(result: E2EResult) -> str:
    rows = "".join(
        f'<tr><th scope="row">{_h(label)}</th><td class="{cls}">{value}</td></tr>'
        for label, value, cls in _summary_rows(result)
    )
    return f'<table class="summary">{rows}</table>'


_ROW_CLASS = {"OK": "ok", "FAIL": "fail", "SKIPPED": "skip"}


def _tally(checks: list[Check]) -> str:
    decided = [c for c in checks if not c.skipped]
    text = f"{sum(c.passed for c in decided)} of {len(decided)} checks passed"
    return text + (f", {len(checks) - len(decided)} skipped" if len(decided) < len(checks) else "")


def _guarantees(result: E2EResult) -> str:
    """The delivery-guarantees table and the scenarios behind it (with --scenarios)."""
    if not result.scenarios:
        return ""
    rows = "".join(f'<tr class="{ {"holds": "ok", "broken": "fail"}.get(g["verdict"], "skip")}"><td>{_h(g["guarantee"])}</td>'
                   f'<td class="status">{_h(g["verdict"])}</td><td>{_h(g["scenarios"])}</td></tr>'
                   for g in result.guarantees)
    runs = "".join(f'<tr class="{ {"passed": "ok", "failed": "fail"}.get(s["status"], "skip")}"><td><code>{_h(s["name"])}</code></td>'
                   f'<td class="status">{_h(s["status"])}</td><td class="num">{s["lost"]}</td>'
                   f'<td class="num">{s["duplicates"]}</td><td>{_h("; ".join([s["detail"], *s["caveats"]]))}</td></tr>'
                   for s in result.scenarios)
    return ('<section><h2>Delivery guarantees</h2><table class="checks"><thead><tr><th>Guarantee</th>'
            f'<th>Verdict</th><th>Scenarios</th></tr></thead><tbody>{rows}</tbody></table>'
            '<table class="checks"><thead><tr><th>Scenario</th><th>Verdict</th><th>Lost</th><th>Duplicates</th>'
            f'<th>Detail</th></tr></thead><tbody>{runs}</tbody></table></section>')


def _examples(examples: dict) -> str:
    """The first lost / duplicated / unidentified records, by Kafka coordinates."""
    parts = []
    head = "<thead><tr><th>Partition</th><th>Offset</th><th>Identity</th><th>Documents</th><th>Value</th></tr></thead>"
    for kind, rows in examples.items():
        if not rows:
            continue
        body = "".join(f'<tr><td class="num">{r["partition"]}</td><td class="num">{r["offset"]}</td>'
                       f'<td><code>{_h(r.get("identity") or "")}</code></td><td class="num">{r.get("count", "")}</td>'
                       f'<td><code>{_h(r.get("excerpt") or "")}</code></td></tr>' for r in rows)
        parts.append(f'<h3>{_h(kind.replace("_", " ").capitalize())}: first {len(rows)}</h3>'
                     f'<table class="checks">{head}<tbody>{body}</tbody></table>')
    return f"<section><h2>Examples</h2>{''.join(parts)}</section>" if parts else ""


def _checks_table(checks: list[Check]) -> str:
    if not checks:
        return '<p class="nodata">No checks were run.</p>'
    head = "<thead><tr><th>Check</th><th>Result</th><th>Expected</th><th>Actual</th><th>Detail</th></tr></thead>"
    rows = "".join(
        f'<tr class="{_ROW_CLASS[c.status]}"><td><code>{_h(c.name)}</code></td>'
        f'<td class="status">{c.status}</td><td>{_h(c.expected)}</td>'
        f"<td>{_h(c.actual)}</td><td>{_h(c.detail)}</td></tr>"
        for c in checks
    )
    return f'<table class="checks">{head}<tbody>{rows}</tbody></table>'


def _notes(notes: list[str]) -> str:
    if not notes:
        return '<p class="nodata">No notes.</p>'
    return "<ul>" + "".join(f"<li>{_h(n)}</li>" for n in notes) + "</ul>"


def _minute_label(minute: str) -> str:
    try:
        return datetime.fromisoformat(minute).strftime("%H:%M")
    except ValueError:
        return minute[11:16] or minute


def _nice_step(top: int, ticks: int = 5) -> int:
    """A 1/2/5 x 10^n step so that about `ticks` steps cover 0..top."""
    raw = max(top / ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 960, 340, 64, 16, 40, 56


def _y_axis(top: int, step: int, scale) -> list[str]:
    parts = []
    for value in range(0, top + 1, step):
        y = scale(value)
        parts.append(f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{value:,}</text>')
    mid = (_TOP + _H - _BOTTOM) / 2
    parts.append(f'<text x="16" y="{mid:.0f}" text-anchor="middle" transform="rotate(-90 16 {mid:.0f})">'
                 "records with status 500</text>")
    return parts


def _bars(minutes: list[MinuteCount], scale) -> list[str]:
    slot = (_W - _LEFT - _RIGHT) / len(minutes)
    width = min(max(slot * 0.7, 1.0), 48.0)  # thin bars for long runs, not a wall for short ones
    every = math.ceil(len(minutes) / 12)  # at most ~12 x labels
    base = scale(0)
    parts = []
    for i, m in enumerate(minutes):
        x = _LEFT + i * slot + (slot - width) / 2
        y = scale(m.actual)
        cls = "bar-actual" if m.actual == m.expected else "bar-actual bar-mismatch"
        label = _h(f"{_minute_label(m.minute)}: actual {m.actual:,}, expected {m.expected:,}")
        parts.append(f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                     f'height="{base - y:.1f}"><title>{label}</title></rect>')
        ye, ext = scale(m.expected), min(slot * 0.1, width * 0.2)
        parts.append(f'<line class="mark-expected" x1="{x - ext:.1f}" x2="{x + width + ext:.1f}" '
                     f'y1="{ye:.1f}" y2="{ye:.1f}"/>')
        if i % every == 0:
            parts.append(f'<text x="{x + width / 2:.1f}" y="{base + 18:.1f}" text-anchor="middle">'
                         f"{_h(_minute_label(m.minute))}</text>")
    return parts


def _legend() -> list[str]:
    x = _W - _RIGHT - 400
    return [
        f'<rect class="legend-actual" x="{x}" y="12" width="14" height="14" fill="#4a7fc1"/>',
        f'<text x="{x + 20}" y="24">actual (Elasticsearch)</text>',
        f'<line class="legend-expected mark-expected" x1="{x + 160}" x2="{x + 178}" y1="19" y2="19"/>',
        f'<text x="{x + 184}" y="24">expected (Kafka)</text>',
        f'<rect class="legend-mismatch" x="{x + 300}" y="12" width="14" height="14" fill="#e07a5f"/>',
        f'<text x="{x + 320}" y="24">mismatch</text>',
    ]


def render_chart(minutes: list[MinuteCount]) -> str:
    """Inline SVG: one bar per minute for `actual`, a dark tick at `expected`."""
    if not minutes:
        return '<p class="nodata">No data: no per-minute counts were collected.</p>'
    peak = max(max(m.expected, m.actual) for m in minutes)
    step = _nice_step(max(peak, 1))
    top = max(math.ceil(peak / step), 1) * step
    plot_h = _H - _TOP - _BOTTOM

    def scale(value: int) -> float:
        return _TOP + plot_h * (1 - max(value, 0) / top)

    base = scale(0)
    parts = _y_axis(top, step, scale) + _bars(minutes, scale) + _legend()
    parts.append(f'<line class="axis" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{base:.1f}" y2="{base:.1f}"/>')
    parts.append(f'<text x="{(_LEFT + _W - _RIGHT) / 2:.0f}" y="{_H - 10}" text-anchor="middle">minute (UTC)</text>')
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" role="img" '
            f'aria-label="Errors (status 500) per minute"><title>Errors (status 500) per minute</title>'
            + "".join(parts) + "</svg>")


def render_html(result: E2EResult) -> str:
    """A self-contained page: verdict, figures, checks, per-minute chart and notes."""
    verdict = "PASSED" if result.passed else "FAILED"
    pipeline = _h(f"{result.producer} → {result.consumer}")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>E2E {verdict}: {pipeline}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header class="{verdict.lower()}"><h1>End-to-end run {verdict}</h1>
<p>{pipeline} · started {_h(result.started_at)} · {_tally(result.checks)}</p></header>
<section><h2>Summary</h2>{_summary_table(result)}</section>
{_guarantees(result)}
<section><h2>Checks</h2>{_checks_table(result.checks)}</section>
{_examples(result.examples)}
<section><h2>Errors (status 500) per minute</h2>{render_chart(result.per_minute)}</section>
<section><h2>Notes</h2>{_notes(result.notes)}</section>
</main>
</body>
</html>
"""


# --------------------------------------------------------------------------------------- files


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_reports(result: E2EResult, directory: Path) -> dict[str, Path]:
    """Write junit.xml, report.html and result.json into `directory` (created if missing)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"junit": directory / "junit.xml", "html": directory / "report.html", "json": directory / "result.json"}
    _write_atomic(paths["junit"], render_junit(result))
    _write_atomic(paths["html"], render_html(result))
    _write_atomic(paths["json"], json.dumps(result.to_json(), indent=2) + "\n")
    return paths


def sparkline(values: list[int]) -> str:
    """▁▂▃▄▅▆▇█, scaled from 0 to the largest value; any non-zero value is above the lowest bar."""
    if not values:
        return ""
    peak = max(max(values), 0)
    if peak == 0:
        return SPARK_BARS[0] * len(values)
    top = len(SPARK_BARS) - 1
    return "".join(SPARK_BARS[0] if v <= 0 else SPARK_BARS[max(1, round(v * top / peak))] for v in values)
