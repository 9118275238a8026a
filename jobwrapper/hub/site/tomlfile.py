"""Small TOML files the hub's admin edits (news, profiles): read when they change, and
errors as one line that names the file, the key and the line."""

from __future__ import annotations

import os
import re
import threading
from typing import Any, Callable, Generic, Optional, TypeVar

import tomllib

T = TypeVar("T")
_ARRAY_HEADER = re.compile(r"\s*\[\[\s*([^\]]+?)\s*\]\]")
_TABLE_HEADER = re.compile(r"\s*\[\s*([^\]]+?)\s*\]")
_TOML_AT = re.compile(r"\(at line (\d+), column \d+\)")


class TomlError(ValueError):
    """One line: ``FILE, line N, key K: what is wrong``."""


def _header_path(name: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in name.split("."))


def locate(text: str, table: tuple[Any, ...], key: Optional[str] = None) -> int:
    """The line (1-based) of ``key`` in ``table``, else of the table's header, else 0.

    ``table`` is a table's dotted path (``("group", "students")``), or an array of
    tables' name and index (``("item", 2)`` for the third ``[[item]]``); ``()`` is
    the top level.
    """
    current: tuple[Any, ...] = ()
    counts: dict[tuple[str, ...], int] = {}
    header = 0
    key_line = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=") if key else None
    for number, line in enumerate(text.splitlines(), 1):
        array, plain = _ARRAY_HEADER.match(line), _TABLE_HEADER.match(line)
        if array:
            name = _header_path(array.group(1))
            counts[name] = counts.get(name, -1) + 1
            current = (*name, counts[name])
        elif plain and not line.lstrip().startswith("#"):
            current = _header_path(plain.group(1))
        else:
            if current == table and key_line and key_line.match(line):
                return number
            continue
        if current == table:
            header = number
    return header


def error(path: str, line: int, key: str, message: str) -> TomlError:
    """The error line for ``key`` (a dotted name as the admin reads it)."""
    where = f"line {line}, " if line else ""
    return TomlError(f"{path}, {where}key {key}: {message}")


class CachedToml(Generic[T]):
    """A TOML file parsed by ``parse(data, text)`` again only when it changed.

    ``get()`` returns the parsed value, ``None`` when the file does not exist, or
    raises the TomlError that its current content causes.
    """

    def __init__(self, path: str, parse: Callable[[dict[str, Any], str], T]) -> None:
        self.path = path
        self._parse = parse
        self._lock = threading.Lock()
        self._stamp: Optional[tuple[int, int, int]] = None
        self._value: Optional[T] = None
        self._error: Optional[TomlError] = None

    def changed(self) -> bool:
        """Whether the next ``get()`` reads the file again."""
        return self._signature() != self._stamp

    def _signature(self) -> Optional[tuple[int, int, int]]:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_size, info.st_mtime_ns)

    def get(self) -> Optional[T]:
        with self._lock:
            stamp = self._signature()
            if stamp != self._stamp:
                self._stamp, self._value, self._error = stamp, None, None
                if stamp is not None:
                    try:
                        self._value = self._read()
                    except TomlError as problem:
                        self._error = problem
            if self._error is not None:
                raise self._error
            return self._value

    def _read(self) -> T:
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read()
            text = raw.decode("utf-8")
            data = tomllib.loads(text)
        except (OSError, UnicodeDecodeError) as problem:
            raise TomlError(f"{self.path}: cannot be read: {problem}") from None
        except tomllib.TOMLDecodeError as problem:
            found = _TOML_AT.search(str(problem))
            reason = _TOML_AT.sub("", str(problem)).strip()
            where = f", line {found.group(1)}" if found else ""
            raise TomlError(f"{self.path}{where}: not valid TOML: {reason}") from None
        return self._parse(data, text)
