"""Shims for the condor tools: small scripts that run this pool with a baked-in pool dir.

The shebang is the interpreter that ran install-bin (or, when other users cannot run
that one, e.g. a venv inside /root, the system's python3: the pool uses only the
standard library; `--python` chooses explicitly), and the pool dir and the
package's location are written into the script, so the shims work under
`sudo -u USER` / `runuser -u USER`, where PATH and the environment are reset.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jobwrapper.localpool.commands.dispatch import TOOLS

SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")
_SHIM = '''#!{python}
# The local pool's {name}, written by `python -m jobwrapper.localpool install-bin`.
# It is not HTCondor: see docs/localpool.md.
import sys
sys.path.insert(0, {package_root!r})
from jobwrapper.localpool.commands.dispatch import run_tool
sys.exit(run_tool({name!r}, sys.argv[1:], {pool_dir!r}))
'''


def package_root() -> str:
    """The directory that holds the `jobwrapper` package."""
    return str(Path(__file__).resolve().parents[2])


def world_executable(path: str) -> bool:
    """True when every user can run `path` (all dirs on its real path searchable)."""
    real = Path(os.path.realpath(path))
    try:
        if not real.stat().st_mode & 0o001:
            return False
        return all(parent.stat().st_mode & 0o001 for parent in real.parents)
    except OSError:
        return False


def shim_interpreter(explicit: str | None = None) -> str:
    """The shebang: `explicit`, else this interpreter if every user can run it, else the
    system's python3 (the pool needs only the standard library)."""
    if explicit:
        return explicit
    if world_executable(sys.executable):
        return sys.executable
    for candidate in SYSTEM_PYTHONS:
        if world_executable(candidate):
            return candidate
    return sys.executable


def install_bin(bin_dir: Path, pool_dir: Path, python: str | None = None) -> list[Path]:
    """Write executable shims for every tool into `bin_dir`; returns their paths."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    interpreter = shim_interpreter(python)
    written = []
    for name in TOOLS:
        path = bin_dir / name
        text = _SHIM.format(
            python=interpreter, name=name, package_root=package_root(), pool_dir=str(pool_dir)
        )
        temporary = path.with_name(f".{name}.tmp")
        temporary.write_text(text)
        os.chmod(temporary, 0o755)  # noqa: S103 - a command for every user
        os.replace(temporary, path)
        written.append(path)
    return written
