"""Language support of the built-in kernels: is IRkernel, IJulia, JupyROOT there?

An interpreter on PATH is not enough: without its Jupyter package the user gets a
dead kernel. Each check looks for the package's files where the interpreter would
load it from, without starting the interpreter, except R: its library paths come
from R itself (~110 ms), so they are derived once per R executable and kept in a
small JSON file keyed by the executable's path, mtime and the ``R_LIBS*`` variables:
``~/.cache/jobwrapper/kernel-support.json``, which outlives the job (each job would
pay the R run again), or ``<private dir>/cache/`` where the home is not the user's
writable dir. The package itself is looked up on every start, so installing it later
is noticed.

``check_support`` is the read stage; it returns ``{kernel name: why not}`` for the
built-in kernels whose support is missing, one line each, never an exception.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Optional

from jobwrapper.job.context import JobContext
from jobwrapper.job.environment import EnvironmentChanges
from jobwrapper.job.plan import private_root
from jobwrapper.notebook.kernels import KernelTemplate

CACHE_NAME = "kernel-support.json"
_R_ENV = ("R_LIBS", "R_LIBS_USER", "R_LIBS_SITE", "R_HOME")
_R_LIBPATHS = 'cat(.libPaths(), sep="\\n")'

# (programs, env, cache file) -> None if supported, else the reason
Check = Callable[[Mapping[str, str], Mapping[str, str], Optional[str]], Optional[str]]


def _split(value: str) -> list[str]:
    return [p for p in value.split(os.pathsep) if p]


def _load_cache(path: Optional[str]) -> dict[str, object]:
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_cache(path: Optional[str], data: Mapping[str, object]) -> None:
    if not path:
        return
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written costs time, never the start


def r_library_paths(r: str, env: Mapping[str, str], cache: Optional[str]) -> list[str]:
    """R's ``.libPaths()`` for this R and these ``R_LIBS*``; cached by path and mtime."""
    try:
        mtime = os.stat(r).st_mtime_ns
    except OSError:
        return []
    key = json.dumps([r, mtime, [env.get(n, "") for n in _R_ENV]])
    data = _load_cache(cache)
    entry = data.get("R")
    if isinstance(entry, dict) and isinstance(entry.get(key), list):
        return [str(p) for p in entry[key]]
    try:
        result = subprocess.run([r, "--slave", "--no-save", "--no-restore", "-e", _R_LIBPATHS],
                                capture_output=True, text=True, timeout=30, check=False,
                                env=dict(env), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if result.returncode != 0:
        return []
    paths = [line for line in result.stdout.splitlines() if os.path.isabs(line)]
    data["R"] = {**(entry if isinstance(entry, dict) else {}), key: paths}
    _save_cache(cache, data)
    return paths


def check_r(programs: Mapping[str, str], env: Mapping[str, str],
            cache: Optional[str]) -> Optional[str]:
    """IRkernel in one of R's library paths."""
    r = programs["R"]
    paths = r_library_paths(r, env, cache)
    if not paths:
        return f"{r} did not tell its library paths"
    if any(os.path.isfile(os.path.join(p, "IRkernel", "DESCRIPTION")) for p in paths):
        return None
    return (f"IRkernel is not installed for {r} (looked in {', '.join(paths)}); "
            "install it (install.packages('IRkernel') or the r-cran-irkernel package)")


def julia_depots(julia: str, env: Mapping[str, str]) -> list[str]:
    """Julia's DEPOT_PATH: JULIA_DEPOT_PATH (an empty entry means the defaults), else
    ~/.julia, <prefix>/local/share/julia and <prefix>/share/julia."""
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(julia)))
    home = env.get("HOME") or os.path.expanduser("~")
    defaults = [os.path.join(home, ".julia"), os.path.join(prefix, "local", "share", "julia"),
                os.path.join(prefix, "share", "julia")]
    value = env.get("JULIA_DEPOT_PATH")
    if value is None or value == "":
        return defaults
    depots: list[str] = []
    for entry in value.split(os.pathsep):
        depots += defaults if entry == "" else [entry]
    return list(dict.fromkeys(depots))


