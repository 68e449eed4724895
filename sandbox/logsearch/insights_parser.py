"""Parse a Logs Insights query (commands separated by `|`) into a small AST.

Supported: fields, filter, parse (glob with `*` or /regex/ with named groups), stats (count,
sum, avg, min, max ... by fields and bin(period)), sort, limit, display. Every other command or
function raises InsightsUnsupported naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sandbox.logsearch.errors import INSIGHTS_COMMANDS, InsightsSyntaxError, InsightsUnsupported
from sandbox.logsearch.insights_lexer import Token, tokenize

FUNCTIONS = ("ispresent", "isempty", "strlen", "tolower", "toupper")
AGGREGATES = ("count", "sum", "avg", "min", "max")
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")


# Expressions; `text` is the source, which names a column that has no alias (as CloudWatch does).
@dataclass(frozen=True)
class Expr:
    text: str


@dataclass(frozen=True)
class FieldRef(Expr):
    name: str


@dataclass(frozen=True)
class Literal(Expr):
    value: object  # str, int, float or a compiled regex


@dataclass(frozen=True)
class Call(Expr):
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Binary(Expr):
    op: str  # and, or, a comparison, like, =~, + - * / %
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True)
class InList(Expr):
    operand: Expr
    values: tuple[object, ...]


@dataclass(frozen=True)
class Bin(Expr):
    period_ms: int


@dataclass(frozen=True)
class Star(Expr):
    """The `*` of count(*)."""


# Commands
@dataclass(frozen=True)
class Fields:
    items: tuple[tuple[Expr, str], ...]  # (expression, column name)


@dataclass(frozen=True)
class Filter:
    expr: Expr


@dataclass(frozen=True)
class Parse:
    source: str
    regex: re.Pattern
    names: tuple[str, ...]


@dataclass(frozen=True)
class Stats:
    aggregates: tuple[tuple[Call, str], ...]
    by: tuple[tuple[Expr, str], ...] = ()


@dataclass(frozen=True)
class Sort:
    keys: tuple[tuple[Expr, bool], ...]  # (expression, descending)


@dataclass(frozen=True)
class Limit:
    count: int


@dataclass(frozen=True)
class Display:
    names: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    text: str
    commands: tuple = field(default_factory=tuple)


def parse_query(text: str) -> Query:
    parser = _Parser(text, tokenize(text))
    return Query(text, tuple(parser.commands()))


def glob_to_regex(pattern: str) -> re.Pattern:
    """`parse` globs: each `*` captures lazily, a trailing `*` takes the rest of the value."""
    parts = pattern.split("*")
    body = re.escape(parts[0])
    for index, part in enumerate(parts[1:], start=1):
        trailing = index == len(parts) - 1 and part == ""
        body += ("(.*)" if trailing else "(.*?)") + re.escape(part)
    return re.compile(body, re.DOTALL)


class _Parser:
    def __init__(self, text: str, tokens: list[Token]):
        self.text, self.tokens, self.i = text, tokens, 0

    # token helpers
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def at(self, kind: str, value: object = None) -> bool:
        token = self.peek()
        return token.kind == kind and (value is None or token.value == value)

    def expect(self, kind: str, value: object = None, what: str | None = None) -> Token:
        if not self.at(kind, value):
            self.fail(f"expected {what or value or kind}")
        return self.take()

    def fail(self, message: str, token: Token | None = None):
        token = token or self.peek()
        found = "the end of the query" if token.kind == "end" else repr(self.text[token.start:token.end])
        raise InsightsSyntaxError(f"{message}, found {found}", self.text, token.start)

    def span(self, start: Token) -> str:
        return self.text[start.start:self.tokens[self.i - 1].end]

    # commands
    def commands(self) -> list:
        if self.at("end"):
            self.fail("empty query")
        commands = [self.command()]
        while self.at("|"):
            self.take()
            commands.append(self.command())
        if not self.at("end"):
            self.fail("expected | or the end of the query")
        return commands

    def command(self):
        token = self.peek()
        if token.kind not in ("ident", "keyword"):
            self.fail("expected a command")
        name = str(token.value).lower()
        if name not in INSIGHTS_COMMANDS:
            raise InsightsUnsupported(f"{token.value!r}")
        self.take()
        return getattr(self, f"cmd_{name}")()

    def cmd_fields(self) -> Fields:
        return Fields(tuple(self.comma_list(lambda: self.aliased(self.expr(FUNCTIONS)))))

    def cmd_display(self) -> Display:
        return Display(tuple(self.comma_list(lambda: str(self.expect("ident", what="a field name").value))))

    def cmd_filter(self) -> Filter:
        return Filter(self.expr(FUNCTIONS))

    def cmd_parse(self) -> Parse:
        source = "@message"
        if self.at("ident"):
            source = str(self.take().value)
        pattern = self.take()
        if pattern.kind == "regex":
            names = tuple(pattern.value.groupindex)
            if not names:
                self.fail("a parse regex needs named groups (?<name>...)", pattern)
            return Parse(source, pattern.value, names)
        if pattern.kind != "string":
            self.fail("expected a \"glob*\" or /regex/ after parse", pattern)
        self.expect("keyword", "as", "`as` and the field names for each *")
        names = tuple(self.comma_list(lambda: str(self.expect("ident", what="a field name").value)))
        stars = pattern.value.count("*")
        if stars != len(names):
            self.fail(f"the parse pattern has {stars} * but {len(names)} names follow `as`", pattern)
        return Parse(source, glob_to_regex(pattern.value), names)

    def cmd_stats(self) -> Stats:
        aggregates = tuple(self.comma_list(self.aggregate))
        by: tuple = ()
        if self.at("keyword", "by"):
            self.take()
            by = tuple(self.comma_list(lambda: self.aliased(self.expr(FUNCTIONS, allow_bin=True))))
        return Stats(aggregates, by)

    def aggregate(self) -> tuple[Call, str]:
        start = self.peek()
        if start.kind != "ident" or not self.peek(1).kind == "(":
            self.fail("expected an aggregate function such as count(*)")
        name = str(start.value).lower()
        if name not in AGGREGATES:
            raise InsightsUnsupported(f"the stats function '{start.value}()'", AGGREGATES)
        self.take(), self.take()
        if name == "count" and self.at("op", "*"):
            arg: Expr = Star("*")
            self.take()
        else:
            arg = self.expr(FUNCTIONS)
        self.expect(")")
        return self.aliased(Call(self.span(start), name, (arg,)))

    def cmd_sort(self) -> Sort:
        def key() -> tuple[Expr, bool]:
            expr = self.expr(FUNCTIONS + AGGREGATES)
            descending = False  # CloudWatch sorts ascending unless told `desc`
            if self.at("keyword", "asc") or self.at("keyword", "desc"):
                descending = self.take().value == "desc"
            return expr, descending
        return Sort(tuple(self.comma_list(key)))

    def cmd_limit(self) -> Limit:
        token = self.expect("number", what="a number of rows")
        if not isinstance(token.value, int) or token.value < 1:
            self.fail("limit needs a positive whole number", token)
        return Limit(token.value)

    def comma_list(self, item) -> list:
        items = [item()]
        while self.at(","):
            self.take()
            items.append(item())
        return items

    def aliased(self, expr: Expr) -> tuple[Expr, str]:
        if self.at("keyword", "as"):
            self.take()
            return expr, str(self.expect("ident", what="a name after `as`").value)
        return expr, expr.name if isinstance(expr, FieldRef) else expr.text

    # expressions, loosest binding first
    def expr(self, functions: tuple[str, ...], allow_bin: bool = False) -> Expr:
        self.functions, self.allow_bin = functions, allow_bin
        return self.or_expr()

    def or_expr(self) -> Expr:
        return self.binary_chain(self.and_expr, lambda t: t.kind == "keyword" and t.value == "or")

    def and_expr(self) -> Expr:
        return self.binary_chain(self.not_expr, lambda t: t.kind == "keyword" and t.value == "and")

    def not_expr(self) -> Expr:
        start = self.peek()
        if self.at("keyword", "not"):
            self.take()
            operand = self.not_expr()
            return Not(self.span(start), operand)
        return self.comparison()

    def comparison(self) -> Expr:
        start = self.peek()
        left = self.additive()
        negate = self.at("keyword", "not") and self.peek(1).kind == "keyword" and self.peek(1).value in ("like", "in")
        if negate:
            self.take()
        token = self.peek()
        if token.kind == "op" and token.value in COMPARISONS + ("=~",) and not negate:
            self.take()
            right = self.pattern() if token.value == "=~" else self.additive()
            return Binary(self.span(start), str(token.value), left, right)
        if token.kind == "keyword" and token.value == "like":
            self.take()
            node: Expr = Binary(self.span(start), "like", left, self.pattern(allow_string=True))
        elif token.kind == "keyword" and token.value == "in":
            self.take()
            node = InList(self.span(start), left, self.literal_list())
        else:
            return left
        return Not(self.span(start), node) if negate else node

    def pattern(self, allow_string: bool = False) -> Literal:
        token = self.take()
        if token.kind == "regex" or (allow_string and token.kind == "string"):
            return Literal(self.text[token.start:token.end], token.value)
        self.fail("expected a /regex/" + (' or a "string"' if allow_string else ""), token)

    def literal_list(self) -> tuple[object, ...]:
        self.expect("[")
        values = [] if self.at("]") else self.comma_list(lambda: self.unary().value
                                                         if self.at("op", "-") else self.literal())
        self.expect("]")
        return tuple(values)

    def literal(self) -> object:
        token = self.take()
        if token.kind not in ("number", "string"):
            self.fail("expected a number or a \"string\"", token)
        return token.value

    def additive(self) -> Expr:
        return self.binary_chain(self.multiplicative, lambda t: t.kind == "op" and t.value in ("+", "-"))

    def multiplicative(self) -> Expr:
        return self.binary_chain(self.unary, lambda t: t.kind == "op" and t.value in ("*", "/", "%"))

    def binary_chain(self, operand, is_operator) -> Expr:
        start = self.peek()
        node = operand()
        while is_operator(self.peek()):
            op = str(self.take().value)
            node = Binary(self.span(start), op, node, operand())
        return node

    def unary(self) -> Expr:
        start = self.peek()
        if self.at("op", "-"):
            self.take()
            number = self.expect("number", what="a number after -")
            return Literal(self.span(start), -number.value)
        return self.primary()

    def primary(self) -> Expr:
        token = self.take()
        text = self.text[token.start:token.end]
        if token.kind in ("number", "string", "regex"):
            return Literal(text, token.value)
        if token.kind == "(":
            inner = self.or_expr()
            self.expect(")")
            return inner
        if token.kind == "ident" and self.at("("):
            return self.call(token)
        if token.kind == "ident":
            return FieldRef(text, str(token.value))
        self.fail("expected a field, a value or (", token)

    def call(self, name_token: Token) -> Expr:
        name = str(name_token.value).lower()
        self.take()
        if name == "bin":
            if not self.allow_bin:
                raise InsightsUnsupported("bin() outside `stats ... by`", ("stats ... by bin(period)",))
            period = self.expect("duration", what="a period such as 5m")
            self.expect(")")
            return Bin(self.span(name_token), int(period.value))
        if name not in self.functions:
            raise InsightsUnsupported(f"the function '{name_token.value}()'", self.functions)
        if name == "count" and self.at("op", "*"):
            self.take()
            args: list[Expr] = [Star("*")]
        else:
            args = [] if self.at(")") else self.comma_list(self.or_expr)
        self.expect(")")
        if len(args) != 1:
            self.fail(f"{name}() takes one argument", name_token)
        return Call(self.span(name_token), name, tuple(args))
