"""Lmod: find it, load the environment's modules, and read what they change.

Lmod's ``python`` output is Python source (``os.environ["X"] = "v";``). Lmod's own
python init ``exec``s it into the caller's globals; we never do. Each line is
matched by a strict regex and its right-hand side read with ``ast.literal_eval``,
so the output can only ever produce a dict of strings.

Debian's Lmod 8.6 exits 1 and prints ``_mlstatus = False`` when a module is
unknown or broken, and explains why on stderr; all three are checked, since older
versions exit 0 on some errors.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from jobwrapper.errors import EnvironmentSetupError

# Where Lmod is installed by Debian/Ubuntu, EL (EPEL) and the usual site builds.
KNOWN_LMOD_PATHS = (
    "/usr/share/lmod/lmod/libexec/lmod",
    "/usr/share/lmod/8.6/libexec/lmod",
    "/opt/lmod/lmod/libexec/lmod",
    "/usr/local/lmod/lmod/libexec/lmod",
    "/opt/apps/lmod/lmod/libexec/lmod",
)
# Lmod bookkeeping: needed by `module list` in a login shell, useless to a kernel.
BOOKKEEPING = re.compile(r"(_ModuleTable\d*_|_ModuleTable_Sz_|__LMOD_REF_COUNT_.*)\Z")

_SET = re.compile(r'os\.environ\[(?P<name>"[A-Za-z_][A-Za-z0-9_]*")\]\s*=\s*(?P<value>.*?);?\s*\Z')
_DEL = re.compile(r'del os\.environ\[(?P<name>"[A-Za-z_][A-Za-z0-9_]*")\];?\s*\Z')
_STATUS = re.compile(r"_mlstatus\s*=\s*(True|False)\s*\Z")
_UNKNOWN = re.compile(
    r"The following module\(s\) are unknown:\s*(?P<names>.*?)\s*(?:\n\s*\n|Please)", re.DOTALL)
_TIMEOUT = 60.0


@dataclass(frozen=True)
class ModuleLoad:
    """What loading the modules changed: variables to set and to unset."""

    modules: tuple[str, ...]
    env: dict[str, str]
    unset: tuple[str, ...] = ()


def find_lmod(environ: Mapping[str, str], configured: str = "") -> Optional[str]:
    """Lmod's ``lmod`` executable: the site's path, ``$LMOD_CMD``, then known paths."""
    for candidate in (configured, environ.get("LMOD_CMD", ""), *KNOWN_LMOD_PATHS):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def parse_lmod_python(text: str) -> tuple[dict[str, str], list[str], Optional[bool]]:
    """Variables set, variables deleted and ``_mlstatus`` from Lmod's python output.

    Raises ValueError on any line that is not one of those forms (besides
    ``import os``): unexpected output means something is wrong with Lmod.
    """
    env: dict[str, str] = {}
    unset: list[str] = []
    status: Optional[bool] = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line == "import os":
            continue
        match = _SET.match(line)
        if match:
            name = ast.literal_eval(match.group("name"))
            value = ast.literal_eval(match.group("value"))
            if not isinstance(value, str):
                raise ValueError(f"value of {name} is not a string")
            env[name] = value
            if name in unset:
                unset.remove(name)
            continue
        match = _DEL.match(line)
        if match:
            name = ast.literal_eval(match.group("name"))
            env.pop(name, None)
            unset.append(name)
            continue
        match = _STATUS.match(line)
        if match:
            status = match.group(1) == "True"
            continue
        raise ValueError(f"unexpected line {line[:60]!r}")
    return env, unset, status


def module_environ(environ: Mapping[str, str], lmod_cmd: str,
                   modulepath: Sequence[str]) -> dict[str, str]:
    """The environment Lmod runs in: LMOD_CMD set, the site's module path first."""
    result = dict(environ)
    result["LMOD_CMD"] = lmod_cmd
    current = [p for p in result.get("MODULEPATH", "").split(":") if p and p not in modulepath]
    result["MODULEPATH"] = ":".join([*modulepath, *current])
    return result


