"""Rendering environment changes for ``eval`` in sh, csh and as JSON.

Everything printed here may be evaluated by a shell, and values come from job ads
that users write. So every value is quoted so that no character in it can run a
command or expand: tests/test_shells_property.py round-trips arbitrary strings
through real sh, bash, dash, zsh and tcsh.

What cannot be represented: NUL (no environment value can hold it; values with NUL
are skipped), and in csh a newline survives ``source`` of the output but not
``eval "`jobwrapper env --shell csh`"``, where csh's backquote turns every newline
into a space (the rest of the value stays intact and inert). Names that are not
plain identifiers, or that a shell reserves (``SPECIAL_NAMES``), are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

SHELLS = ("sh", "csh", "json")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Read-only or magic in bash, zsh or tcsh: assigning them fails (and under
# `set -e` a failed export would end the login shell) or changes the shell itself.
SPECIAL_NAMES = frozenset({
    "UID", "EUID", "PPID", "SHELLOPTS", "BASHOPTS", "BASH_VERSINFO", "BASH_ARGV0",
    "GROUPS", "FUNCNAME", "status", "pipestatus", "ZSH_VERSION", "ZSH_ARGZERO",
    "HISTCMD", "LINENO", "RANDOM", "SECONDS", "EPOCHSECONDS", "argv", "ARGC",
    "path", "home", "term", "user", "shell", "cwd", "prompt",
})


def is_variable_name(name: str) -> bool:
    """True for names every shell accepts as an ordinary environment variable."""
    return bool(_NAME.match(name)) and name not in SPECIAL_NAMES


def _wanted(env: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in env.items()
            if is_variable_name(name) and "\0" not in value]


def quote_sh(value: str) -> str:
    """POSIX single quotes: nothing inside is special, ' becomes '\\''.

    Safe in bash (history expansion never looks inside single quotes), dash and
    zsh (also with RC_QUOTES: the text never holds '' inside an open quote).
    """
    return "'" + value.replace("'", "'\\''") + "'"


# Characters csh treats specially even inside single quotes ("!" history
# substitution, newline, and backslash when `backslash_quote` is set) or that end
# the quote. Each is written outside the quotes, escaped with a backslash.
_CSH_SPECIAL = re.compile(r"(['!\\\n])")


def quote_csh(value: str) -> str:
    """One csh/tcsh word whose value is exactly ``value``; nothing in it expands.

    Ordinary runs go in single quotes (no $, backquote, glob or ~ expansion);
    ', ! and \\ are backslash-escaped outside the quotes; a newline is a
    backslash-newline, which csh reads as a literal newline.
    """
    if value == "":
        return "''"
    pieces = []
    for piece in _CSH_SPECIAL.split(value):
        if not piece:
            continue
        if piece == "\n":
            pieces.append("'\\\n'")  # a backslash-newline counts only inside quotes
        elif _CSH_SPECIAL.fullmatch(piece):
            pieces.append("\\" + piece)
        else:
            pieces.append("'" + piece + "'")
    return "".join(pieces)


def render_sh(env: Mapping[str, str], unset: Iterable[str] = ()) -> str:
    """One ``unset`` and one ``export`` command for bash, dash and zsh (also under set -eu).

    A single ``export`` with one assignment a line is about twice as fast to source
    as one ``export`` per variable, which matters on every login (bench/login_overhead).
    """
    names = [name for name in unset if is_variable_name(name)]
    lines = [f"unset {' '.join(names)}"] if names else []
    assignments = [f"  {name}={quote_sh(value)}" for name, value in _wanted(env)]
    if assignments:  # a bare `export` would list the environment instead
        lines.append("export \\\n" + " \\\n".join(assignments))
    return "\n".join(lines) + "\n"


def render_csh(env: Mapping[str, str], unset: Iterable[str] = ()) -> str:
    """``unsetenv``/``setenv`` lines for tcsh and csh.

    Each line ends in ';' because ``eval "`...`"`` joins the lines into one.
    """
    lines = [f"unsetenv {name};" for name in unset if is_variable_name(name)]
    lines += [f"setenv {name} {quote_csh(value)};" for name, value in _wanted(env)]
    return "\n".join(lines) + "\n"


def render_json(env: Mapping[str, str], unset: Iterable[str] = ()) -> str:
    """``{"set": {...}, "unset": [...]}`` for programs."""
    return json.dumps({"set": dict(env), "unset": list(unset)}, indent=1, sort_keys=True) + "\n"


def render_message_sh(message: str) -> str:
    """A sh script printing ``message`` with one printf builtin (no read loop)."""
    lines = message.splitlines()
    return f"printf '%s\\n' {' '.join(quote_sh(line) for line in lines)}\n" if lines else ""


def render_message_csh(message: str) -> str:
    """A csh script printing ``message`` with builtins only (tcsh has no read loop).

    ``echo_style`` is set to ``none`` for the duration, so echo prints backslashes
    and a leading -n as they are; the user's setting is restored.
    """
    lines = ["if ($?echo_style) set _jobwrapper_echo_style = $echo_style",
             "set echo_style = none"]
    lines += [f"echo {quote_csh(line)}" if line else "echo" for line in message.splitlines()]
    lines += ["if ($?_jobwrapper_echo_style) then",
              "  set echo_style = $_jobwrapper_echo_style",
              "  unset _jobwrapper_echo_style",
              "else",
              "  unset echo_style",
              "endif"]
    return "\n".join(lines) + "\n"


def render(shell: str, env: Mapping[str, str], unset: Iterable[str] = ()) -> str:
    """The text to ``eval`` in ``shell`` (one of SHELLS)."""
    renderers = {"sh": render_sh, "csh": render_csh, "json": render_json}
    return renderers[shell](env, unset)
