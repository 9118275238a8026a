"""apply and exec for the notebook commands: write the server's files, bind, exec.

The server is exec'd (``os.execvpe``), so HTCondor's SIGTERM reaches it directly.
Its listening socket is bound here, before exec, and handed over (see
inserver/hubreport.py): the port is known before the server starts, nobody can take it in
between, and a taken port is an error, never a silent move.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import socket
import stat
import sys
from collections.abc import Mapping
from typing import Optional, TextIO

from jobwrapper import protocol
from jobwrapper.errors import ServerError
from jobwrapper.job.apply import make_private_dir, write_private_file
from jobwrapper.job.plan import Setup
from jobwrapper.job.timestamps import stamp
from jobwrapper.notebook import kernels, server
from jobwrapper.notebook.plan import NotebookPlan

TOKEN_FILE = "lab-token"  # noqa: S105 - a file name, not a token
LOCAL_PORT = 8888


def new_token() -> str:
    """A fresh lab token: ``secrets.token_urlsafe(32)``, without loading hashlib and hmac."""
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode("ascii")


def _write_json(path: str, data: object) -> None:
    write_private_file(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def apply_notebook(plan: NotebookPlan) -> None:
    """Write the jupyter config, the page config, JupyterLab's setting defaults and the
    kernels; create the notebook dir."""
    extension_dir = os.path.join(plan.config_dir, "jupyter_server_config.d")
    lab_dir = os.path.join(plan.config_dir, "labconfig")
    try:
        for directory in (plan.config_dir, extension_dir, lab_dir,
                          *([plan.ipc_dir] if plan.ipc_dir else [])):
            make_private_dir(directory)
        _write_json(os.path.join(plan.config_dir, "jupyter_server_config.json"),
                    plan.jupyter_config)
        _write_json(os.path.join(extension_dir, "jobwrapper.json"), plan.extension_config)
        _write_json(os.path.join(lab_dir, "page_config.json"), plan.page_config)
        _write_json(os.path.join(lab_dir, "default_setting_overrides.json"),
                    plan.setting_overrides)
        kernels.write_kernels(plan.kernels, plan.data_dir)
        os.makedirs(plan.root_dir, mode=0o700, exist_ok=True)
        if plan.sync_manifests:  # the base of the hub's merge: what really arrived
            protocol.write_manifest(plan.root_dir, protocol.MANIFEST_IN)
    except OSError as error:
        raise ServerError(f"{error.filename or plan.config_dir}: cannot write the server's "
                          f"files ({error.strerror}); check the scratch dir") from None


def bind_listener(ip: str, port: int = 0) -> socket.socket:
    """A listening TCP socket on ``ip`` (port 0: the kernel picks a free one)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        hint = ("no interface of this host has that address; in direct mode set "
                "server.direct_address to one it has" if error.errno == errno.EADDRNOTAVAIL
                else "is another server running in this job?")
        raise ServerError(f"cannot listen on {server.host_port(ip, port)} "
                          f"({error.strerror}); {hint}") from None
    sock.set_inheritable(True)
    return sock


def bind_unix_listener(path: str) -> socket.socket:
    """A listening unix socket at ``path`` (mode 0600) in a 0700 directory.

    A leftover socket nobody listens on is replaced; one with a live server behind it
    is an error, as a taken port is.
    """
    try:
        make_private_dir(os.path.dirname(path))
        _remove_stale_socket(path)
    except OSError as error:
        raise ServerError(f"{error.filename or path}: cannot prepare the server's socket "
                          f"({error.strerror}); check the scratch dir") from None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        sock.bind(path)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise ServerError(f"cannot listen on {path} ({error.strerror}); "
                          "is another server running in this job?") from None
    finally:
        os.umask(old_umask)
    sock.set_inheritable(True)
    return sock


def _remove_stale_socket(path: str) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ServerError(f"{path} exists and is not a socket; remove it")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe, \
            contextlib.suppress(OSError):
        probe.connect(path)
        raise ServerError(f"{path}: another server listens there; is another server "
                          "running in this job?")
    os.unlink(path)


def listen(plan: NotebookPlan) -> socket.socket:
    """The server's listening socket: TCP on the plan's address, or its unix socket."""
    return bind_unix_listener(plan.socket_path) if plan.socket_path else bind_listener(plan.ip)


