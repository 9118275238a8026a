"""The small subset of ClassAd expressions the pool evaluates: `periodic_remove`.

Supported: integer/real/string/boolean literals, attribute references to the job ad
(optionally `MY.`), `time()`, `+ - * /`, comparisons (`< <= > >= == != =?= =!=`),
`&& || !` and parentheses. An attribute whose value is itself an expression
(`+MaxRuntime = 6 * 3600`) is evaluated in turn. Anything else (functions other than
time(), TARGET. references, ternaries) makes the expression "not supported", and an
unsupported, undefined or ill-typed expression never removes a job: evaluation is
conservative.

`valid_syntax` is condor_submit's check of any ClassAd expression: it parses the whole
ClassAd grammar (without evaluating), so a typo fails at submit, as on HTCondor.
"""

from __future__ import annotations

import operator
import re
import time
from typing import Any, Callable

from jobwrapper.localpool.ads.classads import Ad, Expr, lookup

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.\d*|\.\d+|\d+)|(?P<str>\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<op>=\?=|=!=|==|!=|<=|>=|&&|\|\||[()<>+\-*/!])|(?P<name>[A-Za-z_][\w.]*))"
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
}


class UnsupportedExpression(ValueError):
    """The expression uses ClassAd features this pool does not evaluate."""


def tokenize(text: str) -> list[str]:
    """Tokens of an expression, or UnsupportedExpression."""
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise UnsupportedExpression(f"cannot read {text[position:]!r}")
        tokens.append(match.group().strip())
        position = match.end()
    return tokens


_MAX_DEPTH = 20  # attribute expressions referring to each other


class _Parser:
    def __init__(self, tokens: list[str], ad: Ad, now: float, depth: int = 0) -> None:
        self.tokens, self.position, self.ad, self.now = tokens, 0, ad, now
        self.depth = depth

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise UnsupportedExpression("the expression ends too early")
        self.position += 1
        return token

    def parse_or(self) -> Any:
        left = self.parse_and()
        while self.peek() == "||":
            self.take()
            right = self.parse_and()
            left = True if True in (left, right) else (None if None in (left, right) else False)
        return left

    def parse_and(self) -> Any:
        left = self.parse_compare()
        while self.peek() == "&&":
            self.take()
            right = self.parse_compare()
            left = False if False in (left, right) else (None if None in (left, right) else True)
        return left

    def parse_compare(self) -> Any:
        left = self.parse_sum()
        while self.peek() in (*_COMPARE, "=?=", "=!="):
            op = self.take()
            right = self.parse_sum()
            if op in ("=?=", "=!="):
                left = (left == right and type(left) is type(right)) == (op == "=?=")
            elif left is None or right is None:
                left = None
            else:
                try:
                    left = _COMPARE[op](left, right)
                except TypeError:  # e.g. a string against a number: ERROR in ClassAds
                    left = None
        return left

    def parse_sum(self) -> Any:
        left = self.parse_product()
        while self.peek() in ("+", "-"):
            op = self.take()
            left = _arith(op, left, self.parse_product())
        return left

    def parse_product(self) -> Any:
        left = self.parse_unary()
        while self.peek() in ("*", "/"):
            op = self.take()
            left = _arith(op, left, self.parse_unary())
        return left

    def parse_unary(self) -> Any:
        token = self.take()
        if token == "!":  # noqa: S105
            value = self.parse_unary()
            return None if value is None else not value
        if token == "-":  # noqa: S105
            value = self.parse_unary()
            return None if value is None else -value
        if token == "(":  # noqa: S105
            value = self.parse_or()
            if self.take() != ")":
                raise UnsupportedExpression("a parenthesis is not closed")
            return value
        return self.parse_atom(token)

    def parse_atom(self, token: str) -> Any:
        if token[0].isdigit() or token[0] == ".":
            return float(token) if "." in token else int(token)
        if token[0] == '"':
            return re.sub(r"\\(.)", r"\1", token[1:-1])
        lowered = token.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "undefined":
            return None
        if lowered == "time" and self.peek() == "(":
            self.take()
            if self.take() != ")":
                raise UnsupportedExpression("time() takes no arguments")
            return int(self.now)
        if self.peek() == "(":
            raise UnsupportedExpression(f"function {token}() is not supported")
        if lowered.startswith("target."):
            raise UnsupportedExpression("TARGET. references are not supported")
        name = token[3:] if lowered.startswith("my.") else token
        found, value = lookup(self.ad, name)
        if isinstance(value, Expr):
            if self.depth >= _MAX_DEPTH:
                return None
            try:
                return evaluate(str(value), self.ad, self.now, self.depth + 1)
            except UnsupportedExpression:
                return None
        if not found or not isinstance(value, (int, float, str, bool)):
            return None
        return value


