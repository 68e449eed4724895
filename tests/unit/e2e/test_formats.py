"""Reading records as the pipeline wrote them: Apache lines, JSON, user parsers, timestamps."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import pytest

from sandbox.e2e import formats
from sandbox.e2e.formats import QueryRecord
from sandbox.errors import ConfigError

COMMON = b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
COMBINED = (COMMON + b' "http://www.example.com/start.html" '
            b'"Mozilla/4.08 [en] (Win98; I ;Nav)"')
UTC = timezone.utc


def test_common_line_fields():
    fields = formats.APACHE_COMMON.parse(COMMON)
    assert fields == {"ip": "127.0.0.1", "ident": "-", "user": "frank",
                      "timestamp": "10/Oct/2000:13:55:36 -0700",
                      "request": "GET /apache_pb.gif HTTP/1.0", "method": "GET",
                      "endpoint": "/apache_pb.gif", "query": None, "protocol": "HTTP/1.0",
                      "status": 200, "size": 2326}


def test_combined_line_adds_referrer_and_agent():
    fields = formats.APACHE_COMBINED.parse(COMBINED)
    assert fields["referrer"] == "http://www.example.com/start.html"
    assert fields["user_agent"] == "Mozilla/4.08 [en] (Win98; I ;Nav)"
    assert fields["status"] == 200 and fields["endpoint"] == "/apache_pb.gif"
    # combined needs the tail; common reads a combined line and ignores it
    assert formats.APACHE_COMBINED.parse(COMMON) is None
    assert "referrer" not in formats.APACHE_COMMON.parse(COMBINED)


def test_escaped_quotes_dash_size_query_and_ipv6():
    line = (rb'2001:db8::1 - - [10/Oct/2000:13:55:36 +0000] "GET /search?q=\"x\" HTTP/1.1" 404 - '
            rb'"-" "curl \"7\" \\ end"')
    fields = formats.APACHE_COMBINED.parse(line)
    assert fields["ip"] == "2001:db8::1"
    assert fields["request"] == 'GET /search?q="x" HTTP/1.1'
    assert fields["endpoint"] == "/search" and fields["query"] == 'q="x"'
    assert fields["size"] == 0 and fields["status"] == 404
    assert fields["referrer"] == "-" and fields["user_agent"] == 'curl "7" \\ end'


def test_malformed_request_line_is_still_a_record():
    line = b'10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "-" 408 0 "-" "-"'
    fields = formats.APACHE_COMBINED.parse(line)
    assert fields is not None and fields["status"] == 408
    assert fields["method"] is None and fields["endpoint"] is None and fields["protocol"] is None
    assert formats.missing_query_fields(fields) == ["endpoint"]


def test_not_apache():
    for junk in (None, b"", b"hello world", COMMON.replace(b" 200 ", b" OK "),
                 COMMON + b" trailing junk", b"\xff\xfe"):
        assert formats.APACHE_COMMON.parse(junk) is None, junk
        assert formats.APACHE_COMBINED.parse(junk) is None, junk


def test_json_objects_only():
    assert formats.JSON.parse(b'{"a": 1}') == {"a": 1}
    for other in (None, b"", b"[1, 2]", b"42", b"{broken", b"\xff"):
        assert formats.JSON.parse(other) is None, other


def test_detect_picks_the_format_that_reads_nine_in_ten():
    assert formats.detect([b'{"i": %d}' % i for i in range(50)] + [None, b""]) is formats.JSON
    assert formats.detect([COMBINED] * 19 + [b"garbage"]) is formats.APACHE_COMBINED
    assert formats.detect([COMMON] * 10) is formats.APACHE_COMMON
    # 80 % readable is not enough, whichever format
    assert formats.detect([COMBINED] * 8 + [b"x", b"y"]) is None
    mixed = [b'{"a": 1}', COMMON, COMBINED, b"plain text", b"{"] * 10
    assert formats.detect(mixed) is None
    assert formats.detect([None, b"  "]) is None


def test_detect_looks_at_the_first_200_non_empty_values():
    assert formats.detect([COMMON] * 200 + [b"junk"] * 500) is formats.APACHE_COMMON


@pytest.mark.parametrize("value, expected", [
    ("2000-10-10T20:55:36Z", datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)),
    ("2000-10-10T13:55:36.250-07:00", datetime(2000, 10, 10, 20, 55, 36, 250000, tzinfo=UTC)),
    ("2000-10-10 20:55:36", datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)),
    ("10/Oct/2000:13:55:36 -0700", datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)),
    ("[10/Oct/2000:13:55:36 +0200]", datetime(2000, 10, 10, 11, 55, 36, tzinfo=UTC)),
    ("Oct 10 2000, 13:55:36", datetime(2000, 10, 10, 13, 55, 36, tzinfo=UTC)),
    (971211336, datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)),
    (971211336.5, datetime(2000, 10, 10, 20, 55, 36, 500000, tzinfo=UTC)),
    (971211336123, datetime(2000, 10, 10, 20, 55, 36, 123000, tzinfo=UTC)),
    ("971211336", datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)),
])
def test_timestamp_styles_become_aware_utc(value, expected):
    parsed = formats.parse_timestamp(value)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize("value", [None, True, "", "yesterday", "2000-13-45T00:00:00Z",
                                   "10/Foo/2000:13:55:36 -0700", [1], 10 ** 30])
def test_unreadable_timestamps(value):
    assert formats.parse_timestamp(value) is None


def test_textual_timestamps_exclude_numbers():
    assert formats.parse_timestamp_text("971211336") is None
    assert formats.parse_timestamp_text("2000-10-10T20:55:36Z") is not None


def test_query_view_from_json_fields():
    fields = json.loads(b'{"event_id": "e1", "timestamp": "2026-11-22T12:00:05Z", '
                        b'"endpoint": "/services", "status": 500}')
    assert formats.query_view(fields) == QueryRecord(
        datetime(2026, 11, 22, 12, 0, 5, tzinfo=UTC), "/services", 500)
    other = {"@timestamp": 1700000000000, "url": "https://h/x/y?z=1", "status_code": "503"}
    assert formats.query_view(other) == QueryRecord(
        datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), "/x/y", 503)
    assert formats.query_view({"time": "Oct 10 2000, 13:55:36", "path": "/p", "response": 200.0}) \
        == QueryRecord(datetime(2000, 10, 10, 13, 55, 36, tzinfo=UTC), "/p", 200)


def test_query_view_from_apache_fields_and_a_bare_request():
    view = formats.query_view(formats.APACHE_COMBINED.parse(COMBINED))
    assert view == QueryRecord(datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC), "/apache_pb.gif", 200)
    bare = {"timestamp": "2000-10-10T20:55:36Z", "request": "POST /api?x=1 HTTP/2", "status": 201}
    assert formats.query_view(bare).endpoint == "/api"


def test_missing_query_fields_names_each_gap():
    assert formats.missing_query_fields({}) == ["timestamp", "endpoint", "status"]
    assert formats.missing_query_fields({"timestamp": "soon", "endpoint": "/a", "status": "5xx"}) \
        == ["timestamp", "status"]
    assert formats.missing_query_fields({"timestamp": 1, "endpoint": "", "status": True}) \
        == ["endpoint", "status"]
    assert formats.query_view({"timestamp": 1, "endpoint": "/a"}) is None


# -- user parsers --------------------------------------------------------------------------------
PARSER = '''
import json

def parse(value):
    if value == b"boom":
        raise ValueError("cannot read boom")
    if value == b"list":
        return [1]
    return {"raw": value.decode()}

NOT_CALLABLE = 3
'''


@pytest.fixture
def project(tmp_path):
    (tmp_path / "parsers").mkdir()
    (tmp_path / "parsers" / "mine.py").write_text(PARSER)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "plugged.py").write_text("def read(value):\n    return {'p': 1}\n")
    (tmp_path / "broken.py").write_text("import not_installed_anywhere_xyz\n")
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:  # the next test's project has the same module names
        del sys.modules[name]


@pytest.mark.parametrize("dotted", ["parsers.mine.parse", "parsers.mine:parse"])
def test_user_parser_by_dotted_path(project, dotted):
    saved = list(sys.path)
    fmt = formats.load_parser(dotted, project)
    assert sys.path == saved
    assert fmt.name == dotted and fmt.parse(b"abc") == {"raw": "abc"}
    assert fmt.parse(b"boom") is None and fmt.parse(b"list") is None
    assert fmt.failures.count == 2 and fmt.failures.first == "ValueError: cannot read boom"


def test_user_parser_from_plugins_and_through_format_named(project):
    assert formats.format_named("plugged.read", project).parse(b"x") == {"p": 1}
    assert formats.format_named("apache-combined", project) is formats.APACHE_COMBINED
    assert formats.format_named(" JSON ", project) is formats.JSON
    assert formats.format_named("auto", project) is None


@pytest.mark.parametrize("dotted, words", [
    ("parsers.nothere.parse", ["no module parsers.nothere"]),
    ("parsers.mine.absent", ["parsers.mine has no absent"]),
    ("parsers.mine.NOT_CALLABLE", ["NOT_CALLABLE is a int, not a function"]),
    ("broken.parse", ["importing broken failed", "not_installed_anywhere_xyz"]),
    ("parsers.mine:", ["not a built-in name"]),
])
def test_user_parser_load_errors(project, dotted, words):
    with pytest.raises(ConfigError) as caught:
        formats.load_parser(dotted, project)
    assert all(w in caught.value.message for w in words), caught.value.message
    assert "\n" not in caught.value.one_line()


def test_unknown_format_lists_the_built_in_names(project):
    with pytest.raises(ConfigError) as caught:
        formats.format_named("yaml", project)
    line = caught.value.one_line()
    assert "yaml" in line and all(n in line for n in ("json", "apache-common", "apache-combined",
                                                     "auto"))
    with pytest.raises(ConfigError) as caught:
        formats.format_named("nosuch.thing", project)
    assert "apache-combined" in caught.value.one_line()