def check_julia(programs: Mapping[str, str], env: Mapping[str, str],
                cache: Optional[str]) -> Optional[str]:
    """IJulia in one of Julia's depots (``packages/IJulia/<slug>/src/IJulia.jl``)."""
    julia = programs["julia"]
    depots = julia_depots(julia, env)
    for depot in depots:
        if glob.glob(os.path.join(glob.escape(depot), "packages", "IJulia", "*", "src",
                                  "IJulia.jl")):
            return None
    return (f"IJulia is not installed for {julia} (looked in {', '.join(depots)}); "
            "install it (julia -e 'using Pkg; Pkg.add(\"IJulia\")')")


def root_python_dirs(root: str, env: Mapping[str, str]) -> list[str]:
    """Where ROOT's python modules can be: PYTHONPATH (thisroot.sh sets it), the ROOT
    install's lib and lib/root, and its lib/python*/site-packages (conda)."""
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(root)))
    dirs = _split(env.get("PYTHONPATH", ""))
    rootsys = env.get("ROOTSYS")
    for base in ([rootsys] if rootsys else []) + [prefix]:
        dirs += [os.path.join(base, "lib"), os.path.join(base, "lib", "root")]
        dirs += sorted(glob.glob(os.path.join(glob.escape(base), "lib", "python*",
                                              "site-packages")))
    return list(dict.fromkeys(dirs))


def check_root(programs: Mapping[str, str], env: Mapping[str, str],
               cache: Optional[str]) -> Optional[str]:
    """ROOT's Jupyter support: the ``JupyROOT.kernel.rootkernel`` module."""
    root = programs["root"]
    dirs = root_python_dirs(root, env)
    for directory in dirs:
        if os.path.isfile(os.path.join(directory, "JupyROOT", "kernel", "rootkernel.py")):
            return None
    return (f"ROOT's Jupyter support (JupyROOT) was not found for {root} "
            f"(looked in {', '.join(dirs)}); use a ROOT built with pyroot")


# built-in kernel name -> (the program it checks, the check)
CHECKS: dict[str, tuple[str, Check]] = {
    "ir": ("R", check_r),
    "julia": ("julia", check_julia),
    "root": ("root", check_root),
}


def cache_file(private_dir: str, environ: Optional[Mapping[str, str]] = None) -> str:
    """The cache file: in the user's ``~/.cache/jobwrapper/`` when ``HOME`` is a
    directory of the user's that the job can write (a shared home: every later job
    finds it), else in the job's cache dir (the private dir's cache/)."""
    home = (environ or {}).get("HOME", "")
    try:
        info = os.stat(home) if os.path.isabs(home) else None
    except OSError:
        info = None
    if info is not None and info.st_uid == os.getuid() and os.access(home, os.W_OK):
        return os.path.join(home, ".cache", "jobwrapper", CACHE_NAME)
    return os.path.join(private_dir, "cache", CACHE_NAME)


def check_support(templates: Sequence[KernelTemplate], programs: Mapping[str, str],
                  env: Mapping[str, str], cache: Optional[str]) -> dict[str, str]:
    """``{kernel: reason}`` for the built-in kernels whose interpreter exists but whose
    Jupyter support does not; kernels whose interpreter is missing are left to
    ``plan_kernels`` ("R not found")."""
    missing: dict[str, str] = {}
    for template in templates:
        if not template.builtin or template.name not in CHECKS:
            continue
        program, check = CHECKS[template.name]
        if program not in programs:
            continue
        try:
            reason = check(programs, env, cache)
        except (OSError, ValueError) as error:  # a check never stops the start
            reason = f"cannot check its language support ({error})"
        if reason:
            missing[template.name] = reason
    return missing


def read_support(context: JobContext, environment: Optional[EnvironmentChanges],
                 templates: Sequence[KernelTemplate], programs: Mapping[str, str]
                 ) -> dict[str, str]:
    """``check_support`` with the job's environment (after Lmod and the virtualenv) and
    the cache in the job's private dir."""
    env = {**context.environ, **(environment.env if environment else {})}
    return check_support(templates, programs, env,
                         cache_file(private_root(context, os.getuid()), context.environ))
