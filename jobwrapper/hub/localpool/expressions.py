"""The small subset of ClassAd expressions the pool evaluates: `periodic_remove`.

Supported: integer/real/string/boolean literals, attribute references to the job ad
(optionally `MY.`), `time()`, `+ - * /`, comparisons (`< <= > >= == != =?= =!=`),
`&& || !` and parentheses. Anything else (functions other than time(), TARGET.
references, ternaries) makes the expression "not supported", and an unsupported or
undefined expression never removes a job: evaluation is conservative.
"""

from __future__ import annotations

import operator
import re
import time
from typing import Any, Callable

from .classads import Ad, lookup

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


class _Parser:
    def __init__(self, tokens: list[str], ad: Ad, now: float) -> None:
        self.tokens, self.position, self.ad, self.now = tokens, 0, ad, now

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
                left = _COMPARE[op](left, right)
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
        if not found or not isinstance(value, (int, float, str, bool)):
            return None
        return value


def _arith(op: str, left: Any, right: Any) -> Any:
    if left is None or right is None or isinstance(left, str) or isinstance(right, str):
        return None
    if op == "/" and right == 0:
        return None
    return _ARITH[op](left, right)


def evaluate(text: str, ad: Ad, now: float | None = None) -> Any:
    """The value of `text` against `ad` (None = undefined); UnsupportedExpression if unknown."""
    parser = _Parser(tokenize(text), ad, time.time() if now is None else now)
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
