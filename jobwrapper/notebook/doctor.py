"""``jobwrapper doctor``: check the notebook setup in the current job, one row per check.

Each check returns OK, FAIL (with the fix) or SKIP (does not apply here). The
command exits 1 if any check failed. Checks only read: nothing is created. They use
the commands' own read and plan (one ``plan()``, ``read_environment``,
``read_kernels``, the server's bind and mode), so doctor cannot drift from what
``env``, ``run`` and ``singleuser`` do.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from importlib import metadata
from typing import Callable, Optional

from jobwrapper.errors import JobwrapperError
from jobwrapper.job.context import JobContext
from jobwrapper.job.environment import EnvironmentChanges, read_environment
from jobwrapper.job.modules import find_lmod
from jobwrapper.job.plan import Setup, plan
from jobwrapper.notebook import codeserver, kernels, kernels_support, server
from jobwrapper.notebook.plan import read_kernels, read_user_kernels

OK, FAIL, SKIP = "OK", "FAIL", "SKIP"
MIN_SERVER_PROXY = (4, 2, 0)  # CVE-2024-28179 (4.1.1), CVE-2024-35225 (4.2.0)


@dataclass(frozen=True)
class Check:
    """One row of the table: what was checked, the outcome, and what to do."""

    name: str
    status: str
    detail: str = ""


def check_ads(context: JobContext) -> Check:
    if not context.in_job:
        return Check("job ads", FAIL, "no job: neither _CONDOR_JOB_AD nor SLURM_JOB_ID is "
                                      "set; run doctor inside the job (condor_ssh_to_job, "
                                      "srun --jobid=ID --overlap --pty)")
    if context.warnings:
        return Check("job ads", FAIL, f"{context.warnings[0]}; fix the submit file")
    return Check("job ads", OK, f"{context.job_ad.source}, {context.machine_ad.source}")


def check_private_dir(context: JobContext, setup: Setup) -> Check:
    if not context.scratch_dir and context.scheduler != "slurm":
        return Check("scratch and private dir", FAIL,
                     "_CONDOR_SCRATCH_DIR is not set; run doctor inside the job")
    private = setup.private_dir
    # A Slurm job has no scratch dir of its own: the private dir sits in the node's temp.
    for path in (context.scratch_dir, private) if context.scratch_dir else (private,):
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            if path == private:
                return Check("scratch and private dir", SKIP,
                             f"{private} not created yet (jobwrapper env creates it)")
            return Check("scratch and private dir", FAIL, f"{path} does not exist")
        if info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode):
            return Check("scratch and private dir", FAIL,
                         f"{path} is not a directory owned by you; remove it and restart")
        if path == private and stat.S_IMODE(info.st_mode) != 0o700:
            return Check("scratch and private dir", FAIL,
                         f"{path} has mode {stat.S_IMODE(info.st_mode):o}; run chmod 700 {path}")
    return Check("scratch and private dir", OK, f"{private} (0700)")


def check_environment(context: JobContext) -> tuple[Check, Check, Optional[EnvironmentChanges]]:
    lmod_cmd = find_lmod(context.environ, context.config.lmod.lmod_cmd)
    spec = context.config.environment(context.environment_name, context.container_os)
    try:
        changes = read_environment(context)
    except JobwrapperError as error:
        failed = Check("environment", FAIL, str(error))
        if spec and spec.modules and "Lmod" in str(error):
            return Check("Lmod modules", FAIL, str(error)), failed, None
        return Check("Lmod modules", SKIP if not (spec and spec.modules) else FAIL,
                     "see environment"), failed, None
    if changes.modules:
        lmod = Check("Lmod modules", OK, f"{lmod_cmd}: {' '.join(changes.modules)} loaded")
    elif lmod_cmd:
        lmod = Check("Lmod modules", OK, f"{lmod_cmd} found; the environment loads no modules")
    else:
        lmod = Check("Lmod modules", SKIP, "no Lmod in this container and no modules configured")
    where = changes.venv or "no virtualenv configured"
    return lmod, Check("environment", OK, f"{changes.name}: {where}"), changes


def check_kernels(context: JobContext, changes: Optional[EnvironmentChanges]) -> list[Check]:
    try:
        templates, programs = read_kernels(context, changes)
    except JobwrapperError as error:
        return [Check("kernels", FAIL, str(error))]
    unsupported = kernels_support.read_support(context, changes, templates, programs)
    user_templates, user_programs, user_reasons = read_user_kernels(context, changes)
    choice = kernels.plan_kernels([*templates, *user_templates], {**programs, **user_programs},
                                  {}, "", {**unsupported, **user_reasons})
    rows = [Check(f"kernel {k.name}", OK, k.spec["argv"][0]) for k in choice.offered]
    rows += [Check(f"kernel {name}", SKIP, why) for name, why in choice.skipped.items()]
    python = programs.get("python3")
    if python and not _imports(python, "ipykernel"):
        rows.append(Check("kernel python3 ipykernel", FAIL,
                          f"{python} cannot import ipykernel; install ipykernel in the "
                          "environment's virtualenv"))
    if not choice.offered:
        rows.append(Check("kernels", FAIL, "no kernel can be offered; configure an environment "
                                           "with python3"))
    return rows


def _imports(python: str, module: str) -> bool:
    try:
        result = subprocess.run([python, "-c", f"import {module}"], capture_output=True,
                                timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _version(distribution: str) -> Optional[tuple[int, ...]]:
    try:
        text = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_packages() -> list[Check]:
    rows = []
    proxy = _version("jupyter-server-proxy")
    if proxy is None:
        rows.append(Check("jupyter-server-proxy", FAIL, "not installed; pip install "
                                                        "'jupyter-server-proxy>=4.2.0'"))
    elif proxy < MIN_SERVER_PROXY:
        rows.append(Check("jupyter-server-proxy", FAIL, f"{'.'.join(map(str, proxy))} has "
                          "CVE-2024-28179/CVE-2024-35225; upgrade to >= 4.2.0"))
    else:
        rows.append(Check("jupyter-server-proxy", OK, ".".join(map(str, proxy))))
    for name in ("jupyter-resource-usage", "jupyterlab", "jupyterhub"):
        found = _version(name)
        rows.append(Check(name, OK, ".".join(map(str, found))) if found else
                    Check(name, FAIL, f"not installed; pip install {name}"))
    return rows


def check_server(context: JobContext, setup: Setup,
                 resolve: server.Resolver = server.resolve_host) -> list[Check]:
    bind_row, address = check_server_bind(context, resolve)
    mode_row = check_server_mode(context, setup, address)
    xpra = shutil.which("xpra", path=context.environ.get("PATH", os.defpath))
    desktop = (Check("desktop (xpra)", OK, xpra) if xpra else
               Check("desktop (xpra)", FAIL, "xpra not on PATH; install Debian's xpra in the "
                                             "container for the desktop"))
    return [bind_row, mode_row, desktop, check_code_server(context)]


def check_code_server(context: JobContext) -> Check:
    """VS Code in the browser (docs/vscode.md): optional, so SKIP with the reason when it is
    turned off or not installed; FAIL when the site config asks for what cannot be."""
    state, detail = codeserver.availability(context.config, context.environ)
    name = "VS Code (code-server)"
    if state == codeserver.OFFERED:
        return Check(name, OK, detail)
    detail = detail.removeprefix("jobwrapper: ")
    return Check(name, FAIL if state == codeserver.MISCONFIGURED else SKIP, detail)


def check_server_bind(context: JobContext, resolve: server.Resolver = server.resolve_host
                      ) -> tuple[Check, str]:
    """Loopback or direct, who chose it, and the address ("" when it is not known).

    Direct mode is OK when the hub asked for it (its proxy connects to the execute
    host). Chosen by the site config alone it fails: a hub that tunnels does not need
    the server reachable from the network."""
    try:
        choice, reason = server.server_bind(context.config, context.environ)
    except JobwrapperError as error:
        return Check("server bind", FAIL, str(error)), ""
    site_only = choice == "direct" and not reason.startswith("asked by the hub")
    try:
        bind = server.bind_address(context.config, context.environ, context.machine_ad,
                                   resolve)
    except JobwrapperError as error:
        if not site_only:
            return Check("server bind", FAIL, str(error)), ""
        bind, where = None, f"the execute host's address (unknown here: {error})"
    else:
        where = f"{bind.address}, reachable from the network"
    if site_only:
        return Check("server bind", FAIL,
                     "direct (server.bind in the site config, no hub asked for it): the "
                     f"notebook listens on {where}; set server.bind = \"loopback\" unless "
                     f"the hub cannot tunnel (a hub in direct mode sets "
                     f"{server.SERVER_BIND_ENV}=direct)"), bind.address if bind else ""
    assert bind is not None
    if bind.choice == "loopback":
        return Check("server bind", OK, str(bind)), bind.address
    note = ("; a loopback address: only a hub on this host reaches it, else set "
            "server.direct_address" if server.is_loopback(bind.address) else "")
    return Check("server bind", OK, f"{bind}{note}"), bind.address


def check_server_mode(context: JobContext, setup: Setup, address: str = "") -> Check:
    """Which mode singleuser would use (tcp or socket) and why; socket mode's path."""
    try:
        mode, why = server.server_mode(context.config, context.environ)
        if mode == "tcp":
            where = address or "the address in the server bind row"
            return Check("server mode", OK, f"tcp ({why}); the server listens on {where}")
        return Check("server mode", OK, f"socket ({why}): "
                                        f"{server.socket_path(setup.private_dir)}, "
                                        "kernels over ipc")
    except JobwrapperError as error:
        return Check("server mode", FAIL, str(error))