def _arith(op: str, left: Any, right: Any) -> Any:
    if left is None or right is None or isinstance(left, (str, bool)) or isinstance(
            right, (str, bool)):
        return None
    if op == "/" and right == 0:
        return None
    return _ARITH[op](left, right)


def evaluate(text: str, ad: Ad, now: float | None = None, depth: int = 0) -> Any:
    """The value of `text` against `ad` (None = undefined); UnsupportedExpression if unknown."""
    parser = _Parser(tokenize(text), ad, time.time() if now is None else now, depth)
    value = parser.parse_or()
    if parser.peek() is not None:
        raise UnsupportedExpression(f"unexpected {parser.peek()!r}")
    return value


def is_true(text: str, ad: Ad, now: float | None = None) -> bool:
    """True only when the expression is supported and evaluates to true."""
    try:
        return evaluate(text, ad, now) is True
    except UnsupportedExpression:
        return False


# -- syntax only: the whole ClassAd expression grammar --------------------------------
_SYNTAX_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<str>\"(?:[^\"\\]|\\.)*\")|(?P<qname>'(?:[^'\\]|\\.)*')"
    r"|(?P<op>=\?=|=!=|==|!=|<=|>=|>>>|<<|>>|&&|\|\||[-+*/%<>!~&|^?:,.;()\[\]{}=])"
    r"|(?P<name>[A-Za-z_]\w*))"
)
_BINARY = frozenset({"||", "&&", "|", "^", "&", "==", "!=", "=?=", "=!=", "<", "<=", ">",
                     ">=", "<<", ">>", ">>>", "+", "-", "*", "/", "%", "is", "isnt"})


class _SyntaxChecker:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.position = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, wanted: str | None = None) -> str:
        token = self.peek()
        if token is None or (wanted is not None and token != wanted):
            raise UnsupportedExpression(f"expected {wanted or 'more'}")
        self.position += 1
        return token

    def expression(self) -> None:
        self.binary()
        if self.peek() == "?":
            self.take()
            if self.peek() == ":":  # the "elvis" operator a ?: b
                self.take()
            else:
                self.expression()
                self.take(":")
            self.expression()

    def binary(self) -> None:
        self.unary()
        while (self.peek() or "").lower() in _BINARY:
            self.take()
            self.unary()

    def unary(self) -> None:
        while self.peek() in ("-", "+", "!", "~"):
            self.take()
        self.primary()
        while self.peek() in (".", "["):
            if self.take() == ".":
                self.name()
            else:
                self.expression()
                self.take("]")

    def name(self) -> None:
        token = self.take()
        if not (token[0].isalpha() or token[0] in "_'"):
            raise UnsupportedExpression(f"{token!r} is not a name")

    def primary(self) -> None:
        token = self.take()
        if token[0].isdigit() or token[0] == '"' or (token[0] == "." and len(token) > 1):
            return
        if token == "(":  # noqa: S105
            self.expression()
            self.take(")")
        elif token == "{":  # noqa: S105
            self.items("}", self.expression, ",")
        elif token == "[":  # noqa: S105
            self.items("]", self.attribute, ";")
        elif token[0].isalpha() or token[0] in "_'":
            if self.peek() == "(" and token[0] != "'":
                self.take()
                self.items(")", self.expression, ",")
        else:
            raise UnsupportedExpression(f"unexpected {token!r}")

    def attribute(self) -> None:
        self.name()
        self.take("=")
        self.expression()

    def items(self, closing: str, item, separator: str) -> None:
        if self.peek() == closing:
            self.take()
            return
        while True:
            item()
            token = self.take()
            if token == closing:
                return
            if token != separator:
                raise UnsupportedExpression(f"unexpected {token!r}")
            if separator == ";" and self.peek() == closing:
                self.take()
                return


def valid_syntax(text: str) -> bool:
    """True when `text` is one ClassAd expression (its syntax only)."""
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _SYNTAX_TOKEN.match(text, position)
        if not match or match.end() == position:
            return False
        tokens.append(match.group().strip())
        position = match.end()
    checker = _SyntaxChecker(tokens)
    try:
        checker.expression()
    except UnsupportedExpression:
        return False
    return checker.peek() is None
