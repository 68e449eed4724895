"""The e2e report writers: JUnit XML, the self-contained HTML page, result.json and the sparkline."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sandbox.e2e.report import render_html, render_junit, sparkline, write_reports
from sandbox.e2e.result import Check, E2EResult, MinuteCount


def minutes(n: int, broken: bool = False) -> list[MinuteCount]:
    return [
        MinuteCount(f"2026-11-22T12:{i:02d}:00Z", expected=100 + i, actual=0 if broken else 100 + i)
        for i in range(n)
    ]


def passing() -> E2EResult:
    return E2EResult(
        producer="reference_producer", consumer="reference_consumer", topic="web-logs", index="web-logs-idx",
        started_at="2026-11-22T12:00:00Z", produced=15000, indexed=15000, dead_letter=37, malformed=37,
        seconds=42.5,
        checks=[
            Check("no_loss", True, expected="0", actual="0"),
            Check("no_duplicates", True, expected="0", actual="0"),
            Check("dead_letter", True, expected="37", actual="37"),
        ],
        per_minute=minutes(5),
        notes=["consumer caught up in 3 polls"],
    )


def failing() -> E2EResult:
    return E2EResult(
        producer="my_producer", consumer="my_consumer", topic="web-logs", index="web-logs-idx",
        started_at="2026-11-22T12:00:00Z", produced=15000, indexed=0, lost=15000, seconds=90.0,
        checks=[
            Check("no_loss", False, expected="0", actual="15000", detail="lost 15000 of 15000"),
            Check("no_duplicates", True, expected="0", actual="0"),
            Check("query_errors_on_endpoint", False, expected="512", actual="0"),
        ],
        per_minute=minutes(3, broken=True),
        notes=["index stayed empty"],
    )


def suite_of(xml_text: str) -> ET.Element:
    root = ET.fromstring(xml_text)
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    assert len(suites) == 1
    return suites[0]


def actual_bars(page: str) -> list[str]:
    return re.findall(r'<rect class="bar-actual[^"]*"', page)


# ----------------------------------------------------------------------------------------- JUnit


def test_junit_for_a_passing_run_has_one_testcase_per_check_and_no_failures():
    suite = suite_of(render_junit(passing()))
    assert suite.get("name") == "mwaa-sandbox e2e"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "0", "0")
    assert float(suite.get("time")) == pytest.approx(42.5)
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["no_loss", "no_duplicates", "dead_letter"]
    assert {c.get("classname") for c in cases} == {"e2e.reference_producer->reference_consumer"}
    assert suite.findall(".//failure") == []


def test_junit_failures_carry_the_detail_or_expected_and_actual():
    suite = suite_of(render_junit(failing()))
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    by_name = {c.get("name"): c for c in suite.findall("testcase")}
    assert by_name["no_duplicates"].find("failure") is None
    lost = by_name["no_loss"].find("failure")
    assert lost.get("message") == "lost 15000 of 15000"
    assert "expected: 0" in lost.text and "actual: 15000" in lost.text
    # no detail: the message falls back to expected/actual
    query = by_name["query_errors_on_endpoint"].find("failure").get("message")
    assert "512" in query and "0" in query


def test_junit_properties_hold_the_figures():
    props = {p.get("name"): p.get("value") for p in suite_of(render_junit(failing())).find("properties")}
    assert props == {
        "produced": "15000", "indexed": "0", "lost": "15000", "duplicates": "0", "dead_letter": "0",
        "malformed": "0", "topic": "web-logs", "index": "web-logs-idx",
    }


def test_junit_stays_parseable_with_hostile_text():
    result = failing()
    result.topic = '<script>&"\x1b[31m'
    result.checks[0] = Check("no_loss", False, detail="bad \x00 bytes & <tags>")
    suite = suite_of(render_junit(result))
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["topic"].startswith('<script>&"')
    assert "<tags>" in suite.find("testcase/failure").get("message")


# ------------------------------------------------------------------------------------------ HTML


def test_html_of_a_passing_run_shows_passed_and_the_figures():
    page = render_html(passing())
    assert "PASSED" in page and "FAILED" not in page
    assert page.startswith("<!DOCTYPE html>")
    for text in ("15,000", "42.5", "web-logs-idx", "reference_producer", "reference_consumer",
                 "2026-11-22T12:00:00Z", "Dead-letter", "consumer caught up in 3 polls"):
        assert text in page, text


def test_html_of_a_failing_run_shows_failed_checks():
    page = render_html(failing())
    assert "FAILED" in page and "PASSED" not in page
    assert "lost 15000 of 15000" in page
    assert page.count('<tr class="fail">') == 2 and page.count('<tr class="ok">') == 1


def test_html_is_self_contained():
    page = render_html(passing())
    assert "<script" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page


@pytest.mark.parametrize("n", [1, 5, 90])
def test_html_chart_has_one_bar_per_minute(n):
    result = passing()
    result.per_minute = minutes(n)
    page = render_html(result)
    assert page.count("<svg") == 1
    assert len(actual_bars(page)) == n
    assert page.count('class="mark-expected"') == n


def test_html_chart_thins_minute_labels_and_marks_mismatches():
    result = failing()
    result.per_minute = minutes(60, broken=True)
    page = render_html(result)
    labels = re.findall(r">(\d\d:\d\d)</text>", page)
    assert "12:00" in labels and 2 <= len(labels) <= 12
    assert len(re.findall(r'<rect class="bar-actual bar-mismatch"', page)) == 60
    assert "Errors (status 500) per minute" in page


def test_html_chart_has_count_axis_legend_and_proportional_bars():
    result = passing()
    result.per_minute = [MinuteCount("2026-11-22T12:00:00Z", 100, 100), MinuteCount("2026-11-22T12:01:00Z", 50, 0),
                         MinuteCount("2026-11-22T12:02:00Z", 10, 50)]
    page = render_html(result)
    y_labels = re.findall(r'text-anchor="end">([\d,]+)</text>', page)
    assert y_labels[0] == "0" and int(y_labels[-1].replace(",", "")) >= 100 and len(y_labels) >= 3
    assert "12:00" in page and "12:02" in page and "minute (UTC)" in page
    assert "actual (Elasticsearch)" in page and "expected (Kafka)" in page and 'class="legend-actual"' in page
    heights = [float(h) for h in re.findall(r'<rect class="bar-actual[^"]*"[^>]*height="([\d.]+)"', page)]
    assert heights[1] == 0 and heights[0] == pytest.approx(2 * heights[2], rel=0.01)


def test_html_without_minutes_says_no_data():
    result = passing()
    result.per_minute = []
    page = render_html(result)
    assert "<svg" not in page
    assert "No data" in page


def test_html_escapes_hostile_strings():
    result = failing()
    result.topic = "<script>alert(1)</script>"
    result.notes = ['<img src=x onerror="boom">']
    result.checks.append(Check("<b>evil</b>", False, detail="a & b"))
    page = render_html(result)
    assert "<script" not in page and "<img" not in page and "<b>evil" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a &amp; b" in page


# ----------------------------------------------------------------------------------------- files


def test_write_reports_writes_three_files_and_json_round_trips(tmp_path: Path):
    out = tmp_path / "nested" / "reports"
    paths = write_reports(failing(), out)
    assert paths == {"junit": out / "junit.xml", "html": out / "report.html", "json": out / "result.json"}
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml", "report.html", "result.json"]  # no temp files
    data = json.loads(paths["json"].read_text())
    assert data["passed"] is False
    assert data["checks"] == {"no_loss": False, "no_duplicates": True, "query_errors_on_endpoint": False}
    assert data["lost"] == 15000
    suite_of(paths["junit"].read_text())
    assert "FAILED" in paths["html"].read_text(encoding="utf-8")


def test_write_reports_replaces_earlier_reports(tmp_path: Path):
    write_reports(failing(), tmp_path)
    paths = write_reports(passing(), tmp_path)
    assert json.loads(paths["json"].read_text())["passed"] is True
    assert "PASSED" in paths["html"].read_text(encoding="utf-8")


# -------------------------------------------------------------------------------------- sparkline


def test_sparkline_empty_and_all_zero():
    assert sparkline([]) == ""
    assert sparkline([0, 0, 0]) == "▁▁▁"


def test_sparkline_length_and_extremes():
    line = sparkline([0, 1, 50, 100, 7])
    assert len(line) == 5
    assert line[0] == "▁" and line[3] == "█"
    assert line[1] != "▁"  # a small count is still visibly non-zero
    assert set(line) <= set("▁▂▃▄▅▆▇█")
    assert sparkline([3]) == "█"


def test_sparkline_is_monotonic():
    line = sparkline(list(range(0, 15)))
    bars = "▁▂▃▄▅▆▇█"
    assert [bars.index(c) for c in line] == sorted(bars.index(c) for c in line)
    assert line[0] == "▁" and line[-1] == "█"