def server_environment(setup: Setup, plan: NotebookPlan, base: Mapping[str, str],
                       secrets: Mapping[str, str], sock: socket.socket) -> dict[str, str]:
    """The server's environment: the job's, the secrets, the socket hand-over."""
    env = setup.environment(dict(base))
    for name in plan.server_unset:
        env.pop(name, None)
    env.update(plan.server_env)
    env.update(secrets)
    # In socket mode the port is only a label ServerApp accepts beside --sock.
    port = (server.SOCKET_MODE_PORT_LABEL if plan.socket_path else sock.getsockname()[1])
    env[protocol.LISTEN_FD] = str(sock.fileno())
    env.pop("JUPYTERHUB_ROOT_DIR", None)  # the notebook dir is the scratch dir's jupyter/
    env.pop(server.SERVER_MODE_ENV, None)  # read by the plan; kernels need not see it
    env.pop(server.SERVER_BIND_ENV, None)  # the same
    env.pop(protocol.TIMESTAMPS_ENV, None)  # our start's timing, not the server's
    if plan.kind == "singleuser":
        env["JUPYTERHUB_SERVICE_URL"] = server.service_url(
            env.get("JUPYTERHUB_SERVICE_URL", ""), server.LOOPBACK if plan.socket_path
            else plan.ip, port)
    if plan.report_to_hub:
        env[protocol.REPORT] = "1"
        env[protocol.REPORT_TIMEOUT] = f"{plan.report_timeout:g}"
    return env


def write_token(private_dir: str, token: str) -> str:
    """Store the lab's token in a 0600 file; returns its path."""
    path = os.path.join(private_dir, TOKEN_FILE)
    write_private_file(path, token + "\n")
    return path


def lab_message(job_id: Optional[str], label: str, port: int | str, token: str,
                token_file: str, show_token: bool, ip: str = server.LOOPBACK,
                slurm_node: Optional[str] = None) -> str:
    """What the person must run on their own machine to reach JupyterLab.

    ``port`` is the server's port, or its unix socket's path in socket mode; ``ip``
    the address the server listens on (the host's own one in direct mode).
    ``slurm_node``: in a Slurm job, the node (ssh to it, where the site allows ssh
    into nodes that run one's jobs: pam_slurm_adopt).
    """
    job = job_id or "JOBID"
    label = label.replace(" · ", ", ")  # plain ASCII: the terminal's locale may not be UTF-8
    if isinstance(port, str):
        where, remote = f"the unix socket {port}", port
    elif ip == server.LOOPBACK:
        where, remote = f"127.0.0.1:{port}", f"localhost:{port}"
    else:
        where = remote = server.host_port(ip, port)
    if slurm_node:
        forward = [f"    ssh -N -L {LOCAL_PORT}:{remote} -J LOGIN-NODE {slurm_node}",
                   "(LOGIN-NODE: your cluster's login host; the node accepts ssh while "
                   "you have a job on it)"]
    else:
        forward = [f'    condor_ssh_to_job -ssh "ssh -N -L {LOCAL_PORT}:{remote}" {job}']
    lines = [
        f"JupyterLab ({label or 'this job'}) is starting on {where}.",
        "On your own machine, run:",
        *forward,
        f"then open http://localhost:{LOCAL_PORT}/lab and log in with the token",
    ]
    if show_token:
        lines.append(f"    {token}")
        lines.append(f"(also in {token_file}, readable only by you).")
    else:
        lines.append(f"in {token_file} (readable only by you; run `cat {token_file}` "
                     "in this job).")
    return "\n".join(lines)


def exec_server(setup: Setup, plan: NotebookPlan, secrets: Mapping[str, str],
                token: Optional[str] = None, out: TextIO = sys.stdout) -> None:
    """Bind, tell the person how to connect (lab), and exec the server."""
    sock = listen(plan)
    env = server_environment(setup, plan, os.environ, secrets, sock)
    if plan.kind == "lab" and token is not None:
        token_file = write_token(setup.private_dir, token)
        # stdout may be the job's log file: the token goes there only if it is a terminal.
        print(lab_message(env.get("JOBWRAPPER_JOB_ID"), plan.label,
                          plan.socket_path or sock.getsockname()[1], token, token_file,
                          out.isatty(), plan.ip,
                          slurm_node=env.get("SLURMD_NODENAME")
                          if env.get("JOBWRAPPER_SCHEDULER") == "slurm" else None), file=out)
    out.flush()
    sys.stderr.flush()
    # Kernels started without a path (REST clients) run in the server's cwd: make it the
    # transferred notebook dir, so that what they write comes back with ~/jupyter.
    with contextlib.suppress(OSError):
        os.chdir(plan.root_dir)
    stamp("exec")
    try:
        os.execvpe(plan.argv[0], list(plan.argv), env)  # noqa: S606 - exec is the point
    except OSError as error:
        sock.close()
        raise ServerError(f"{plan.argv[0]}: cannot start the server ({error.strerror}); "
                          "install jobwrapper[notebook] in the container") from None
