"""The notebook pipeline for ``jobwrapper singleuser`` and ``jobwrapper lab``.

read (``read_environment``, ``read_notebook``) -> plan (``plan_notebook``, pure)
-> apply (``apply_notebook``) -> exec (``exec_server``). The environment part
(Lmod modules and the CVMFS virtualenv) is also used by ``doctor``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from jobwrapper.errors import EnvironmentSetupError, ServerError
from jobwrapper.job.context import JobContext
from jobwrapper.job.modules import find_lmod, kernel_relevant, load_modules, module_environ
from jobwrapper.job.plan import Setup
from jobwrapper.job.threads import HTCONDOR_THREAD_VARIABLES
from jobwrapper.job.venv import activate_venv, environments_for, venv_python
from jobwrapper.notebook import kernels, server


@dataclass(frozen=True)
class EnvironmentChanges:
    """What the job's software environment (modules, virtualenv) changes."""

    name: str
    description: str = ""
    modules: tuple[str, ...] = ()
    venv: str = ""
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    python: str = ""  # the environment's python: the kernel's interpreter


@dataclass(frozen=True)
class NotebookInputs:
    """What the read stage found for the notebook: environment, kernels, secrets."""

    environment: EnvironmentChanges
    templates: tuple[kernels.KernelTemplate, ...]
    programs: dict[str, str]
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    login_shell: str = ""  # the user's shell in the passwd database, for terminals


@dataclass(frozen=True)
class NotebookPlan:
    """Everything the notebook commands will write and exec; ``__str__`` is for people."""

    kind: str  # "singleuser" or "lab"
    label: str
    ip: str
    root_dir: str
    config_dir: str
    data_dir: str
    argv: tuple[str, ...]
    jupyter_config: dict[str, Any] = field(repr=False)
    extension_config: dict[str, Any] = field(repr=False)
    page_config: dict[str, Any] = field(repr=False)
    # labconfig/default_setting_overrides.json: JupyterLab setting defaults
    setting_overrides: dict[str, Any] = field(default_factory=dict, repr=False)
    kernels: kernels.KernelChoice = field(default_factory=kernels.KernelChoice)
    report_to_hub: bool = False
    report_timeout: float = 300.0
    socket_path: str = ""  # socket mode: the server's unix socket; "" in TCP mode
    ipc_dir: str = ""  # socket mode: the kernels' ipc files
    mode_reason: str = ""
    # TCP mode: loopback or direct, who chose it, where the address comes from.
    bind: server.Bind = field(default_factory=lambda: server.Bind(
        "loopback", "server.bind in the site config", server.LOOPBACK))
    # Only for the server and its kernels (they inherit its environment): a pycache
    # prefix in a fresh private dir makes Python ignore every installed __pycache__ and
    # recompile Jupyter on each start (~4 s here); not writing bytecode keeps .pyc files
    # out of the transferred jupyter/ just as well.
    server_env: dict[str, str] = field(default_factory=lambda: {"PYTHONDONTWRITEBYTECODE": "1"})
    server_unset: tuple[str, ...] = ("PYTHONPYCACHEPREFIX",)

    def __str__(self) -> str:
        where = (f"listens on the unix socket {self.socket_path}, kernels over ipc "
                 f"(socket mode: {self.mode_reason})" if self.socket_path else
                 f"bound to {self.ip} (TCP mode: {self.mode_reason})")
        lines = [f"Server ({self.kind}): {' '.join(self.argv)}",
                 f"  {where}, notebooks in {self.root_dir}",
                 *([] if self.socket_path else [f"  bind: {self.bind}"]),
                 f"  jupyter config in {self.config_dir}",
                 f"  shown in JupyterLab as: {self.label}"]
        if self.report_to_hub:
            what = "socket path" if self.socket_path else "port"
            lines.append(f"  {what} reported to the hub (timeout {self.report_timeout:g} s)")
        disabled = sorted(self.page_config.get("disabledExtensions", {}))
        if disabled:
            lines.append(f"  JupyterLab extensions disabled: {', '.join(disabled)}")
        for plugin, values in sorted(self.setting_overrides.items()):
            shown = ", ".join(f"{key} = {value!r}" for key, value in sorted(values.items()))
            lines.append(f"  JupyterLab default: {plugin} {shown}")
        lines.append(f"Kernels in {self.data_dir}/kernels:")
        lines += [f"  {k.name}: {' '.join(k.spec['argv'][:3])} ..." for k in self.kernels.offered]
        lines += [f"  {name}: not offered ({why})" for name, why in self.kernels.skipped.items()]
        return "\n".join(lines)