def _run_lmod(lmod_cmd: str, args: Sequence[str], environ: Mapping[str, str]
              ) -> subprocess.CompletedProcess[str]:
    """``lmod python ARGS``: the process started early for exactly this, else a new one."""
    process = _take_started(lmod_cmd, args, environ)
    try:
        process = process or _popen_lmod(lmod_cmd, args, environ)
    except OSError as error:
        raise EnvironmentSetupError(f"{lmod_cmd}: cannot run Lmod ({error.strerror}); "
                                    "fix lmod.lmod_cmd in the site config") from None
    # What subprocess.run(capture_output=True, timeout=...) does, for either process.
    with process:
        try:
            stdout, stderr = process.communicate(timeout=_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise EnvironmentSetupError(
                f"{lmod_cmd}: 'module {' '.join(args)}' did not finish in {_TIMEOUT:.0f} s; "
                "check the module path (a slow or hung file system?)") from None
        except BaseException:
            process.kill()
            raise
    return subprocess.CompletedProcess(process.args, process.poll(), stdout, stderr)


def _popen_lmod(lmod_cmd: str, args: Sequence[str], environ: Mapping[str, str]
                ) -> subprocess.Popen[str]:
    return subprocess.Popen([lmod_cmd, "python", *args], env=dict(environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# Lmod runs started ahead of need (job/early.py): (lmod_cmd, args, environ, process).
_started: list[tuple[str, tuple[str, ...], dict[str, str], subprocess.Popen[str]]] = []


def start_lmod(lmod_cmd: str, args: Sequence[str], environ: Mapping[str, str]) -> None:
    """Start ``lmod python ARGS`` now, for a later ``_run_lmod`` of exactly the same
    command in exactly the same environment (any other run does not use it). A start
    that fails is forgotten: the run that needs Lmod then reports it as always."""
    try:
        process = _popen_lmod(lmod_cmd, args, environ)
    except OSError:
        return
    _started.append((lmod_cmd, tuple(args), dict(environ), process))


def _take_started(lmod_cmd: str, args: Sequence[str], environ: Mapping[str, str]
                  ) -> Optional[subprocess.Popen[str]]:
    for index, (command, started_args, started_environ, process) in enumerate(_started):
        if (command, started_args, started_environ) == (lmod_cmd, tuple(args), dict(environ)):
            del _started[index]
            return process
    return None


def discard_started() -> None:
    """End and reap the early Lmod runs nobody asked for (a guess that was wrong)."""
    while _started:
        process = _started.pop()[3]
        with process:
            process.kill()
            process.wait()


def available_modules(lmod_cmd: str, environ: Mapping[str, str]) -> list[str]:
    """Names of the modules Lmod can load (``module -t avail``), without directories."""
    result = _run_lmod(lmod_cmd, ["-t", "avail"], environ)
    names = []
    for line in result.stderr.splitlines():
        line = line.strip()
        if line and not line.endswith(":") and not line.endswith("/"):
            names.append(line.split("(")[0].strip())
    return list(dict.fromkeys(names))


def _first_error_line(stderr: str) -> str:
    text = " ".join(stderr.split())
    marker = "Lmod has detected the following error:"
    if marker in text:
        text = text.split(marker, 1)[1].strip()
    return (text[:200] + "…") if len(text) > 200 else text


def load_modules(lmod_cmd: str, modules: Sequence[str], environ: Mapping[str, str],
                 modulepath: Sequence[str] = ()) -> ModuleLoad:
    """Run ``lmod python load MODULES`` and return what it changes (nothing is exec'd)."""
    run_environ = module_environ(environ, lmod_cmd, modulepath)
    result = _run_lmod(lmod_cmd, ["load", *modules], run_environ)
    try:
        env, unset, status = parse_lmod_python(result.stdout)
    except (ValueError, SyntaxError) as error:
        raise EnvironmentSetupError(
            f"{lmod_cmd}: unexpected output from 'module load' ({error}); "
            "is LMOD_CMD really Lmod?") from None
    failed = result.returncode != 0 or status is False or "Lmod has detected" in result.stderr
    if failed:
        raise _load_error(lmod_cmd, modules, result.stderr, run_environ)
    # The module path we put first must reach login shells even if Lmod did not echo it.
    env.setdefault("MODULEPATH", run_environ["MODULEPATH"])
    env.setdefault("LMOD_CMD", lmod_cmd)
    return ModuleLoad(tuple(modules), env, tuple(unset))


def _load_error(lmod_cmd: str, modules: Sequence[str], stderr: str,
                environ: Mapping[str, str]) -> EnvironmentSetupError:
    unknown = _UNKNOWN.search(stderr)
    if unknown:
        names = [n.strip('" ') for n in unknown.group("names").split(",") if n.strip('" ')]
        names = [n for part in names for n in part.split()] or list(modules)
        available = available_modules(lmod_cmd, environ)
        shown = ", ".join(available[:30]) + (" …" if len(available) > 30 else "")
        return EnvironmentSetupError(
            f"Lmod module {', '.join(names)} not found in MODULEPATH "
            f"{environ.get('MODULEPATH', '')!r}; available: {shown or 'none'}; "
            "fix the environment's modules in the site config")
    reason = _first_error_line(stderr) or "no reason given"
    return EnvironmentSetupError(f"Lmod could not load {' '.join(modules)}: {reason}")


def kernel_relevant(env: Mapping[str, str]) -> dict[str, str]:
    """The module changes a kernel needs: everything but Lmod's bookkeeping."""
    return {k: v for k, v in env.items() if not BOOKKEEPING.match(k)}
