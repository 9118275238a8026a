"""Reading HTCondor's ClassAd files ($_CONDOR_JOB_AD, $_CONDOR_MACHINE_AD).

The starter writes them in the old ClassAd syntax: one ``Name = value`` per line,
where a value is a literal (integer, real, string, boolean, undefined) or an
expression (``MachineMaxVacateTime = 10 * 60``). We keep literals and never
evaluate expressions ourselves: an expression comes back as :class:`Expression`,
and code that needs a number treats it as missing.

Values are parsed by a small literal parser of our own, always: the tests check it
against HTCondor's own parser (the ``classad2`` bindings, tests/classad_oracle.py) on
every real and fixture ad and on generated values. The bindings are not used here:
they are not in every job's environment, and importing them cost 17 ms of a 60 ms
start budget (bench/launch_overhead). A bad line is skipped with a one-line warning
naming the file, the line and the attribute.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

MAX_AD_BYTES = 16 * 1024 * 1024  # a real ad is a few kB; anything this big is not an ad

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
# Numbers as HTCondor writes them; anything else numeric-looking (``+4``, ``1_000``,
# ``0x10``, ``007``) is left to be an expression, whichever parser is used.
_INTEGER = re.compile(r"-?(0|[1-9]\d*)\Z")
_REAL = re.compile(r"-?(\d+\.\d+|\.\d+)([eE][+-]?\d+)?\Z|-?\d+[eE][+-]?\d+\Z")


@dataclass(frozen=True)
class Expression:
    """A value that is not a literal; its text is kept for messages only."""

    text: str

    def __str__(self) -> str:
        return self.text


Value = Union[int, float, bool, str, None, Expression]


@dataclass
class Ad:
    """One ClassAd: attribute names are case-insensitive, as in HTCondor."""

    source: str = ""
    _values: dict[str, tuple[str, Value]] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._values

    def __len__(self) -> int:
        return len(self._values)

    def get(self, name: str, default: Value = None) -> Value:
        """The value of ``name`` (any case), or ``default`` when absent."""
        entry = self._values.get(name.lower())
        return default if entry is None else entry[1]

    def set(self, name: str, value: Value) -> None:
        self._values[name.lower()] = (name, value)

    def names(self) -> list[str]:
        return [name for name, _ in self._values.values()]


class AdFileError(Exception):
    """The file cannot be read as an ad at all (missing, unreadable, binary)."""


def _string_end(text: str) -> int:
    """Index of the quote closing the string that opens ``text``; -1 if it never closes.

    Old ClassAd syntax, as HTCondor writes it: a backslash is an ordinary character,
    except that ``\\"`` stands for a quote, unless that quote is the last character
    (then it closes the string: ``"C:\\"`` is ``C:\\``).
    """
    index, last = 1, len(text) - 1
    while index <= last:
        char = text[index]
        if char == "\\" and index < last - 1 and text[index + 1] == '"':
            index += 2
            continue
        if char == '"':
            return index
        index += 1
    return -1


def parse_string_literal(text: str) -> Optional[str]:
    """Decode a complete old-syntax string literal ``"..."``; None if ``text`` is not one."""
    if len(text) < 2 or text[0] != '"' or _string_end(text) != len(text) - 1:
        return None
    # Inside the quotes every backslash-quote is an escaped quote (the closing one is cut off).
    return text[1:-1].replace('\\"', '"')


def parse_literal(text: str) -> Value:
    """The fallback parser: a literal's Python value, or :class:`Expression`."""
    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "undefined":
        return None
    if _INTEGER.match(text):
        return int(text)
    if _REAL.match(text):
        return float(text)
    string = parse_string_literal(text)
    if string is not None:
        return string
    return Expression(text)


_ATTRIBUTE_LINE = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_.]*\s*=")


def _whole_attribute(line: str) -> bool:
    """Whether `line` is an attribute line of its own: `Name =` and balanced quotes."""
    return bool(_ATTRIBUTE_LINE.match(line)) and line.replace('\\"', "").count('"') % 2 == 0


def _string_continuation(lines: list[str], start: int) -> tuple[str, int]:
    """The rest of a string value that spans lines (HTCondor writes newlines raw).

    Returns the text that follows the first line (starting with a newline) and the
    number of lines it took; ("", 0) if no later line closes the string cleanly. A line
    ending in `\\"` may close the string or hold an escaped quote before a raw newline:
    when the next line is no attribute of its own, the longer reading is tried first.
    """
    parts: list[str] = []
    shorter: tuple[str, int] | None = None
    for offset, line in enumerate(lines[start:]):
        closing = line.rstrip()
        end = _string_end('"' + closing)  # the leading quote puts us inside the string
        if end == -1:
            parts.append(line)
            continue
        if end != len(closing):  # something after the quote: not a value HTCondor wrote
            return shorter or ("", 0)
        reading = "\n" + "\n".join([*parts, closing]), offset + 1
        following = start + offset + 1
        if closing.endswith('\\"') and following < len(lines) \
                and not _whole_attribute(lines[following]):
            shorter = shorter or reading
            parts.append(line)
            continue
        return reading
    return shorter or ("", 0)  # the file ends inside the string: truncated


