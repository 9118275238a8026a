"""The notebook part of the plan, for ``jobwrapper singleuser`` and ``jobwrapper lab``.

read (``read_notebook``: the job's environment from job/environment.py, kernel
templates and programs, the hub's secrets) -> plan (``plan_notebook``, pure: the
job's Setup plus the environment, and the NotebookPlan) -> apply
(notebook/launch.py ``apply_notebook``) -> exec (``exec_server``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from jobwrapper.errors import ServerError
from jobwrapper.job.context import JobContext
from jobwrapper.job.environment import EnvironmentChanges, add_environment, read_environment
from jobwrapper.job.modules import kernel_relevant
from jobwrapper.job.plan import Setup
from jobwrapper.job.timestamps import stamp
from jobwrapper.notebook import kernels, kernels_support, kernels_user, server
from jobwrapper.protocol import SYNC_ENV


@dataclass(frozen=True)
class NotebookInputs:
    """What the read stage found for the notebook: environment, kernels, secrets."""

    environment: EnvironmentChanges
    templates: tuple[kernels.KernelTemplate, ...]
    programs: dict[str, str]
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    login_shell: str = ""  # the user's shell in the passwd database, for terminals
    # built-in kernels whose language support is missing -> why (kernels_support)
    unsupported: dict[str, str] = field(default_factory=dict)


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
    # The hub merges ~/jupyter (JOBWRAPPER_SYNC=1): record what arrived before the server
    # starts, and (in the server) what leaves when it ends.
    sync_manifests: bool = False
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
        if self.sync_manifests:
            lines.append(f"  ~/jupyter is merged by the hub: what arrives and leaves is "
                         f"recorded in {self.root_dir}/.jobwrapper-sync")
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


def read_notebook(context: JobContext, secrets: Optional[dict[str, str]] = None
                  ) -> NotebookInputs:
    """The read stage for the notebook commands."""
    environment = read_environment(context)
    stamp("lmod")
    templates, programs = read_kernels(context, environment)
    unsupported = kernels_support.read_support(context, environment, templates, programs)
    user_templates, user_programs, user_reasons = read_user_kernels(context, environment)
    return NotebookInputs(environment, (*templates, *user_templates),
                          {**programs, **user_programs}, secrets or {},
                          server.login_shell(os.getuid()), {**unsupported, **user_reasons})


def read_user_kernels(context: JobContext, environment: Optional[EnvironmentChanges]
                      ) -> tuple[list[kernels.KernelTemplate], dict[str, str], dict[str, str]]:
    """The user's own environments in ~/jupyter/envs (kernels_user), unless the site's
    kernels.user_environments forbids them."""
    if not context.config.kernels.user_environments:
        return [], {}, {}
    env = environment.env if environment else {}
    search_path = env.get("PATH", context.environ.get("PATH", os.defpath))
    return kernels_user.read_user_environments(
        server.notebook_dir(context.scratch_dir, context.config, context.environ), search_path)


def read_kernels(context: JobContext, environment: Optional[EnvironmentChanges]
                 ) -> tuple[tuple[kernels.KernelTemplate, ...], dict[str, str]]:
    """The kernel templates to offer and the programs they need that exist here
    (searched on the environment's PATH; python3 is the environment's python)."""
    config = context.config
    templates = kernels.load_templates(config.kernels.offer,
                                       config.kernels.extra_dirs)
    wanted = [p for t in templates for p in kernels.required_programs(t)]
    env = environment.env if environment else {}
    search_path = env.get("PATH", context.environ.get("PATH", os.defpath))
    return tuple(templates), kernels.find_programs(
        wanted, search_path, environment.python if environment else None)


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
    kernel_env = {**setup.kernel_env, **kernel_relevant(environment.env)}
    choice = kernels.plan_kernels(inputs.templates, inputs.programs, kernel_env, label,
                                  inputs.unsupported)
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
        sync_manifests=kind == "singleuser" and context.environ.get(SYNC_ENV) == "1",
        report_timeout=float(config.server.report_timeout),
        server_env={"PYTHONDONTWRITEBYTECODE": "1",
                    **server.terminal_shell(config, context.environ, inputs.login_shell)},
        socket_path=sock,
        ipc_dir=ipc_dir,
        mode_reason=mode_reason,
        bind=bind,
    )
    return setup, notebook


def _has_hub(environ: Mapping[str, str], secrets: Mapping[str, str]) -> bool:
    merged = {**environ, **secrets}
    return bool(merged.get("JUPYTERHUB_API_TOKEN") and merged.get("JUPYTERHUB_API_URL"))
