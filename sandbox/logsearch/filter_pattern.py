"""CloudWatch Logs filter patterns (FilterLogEvents, metric and subscription filters).

Supported: the empty pattern (everything); terms, all required (`ERROR timeout`); "quoted
phrases"; `-term` to exclude; `?ERROR ?WARN` (any of them); JSON patterns
`{ $.level = "ERROR" }`, `{ $.latency > 100 }`, string wildcards `"Fail*"`, `= *` (any value),
`IS NULL`, `IS TRUE|FALSE`, `NOT EXISTS`, `&&`, `||` and parentheses. Terms match case-sensitively
anywhere in the message, as CloudWatch does for unstructured events. Space-delimited `[...]`
and `%regex%` patterns raise FilterPatternError.
"""

from __future__ import annotations

import json
import re
from typing import Callable

from sandbox.logsearch.errors import FilterPatternError

Matcher = Callable[[str], bool]
_JSON_TOKEN = re.compile(r"""\s*(?:
    (?P<selector>\$(?:\.[^\s.\[\]()=!<>&|]+|\[\d+\])*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op>&&|\|\||<=|>=|!=|=|<|>|\(|\)|\*)
  | (?P<word>[A-Za-z_][\w\-.:/]*)
)""", re.VERBOSE)
_ORDER = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
          ">=": lambda a, b: a >= b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b}


def compile_pattern(pattern: str | None) -> Matcher:
    """A predicate over a message; raises FilterPatternError on what it cannot evaluate."""
    text = (pattern or "").strip()
    if not text:
        return lambda message: True
    if text.startswith("{"):
        if not text.endswith("}"):
            raise FilterPatternError("a JSON pattern must end with }")
        return _JsonPattern(text[1:-1]).matcher()
    if text.startswith("["):
        raise FilterPatternError("space-delimited patterns (a list of fields in square brackets) "
                                 "are not supported by the sandbox")
    if text.startswith("%"):
        raise FilterPatternError("regular-expression patterns %...% are not supported by the sandbox")
    return _term_matcher(_split_terms(text))


def matches(pattern: str | None, message: str) -> bool:
    return compile_pattern(pattern)(message)


def _split_terms(text: str) -> list[tuple[str, str]]:
    """(prefix, term) pairs; prefix is '', '?' or '-'; "quoted phrases" keep their spaces."""
    terms, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        prefix = text[i] if text[i] in "?-" else ""
        i += len(prefix)
        if i < len(text) and text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise FilterPatternError(f"unterminated quote in {text!r}")
            terms.append((prefix, text[i + 1:end]))
            i = end + 1
        else:
            end = i
            while end < len(text) and not text[end].isspace():
                end += 1
            if end == i:
                raise FilterPatternError(f"{prefix!r} must be followed by a term")
            terms.append((prefix, text[i:end]))
            i = end
    return terms


def _term_matcher(terms: list[tuple[str, str]]) -> Matcher:
    optional = [t for p, t in terms if p == "?"]
    if optional and len(optional) != len(terms):
        raise FilterPatternError("mixing ?term with other terms is not supported by the sandbox")
    if optional:
        return lambda message: any(t in message for t in optional)
    required = [t for p, t in terms if p == ""]
    excluded = [t for p, t in terms if p == "-"]
    return lambda message: (all(t in message for t in required)
                            and not any(t in message for t in excluded))


