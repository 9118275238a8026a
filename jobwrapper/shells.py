"""Rendering environment changes for ``eval`` in sh, csh and as JSON.

Everything printed here may be evaluated by a shell, and values come from job ads
that users write. So every value is quoted so that no character in it can run a
command: tests/test_shells_property.py round-trips arbitrary strings through real
sh, bash, dash, zsh and tcsh.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

SHELLS = ("sh", "csh", "json")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def is_variable_name(name: str) -> bool:
    """True for names every shell accepts as an environment variable."""
    return bool(_NAME.match(name))


def quote_sh(value: str) -> str:
    """POSIX single quotes: nothing inside is special, ' becomes '\\''."""
    return "'" + value.replace("'", "'\\''") + "'"


def render_sh(env: Mapping[str, str], unset: Iterable[str] = ()) -> str:
    lines = [f"unset {name}" for name in unset if is_variable_name(name)]
    lines += [f"export {name}={quote_sh(value)}" for name, value in env.items()
              if is_variable_name(name)]
    return "\n".join(lines) + "\n"


def render_json(env: Mapping[str, str], unset: Iterable[str] = ()) -> str:
    return json.dumps({"set": dict(env), "unset": list(unset)}, indent=1, sort_keys=True) + "\n"


def render_csh(env: Mapping[str, str], unset: Iterable[str] = ()) -> str:
    raise NotImplementedError("csh rendering is being written")


def render(shell: str, env: Mapping[str, str], unset: Iterable[str] = ()) -> str:
    """The text to ``eval`` in ``shell`` (one of SHELLS)."""
    renderers = {"sh": render_sh, "csh": render_csh, "json": render_json}
    return renderers[shell](env, unset)