def read_environment(context: JobContext) -> EnvironmentChanges:
    """Resolve the job's environment for its container OS: load modules, find the venv."""
    config, environ = context.config, context.environ
    os_name = context.container_os or "default"
    name = context.environment_name
    spec = config.environment(name, context.container_os)
    if spec is None and config.environments:
        known = environments_for(config.environments, os_name)
        raise EnvironmentSetupError(
            f"environment {name!r} is not defined for container OS {os_name!r} in "
            f"{config.path or 'the site config'}; environments for this OS: "
            f"{', '.join(known) or 'none'}")
    modules = spec.modules if spec else ()
    lmod_cmd = find_lmod(environ, config.get("lmod", "lmod_cmd"))
    modulepath = config.get("lmod", "modulepath")
    env: dict[str, str] = {}
    unset: list[str] = []
    if modules:
        if lmod_cmd is None:
            raise EnvironmentSetupError(
                f"environment {name!r} needs Lmod modules ({', '.join(modules)}) but Lmod was "
                "not found: set lmod.lmod_cmd in the site config or LMOD_CMD")
        loaded = load_modules(lmod_cmd, modules, environ, modulepath)
        env.update(loaded.env)
        unset.extend(loaded.unset)
    elif lmod_cmd is not None:
        # Initialise Lmod for terminals and login shells: `module load` works there.
        initial = module_environ(environ, lmod_cmd, modulepath)
        env.update({"LMOD_CMD": lmod_cmd, "MODULEPATH": initial["MODULEPATH"]})
    python = ""
    if spec and spec.venv:
        current_path = env.get("PATH", environ.get("PATH", os.defpath))
        known = [n for n in environments_for(config.environments, os_name)]
        activation = activate_venv(spec.venv, name, os_name, current_path, known)
        env.update(activation.env)
        unset.extend(activation.unset)
        python = venv_python(spec.venv)
    elif modules and "PATH" in env:
        python = kernels.find_programs(["python3"], env["PATH"]).get("python3", "")
    return EnvironmentChanges(name, spec.description if spec else "", modules,
                              spec.venv if spec else "", env,
                              tuple(u for u in dict.fromkeys(unset) if u not in env),
                              python or sys.executable)


def read_notebook(context: JobContext, secrets: Optional[dict[str, str]] = None
                  ) -> NotebookInputs:
    """The read stage for the notebook commands."""
    environment = read_environment(context)
    config = context.config
    templates = kernels.load_templates(config.get("kernels", "offer"),
                                       config.get("kernels", "extra_dirs"))
    wanted = [p for t in templates for p in kernels.required_programs(t)]
    search_path = environment.env.get("PATH", context.environ.get("PATH", os.defpath))
    programs = kernels.find_programs(wanted, search_path, environment.python)
    return NotebookInputs(environment, tuple(templates), programs, secrets or {},
                          server.login_shell(os.getuid()))


def job_label(context: JobContext, environment: EnvironmentChanges) -> str:
    """How JupyterLab shows the job: 'Rocky9 · stable' (kernel names, launcher)."""
    return " · ".join(p for p in (context.container_label, environment.name) if p)