def check_threads(context: JobContext, setup: Setup) -> Check:
    """The plan's thread variables (setup.threads) must be in this shell's environment."""
    names = list(setup.threads)
    missing = [n for n in names if not context.environ.get(n)]
    if missing:
        return Check("thread variables", FAIL, f"{', '.join(missing)} not set; log in again or "
                                               "start programs with jobwrapper run")
    return Check("thread variables", OK, f"{len(names)} set, e.g. OMP_NUM_THREADS="
                                         f"{context.environ['OMP_NUM_THREADS']}")


# (all shown, one line) for the job's GPU ids: inserver/gpus.py's doctor_probe, handed in
# by the command, because notebook/ does not import inserver/.
GpuProbe = Callable[[tuple[str, ...]], tuple[bool, str]]


def check_gpus(context: JobContext, probe: Optional[GpuProbe]) -> Check:
    """The job's GPUs as JupyterLab's status bar shows them (NVML; docs/gpus.md)."""
    ids = context.resources.gpu_ids
    if not ids:
        return Check("GPUs", SKIP, "this job has no GPU")
    if probe is None:
        return Check("GPUs", SKIP, "not checked")
    shown, detail = probe(ids)
    return Check("GPUs", OK if shown else FAIL, detail)


def run_checks(context: JobContext, gpu_probe: Optional[GpuProbe] = None) -> list[Check]:
    """Every check, in the order of the table; one plan for all of them."""
    setup = plan(context, os.getuid())
    lmod, environment, changes = check_environment(context)
    rows = [check_ads(context), check_private_dir(context, setup), lmod, environment]
    rows += check_kernels(context, changes)
    rows += check_server(context, setup)
    rows += check_packages()
    rows.append(check_threads(context, setup))
    rows.append(check_gpus(context, gpu_probe))
    # [login]'s notes (a data dir that does not exist, a TZ left as it was): one row each
    rows += [Check("login settings", SKIP, note) for note in setup.notes]
    return rows


def format_table(rows: list[Check]) -> str:
    """Fixed-width table: check, status, detail (the fix, for failures)."""
    width = max(len(r.name) for r in rows)
    return "\n".join(f"{r.name:<{width}}  {r.status:<4}  {r.detail}" for r in rows)