class _JsonPattern:
    """Recursive descent over `{ ... }`: or := and ('||' and)*; and := atom ('&&' atom)*."""

    def __init__(self, body: str):
        self.tokens = self._tokenize(body)
        self.i = 0

    @staticmethod
    def _tokenize(body: str) -> list[tuple[str, str]]:
        tokens, pos = [], 0
        while pos < len(body):
            if body[pos:].strip() == "":
                break
            match = _JSON_TOKEN.match(body, pos)
            if not match or match.end() == pos:
                raise FilterPatternError(f"cannot read the JSON pattern at {body[pos:].strip()!r}")
            tokens.append((match.lastgroup, match.group(match.lastgroup)))
            pos = match.end()
        return tokens

    def matcher(self) -> Matcher:
        predicate = self.or_expr()
        if self.i != len(self.tokens):
            raise FilterPatternError(f"unexpected {self.tokens[self.i][1]!r} in the JSON pattern")

        def match(message: str) -> bool:
            try:
                document = json.loads(message)
            except ValueError:
                return False
            return predicate(document)
        return match

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, what: str) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterPatternError(f"the JSON pattern ends where {what} was expected")
        self.i += 1
        return token

    def or_expr(self):
        parts = [self.and_expr()]
        while self.peek() == ("op", "||"):
            self.i += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda doc: any(p(doc) for p in parts))

    def and_expr(self):
        parts = [self.atom()]
        while self.peek() == ("op", "&&"):
            self.i += 1
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else (lambda doc: all(p(doc) for p in parts))

    def atom(self):
        kind, text = self.take("a $.selector or (")
        if (kind, text) == ("op", "("):
            inner = self.or_expr()
            if self.take(")") != ("op", ")"):
                raise FilterPatternError("expected ) in the JSON pattern")
            return inner
        if kind != "selector":
            raise FilterPatternError(f"expected a $.selector in the JSON pattern, found {text!r}")
        path = _selector_path(text)
        kind, op = self.take("an operator")
        if kind == "word" and op.upper() in ("IS", "NOT"):
            return self.keyword_test(path, op.upper())
        if kind != "op" or op not in _ORDER:
            raise FilterPatternError(f"expected =, !=, <, <=, >, >=, IS or NOT EXISTS after {text}, found {op!r}")
        return self.comparison(path, op)

    def keyword_test(self, path, keyword: str):
        _, word = self.take("NULL, TRUE, FALSE or EXISTS")
        word = word.upper()
        if keyword == "NOT" and word == "EXISTS":
            return lambda doc: _lookup(doc, path) is _MISSING
        if keyword == "IS" and word in ("NULL", "TRUE", "FALSE"):
            wanted = {"NULL": None, "TRUE": True, "FALSE": False}[word]
            return lambda doc: _lookup(doc, path) is wanted
        raise FilterPatternError(f"{keyword} {word} is not supported by the sandbox")

    def comparison(self, path, op: str):
        kind, text = self.take("a value")
        if kind == "number":
            number = float(text)
            return lambda doc: _numeric(_lookup(doc, path), op, number)
        if op not in ("=", "!="):
            raise FilterPatternError(f"{op} needs a number, found {text!r}")
        if (kind, text) == ("op", "*"):
            wanted = re.compile(".*", re.DOTALL)
        elif kind in ("string", "word"):
            value = json.loads(text) if kind == "string" else text
            wanted = re.compile(".*".join(re.escape(p) for p in value.split("*")), re.DOTALL)
        else:
            raise FilterPatternError(f"expected a value after {op}, found {text!r}")
        return lambda doc: _string_test(_lookup(doc, path), op, wanted)


_MISSING = object()


def _selector_path(selector: str) -> list:
    return [int(p[1:-1]) if p.startswith("[") else p[1:]
            for p in re.findall(r"\.[^.\[\]]+|\[\d+\]", selector[1:])]


def _lookup(document, path):
    for step in path:
        if isinstance(step, int) and isinstance(document, list) and step < len(document):
            document = document[step]
        elif isinstance(step, str) and isinstance(document, dict) and step in document:
            document = document[step]
        else:
            return _MISSING
    return document


def _numeric(value, op: str, number: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return _ORDER[op](float(value), number)


def _string_test(value, op: str, wanted: re.Pattern) -> bool:
    if value is _MISSING or value is None or isinstance(value, (dict, list)):
        return False
    text = json.dumps(value) if isinstance(value, bool) else str(value)
    return (wanted.fullmatch(text) is not None) == (op == "=")
