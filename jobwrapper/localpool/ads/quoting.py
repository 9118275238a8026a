"""HTCondor's quoting of `arguments` and `environment`, old (V1) and new (V2) syntax.

New syntax: the submit value is wrapped in double quotes (`""` is a literal `"`);
inside, whitespace separates words, single quotes group, and `''` inside single
quotes is a literal `'`. Old syntax: words split on whitespace (arguments) or on `;`
(environment), `\\"` is a literal `"`. The ad stores the V2 raw form (`Arguments`,
`Environment`) or, for old-syntax arguments, the V1 form (`Args`).
"""

from __future__ import annotations


class QuotingError(ValueError):
    """The value cannot be parsed; the message says why."""


def is_new_syntax(value: str) -> bool:
    """Values wrapped in double quotes use the new syntax."""
    value = value.strip()
    return len(value) >= 2 and value[0] == '"' and value[-1] == '"'


def strip_new_syntax(value: str) -> str:
    """The V2 raw text inside the double quotes, with `""` turned into `"`."""
    inner = value.strip()[1:-1]
    index = 0
    out: list[str] = []
    while index < len(inner):
        char = inner[index]
        if char == '"':
            if inner[index + 1 : index + 2] != '"':
                raise QuotingError('a double quote inside the value must be written as ""')
            index += 1
        out.append(char)
        index += 1
    return "".join(out)


def split_v2(raw: str) -> list[str]:
    """Words of a V2 raw string."""
    words: list[str] = []
    current: list[str] = []
    have_word = False
    in_quote = False
    index = 0
    while index < len(raw):
        char = raw[index]
        if in_quote:
            if char == "'":
                if raw[index + 1 : index + 2] == "'":
                    current.append("'")
                    index += 1
                else:
                    in_quote = False
            else:
                current.append(char)
        elif char.isspace():
            if have_word:
                words.append("".join(current))
                current, have_word = [], False
        elif char == "'":
            in_quote = have_word = True
        else:
            current.append(char)
            have_word = True
        index += 1
    if in_quote:
        raise QuotingError("a single quote is not closed")
    if have_word:
        words.append("".join(current))
    return words


def join_v2(words: list[str]) -> str:
    """The V2 raw form HTCondor writes: only runs of spaces and quotes are quoted."""
    return " ".join(_quote_v2_word(word) for word in words)


def _quote_v2_word(word: str) -> str:
    if not word:
        return "''"
    out: list[str] = []
    in_quote = False
    for char in word:
        special = char.isspace() or char == "'"
        if special and not in_quote:
            out.append("'")
            in_quote = True
        elif not special and in_quote:
            out.append("'")
            in_quote = False
        out.append("''" if char == "'" else char)
    if in_quote:
        out.append("'")
    return "".join(out)


def parse_arguments(value: str) -> tuple[list[str], str, str]:
    """(argv words, ad attribute name, ad value) for a submit `arguments` value."""
    if is_new_syntax(value):
        raw = strip_new_syntax(value)
        words = split_v2(raw)
        return words, "Arguments", join_v2(words)
    v1 = value.strip()
    return v1.replace('\\"', '"').split(), "Args", v1


def parse_environment(value: str) -> dict[str, str]:
    """NAME -> value for a submit `environment` value (either syntax)."""
    if is_new_syntax(value):
        entries = split_v2(strip_new_syntax(value))
    else:
        entries = [entry.strip() for entry in value.replace('\\"', '"').split(";")]
    environment: dict[str, str] = {}
    for entry in entries:
        if not entry:
            continue
        name, sep, setting = entry.partition("=")
        if not sep or not name:
            raise QuotingError(f"{entry!r} is not NAME=value")
        environment[name] = setting
    return environment


def render_environment(environment: dict[str, str]) -> str:
    """The V2 raw `Environment` attribute of the job ad."""
    return join_v2([f"{name}={value}" for name, value in environment.items()])