def plan_notebook(context: JobContext, setup: Setup, inputs: NotebookInputs, kind: str,
                  user_args: tuple[str, ...] = (), token: Optional[str] = None,
                  resolve: server.Resolver = server.resolve_host
                  ) -> tuple[Setup, NotebookPlan]:
    """The notebook's decisions as data; the Setup gains the environment's variables.

    ``resolve`` looks up the execute host's name in direct mode (tests replace it)."""
    environment = inputs.environment
    setup = add_environment(setup, environment)
    config = context.config
    mode, mode_reason = server.server_mode(config, context.environ)
    if kind == "singleuser" and not _has_hub(context.environ, inputs.secrets):
        raise ServerError("jobwrapper singleuser needs JUPYTERHUB_API_URL in the job's "
                          "environment and JUPYTERHUB_API_TOKEN in the hub's secrets file; "
                          "start it from the hub, or use jobwrapper lab")
    # Socket mode never binds TCP (and refuses direct mode): nothing to resolve.
    bind = (server.bind_address(config, context.environ, context.machine_ad, resolve)
            if mode == "tcp" else server.Bind("loopback", "socket mode", server.LOOPBACK))
    ip = bind.address
    root_dir = server.notebook_dir(context.scratch_dir, config, context.environ)
    label = job_label(context, environment)
    wanted = {*HTCONDOR_THREAD_VARIABLES, *config.get("job", "extra_thread_variables"),
              *_KERNEL_VARIABLES}
    kernel_env = {k: v for k, v in setup.env.items() if k in wanted}
    kernel_env.update(kernel_relevant(environment.env))
    choice = kernels.plan_kernels(inputs.templates, inputs.programs, kernel_env, label)
    private = setup.private_dir
    sock = server.socket_path(private) if mode == "socket" else ""
    ipc_dir = os.path.join(private, server.IPC_DIR_NAME) if sock else ""
    memory = int(setup.env["MEM_LIMIT"]) if "MEM_LIMIT" in setup.env else None
    notebook = NotebookPlan(
        kind=kind,
        label=label,
        ip=ip,
        root_dir=root_dir,
        config_dir=os.path.join(private, "etc", "jupyter"),
        data_dir=os.path.join(private, "share", "jupyter"),
        argv=tuple(server.server_argv(kind, ip, root_dir, user_args, sock)),
        jupyter_config=server.jupyter_config(
            config=config, root_dir=root_dir, ip=ip, memory_bytes=memory,
            cores=context.resources.cores, scratch_dir=context.scratch_dir, token=token,
            lab=kind == "lab", sock=sock, ipc_dir=ipc_dir),
        extension_config=server.extension_config(),
        page_config=server.page_config(server.disabled_extensions(config,
                                                                  context.container_os)),
        setting_overrides=server.setting_overrides(config),
        kernels=choice,
        report_to_hub=kind == "singleuser",
        report_timeout=float(config.get("server", "report_timeout")),
        server_env={"PYTHONDONTWRITEBYTECODE": "1",
                    **server.terminal_shell(config, context.environ, inputs.login_shell)},
        socket_path=sock,
        ipc_dir=ipc_dir,
        mode_reason=mode_reason,
        bind=bind,
    )
    return setup, notebook


# Besides the thread variables: what a kernel needs from the job's setup.
_KERNEL_VARIABLES = {"CUDA_VISIBLE_DEVICES", "CPU_LIMIT", "MEM_LIMIT", "JOBWRAPPER_ENVIRONMENT",
                     "JOBWRAPPER_CONTAINER"}


def _has_hub(environ: Mapping[str, str], secrets: Mapping[str, str]) -> bool:
    merged = {**environ, **secrets}
    return bool(merged.get("JUPYTERHUB_API_TOKEN") and merged.get("JUPYTERHUB_API_URL"))


def load_environment(context: JobContext, strict: bool = True
                     ) -> tuple[Optional[EnvironmentChanges], Optional[str]]:
    """The job's modules and virtualenv (runs Lmod), or None and the one-line reason.

    With ``strict=False`` (login shells) a broken environment is not fatal: the
    reason comes back, to be shown as a warning; with ``strict=True`` it is raised.
    """
    try:
        return read_environment(context), None
    except EnvironmentSetupError as error:
        if strict:
            raise
        return None, str(error)


def with_environment(context: JobContext, setup: Setup, strict: bool = True
                     ) -> tuple[Setup, Optional[str]]:
    """``setup`` plus the job's modules and virtualenv, for ``env`` and ``run``."""
    environment, problem = load_environment(context, strict)
    if environment is None:
        return setup, problem
    return add_environment(setup, environment), None


def add_environment(setup: Setup, environment: EnvironmentChanges) -> Setup:
    unset = tuple(n for n in dict.fromkeys((*setup.unset, *environment.unset))
                  if n not in environment.env)
    return replace(setup, env={**setup.env, **environment.env}, unset=unset)