def _summarise(warnings: list[str]) -> list[str]:
    """At most one warning per file, so a garbage file does not flood the terminal."""
    if len(warnings) <= 1:
        return warnings
    return [f"{warnings[0]}; {len(warnings) - 1} more bad line(s) in this file are ignored too"]


ValueParser = Callable[[str, str], Value]  # (name, text) -> value; ValueError if bad


def parse_ad_text(
    text: str, source: str, value_parser: Optional[ValueParser] = None
) -> tuple[Ad, list[str]]:
    """Parse an ad's text; returns the ad and at most one warning about skipped lines.

    ``value_parser``: another parser of single values (the tests' oracle); by default
    :func:`parse_literal`."""
    ad = Ad(source=source)
    warnings: list[str] = []
    lines = text.split("\n")  # not splitlines(): \x1c, \x85 and friends are string content
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index].strip()
        # a string that goes on in the next line keeps its trailing whitespace (\r, tabs)
        raw_rest = lines[index].partition("=")[2].lstrip()
        index += 1
        if not line or line.startswith(("#", "//")):
            continue
        name, sep, rest = line.partition("=")
        name, rest = name.strip(), rest.strip()
        if not sep or not _NAME.match(name):
            warnings.append(
                f"{source}:{number}: not a 'Name = value' line; it is ignored "
                "(check that the file is a ClassAd in the old syntax)"
            )
            continue
        if rest.startswith('"') and _string_end(rest) != -1 and rest.endswith('\\"') \
                and index < len(lines) and not _whole_attribute(lines[index]):
            # `"...\"` then a line that is no attribute: the quote was escaped and a raw
            # newline follows (HTCondor writes `"\n` as `"\"`, newline, `"`)
            more, used = _string_continuation(lines, index)
            if used:
                index += used
                ad.set(name, parse_literal(raw_rest + more))
                continue
        if rest.startswith('"') and _string_end(rest) == -1:
            more, used = _string_continuation(lines, index)
            if not used:
                warnings.append(
                    f"{source}:{number}: {name} has no complete value (truncated file?); "
                    "it is treated as missing"
                )
                continue
            index += used
            ad.set(name, parse_literal(raw_rest + more))  # the bindings cannot read raw newlines
            continue
        if not rest:
            warnings.append(f"{source}:{number}: {name} has no value; it is treated as missing")
            continue
        try:
            value = value_parser(name, rest) if value_parser else parse_literal(rest)
        except ValueError:
            value = Expression(rest)
        ad.set(name, value)
    return ad, _summarise(warnings)


def read_ad_file(path: str, value_parser: Optional[ValueParser] = None,
                 data: Optional[bytes] = None) -> tuple[Ad, list[str]]:
    """Read and parse an ad file; raises :class:`AdFileError` with a one-line reason.

    ``data``: the file's bytes, when ``read_ad_bytes`` read them already (job/early.py).
    """
    text = _ad_text(path, read_ad_bytes(path) if data is None else data)
    ad, warnings = parse_ad_text(text, path, value_parser)
    if not len(ad):
        raise AdFileError(f"{path}: no 'Name = value' line, not a ClassAd")
    return ad, warnings


def read_ad_bytes(path: str) -> bytes:
    """An ad file's bytes (at most MAX_AD_BYTES + 1); :class:`AdFileError` if unreadable."""
    try:
        # O_NONBLOCK and the S_ISREG check: a FIFO or device named as the ad must not hang us.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with open(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise AdFileError(f"{path}: not a regular file, not a ClassAd")
            return handle.read(MAX_AD_BYTES + 1)
    except FileNotFoundError:
        raise AdFileError(f"{path}: the file does not exist") from None
    except IsADirectoryError:
        raise AdFileError(f"{path}: is a directory, not a ClassAd file") from None
    except PermissionError:
        raise AdFileError(f"{path}: permission denied") from None
    except OSError as error:
        raise AdFileError(f"{path}: cannot be read ({error.strerror})") from None


def _ad_text(path: str, data: bytes) -> str:
    if len(data) > MAX_AD_BYTES:
        raise AdFileError(f"{path}: larger than {MAX_AD_BYTES // 1024 // 1024} MiB, not a ClassAd")
    if b"\0" in data:
        raise AdFileError(f"{path}: binary data, not a ClassAd")
    text = data.decode("utf-8", errors="replace")
    if not text.strip():
        raise AdFileError(f"{path}: the file is empty")
    return text


def parse_environment(value: str) -> dict[str, str]:
    """Parse a job's ``Environment`` attribute (HTCondor's new syntax).

    ``NAME=value`` pairs separated by spaces; a value may be single-quoted, with
    ``''`` standing for one quote inside. Used to know which variables the user set.
    """
    result: dict[str, str] = {}
    index, length = 0, len(value)
    while index < length:
        while index < length and value[index] in " \t":
            index += 1
        start = index
        token: list[str] = []
        quoted = False
        while index < length and (quoted or value[index] not in " \t"):
            char = value[index]
            if char == "'":
                if quoted and index + 1 < length and value[index + 1] == "'":
                    token.append("'")
                    index += 2
                    continue
                quoted = not quoted
            else:
                token.append(char)
            index += 1
        if index > start:
            name, sep, val = "".join(token).partition("=")
            if sep and name:
                result[name] = val
    return result
