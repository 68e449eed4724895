"""Tokens of the Logs Insights query language.

A `/` starts a regex literal unless it follows a value (then it is division), and the pattern
of `parse FIELD /.../` is always a regex. CloudWatch writes named groups `(?<name>...)`;
Python needs `(?P<name>...)`, so regex literals are translated here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.logsearch.errors import InsightsSyntaxError, InsightsUnsupported

DURATION_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
KEYWORDS = {"and", "or", "not", "like", "in", "as", "by", "asc", "desc"}
_VALUE_END = {"ident", "number", "string", "regex", "duration", ")", "]"}
_OPERATORS = ("<=", ">=", "!=", "=~", "=", "<", ">", "+", "-", "*", "/", "%", "^")
_NUMBER = re.compile(r"\d+(?:\.\d+)?([A-Za-z]+)?")
_IDENT = re.compile(r"[@A-Za-z_][A-Za-z0-9_.@$]*")
_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")


@dataclass(frozen=True)
class Token:
    kind: str  # ident, keyword, number, duration, string, regex, op, | , ( ) [ ] , end
    value: object
    start: int
    end: int


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        char = query[pos]
        if char.isspace():
            pos += 1
            continue
        token = _next_token(query, pos, tokens)
        tokens.append(token)
        pos = token.end
    tokens.append(Token("end", None, len(query), len(query)))
    return tokens


def _next_token(query: str, pos: int, tokens: list[Token]) -> Token:
    char = query[pos]
    if char in "|(),[]":
        return Token(char, char, pos, pos + 1)
    if char in "'\"":
        return _quoted(query, pos, "string")
    if char == "`":
        return _quoted(query, pos, "ident")
    if char == "/" and _regex_allowed(tokens):
        return _regex(query, pos)
    if char.isdigit():
        return _number(query, pos)
    match = _IDENT.match(query, pos)
    if match:
        word = match.group(0)
        kind = "keyword" if word.lower() in KEYWORDS else "ident"
        return Token(kind, word.lower() if kind == "keyword" else word, pos, match.end())
    for op in _OPERATORS:
        if query.startswith(op, pos):
            return Token("op", op, pos, pos + len(op))
    raise InsightsSyntaxError(f"unexpected character {char!r}", query, pos)


def _regex_allowed(tokens: list[Token]) -> bool:
    if not tokens or tokens[-1].kind not in _VALUE_END:
        return True
    command = _current_command(tokens)
    # `parse /re/` and `parse FIELD /re/`: the pattern follows the command word or the field.
    return bool(command) and command[0].value == "parse" and len(command) <= 2


def _current_command(tokens: list[Token]) -> list[Token]:
    start = max((i + 1 for i, t in enumerate(tokens) if t.kind == "|"), default=0)
    return tokens[start:]


def _quoted(query: str, pos: int, kind: str) -> Token:
    quote, out, i = query[pos], [], pos + 1
    while i < len(query):
        char = query[i]
        if char == "\\" and i + 1 < len(query):
            out.append(query[i + 1])
            i += 2
            continue
        if char == quote:
            return Token(kind, "".join(out), pos, i + 1)
        out.append(char)
        i += 1
    raise InsightsSyntaxError(f"unterminated {quote} quote", query, pos)


def _regex(query: str, pos: int) -> Token:
    i = pos + 1
    while i < len(query):
        if query[i] == "\\":
            i += 2
            continue
        if query[i] == "/":
            source = query[pos + 1:i]
            try:
                compiled = re.compile(_NAMED_GROUP.sub("(?P<", source.replace("\\/", "/")))
            except re.error as exc:
                raise InsightsSyntaxError(f"invalid regex /{source}/: {exc}", query, pos) from None
            return Token("regex", compiled, pos, i + 1)
        i += 1
    raise InsightsSyntaxError("unterminated /regex/", query, pos)


def _number(query: str, pos: int) -> Token:
    match = _NUMBER.match(query, pos)
    text, unit = match.group(0), match.group(1)
    if unit is None:
        value = float(text) if "." in text else int(text)
        return Token("number", value, pos, match.end())
    if unit not in DURATION_UNITS_MS:
        raise InsightsUnsupported(f"the time unit {unit!r} in {text!r}", supported=tuple(DURATION_UNITS_MS))
    amount = float(text[:-len(unit)])
    return Token("duration", int(amount * DURATION_UNITS_MS[unit]), pos, match.end())

