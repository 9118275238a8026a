"""ClassAd values as the pool stores them, and HTCondor's old ClassAd text format.

An ad is a plain dict: str, int, float, bool and None (undefined) are literals;
`Expr` holds an unevaluated expression exactly as written (e.g. `10 * 60`). Ads are
stored as JSON (`to_json`/`from_json`) and rendered as `Name = value` lines like the
files a real starter writes (`.job.ad`, `.machine.ad`) and like `condor_q -l`.
"""

from __future__ import annotations

import re
from typing import Any, Union


class Expr(str):
    """A ClassAd expression kept as text, never evaluated except by `expressions.py`."""


Value = Union[str, int, float, bool, None, Expr]
Ad = dict[str, Any]

_INT = re.compile(r"[+-]?\d+\Z")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?\Z")


def quote(text: str) -> str:
    """A ClassAd string literal: double quotes, with backslash and quote escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(literal: str) -> str:
    """The text of a ClassAd string literal (the inverse of `quote`)."""
    body = literal[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def render_value(value: Value) -> str:
    """One value in old ClassAd syntax."""
    if isinstance(value, Expr):
        return str(value)
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return quote(str(value))


def parse_literal(text: str) -> Value:
    """A submit-file `+Attr = value`: literals become values, anything else an Expr."""
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"' and _is_single_string(text):
        return unquote(text)
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "undefined":
        return None
    return Expr(text)


def _is_single_string(text: str) -> bool:
    """True when `text` is exactly one string literal (not `"a" + "b"`)."""
    index = 1
    while index < len(text) - 1:
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == '"':
            return False
        index += 1
    return index == len(text) - 1


def render_ad(ad: Ad) -> str:
    """The whole ad, one `Name = value` line per attribute, sorted like a starter's files."""
    return "".join(f"{name} = {render_value(ad[name])}\n" for name in sorted(ad, key=str.lower))


def format_for_print(value: Value) -> str:
    """How `condor_q -format "%s"` and `-af` print a value: strings without quotes,
    everything else as in the ad."""
    return value if isinstance(value, str) else render_value(value)


def lookup(ad: Ad, name: str) -> tuple[bool, Value]:
    """Case-insensitive attribute lookup, as ClassAds do: (found, value)."""
    if name in ad:
        return True, ad[name]
    lowered = name.lower()
    for key, value in ad.items():
        if key.lower() == lowered:
            return True, value
    return False, None


def to_json(ad: Ad) -> dict[str, Any]:
    """A JSON-safe copy; expressions are tagged so they survive the round trip."""
    return {
        name: {"expr": str(value)} if isinstance(value, Expr) else value
        for name, value in ad.items()
    }


def from_json(raw: dict[str, Any]) -> Ad:
    """The inverse of `to_json`."""
    return {
        name: Expr(value["expr"]) if isinstance(value, dict) and "expr" in value else value
        for name, value in raw.items()
    }
