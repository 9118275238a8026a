"""The server commands' work, click-free: read -> plan -> apply -> exec, each once.

Shared by the click commands (cli/notebook.py) and the fast path (cli/fast.py). The
site config is read first and the job's Lmod run started from it (job/early.py);
the rest of the pipeline is loaded while Lmod runs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional

from jobwrapper.job.timestamps import stamp

if TYPE_CHECKING:
    from jobwrapper.config import SiteConfig


def start(kind: str, user_args: tuple[str, ...]) -> None:
    """read -> plan -> apply -> exec, each once (job/pipeline.py)."""
    from jobwrapper.config import load_config
    from jobwrapper.job.early import discard_started, start_lmod_early

    config = load_config(os.environ.get("JOBWRAPPER_CONFIG") or None)  # as pipeline.read
    stamp("config")
    ad_bytes = start_lmod_early(os.environ, config)
    try:
        _start(kind, user_args, config, ad_bytes)
    finally:
        discard_started()  # on errors before the read stage asked for Lmod


def _start(kind: str, user_args: tuple[str, ...], config: SiteConfig,
           ad_bytes: dict[str, bytes]) -> None:
    from jobwrapper.cli import warn
    from jobwrapper.errors import ServerError
    from jobwrapper.job.apply import apply_setup
    from jobwrapper.job.early import discard_started
    from jobwrapper.job.pipeline import apply_planned, read
    from jobwrapper.job.plan import Setup, plan
    from jobwrapper.notebook.launch import apply_notebook, exec_server, new_token
    from jobwrapper.notebook.plan import NotebookPlan, plan_notebook, read_notebook
    from jobwrapper.notebook.secrets import read_hub_secrets, secrets_path

    stamp("imports")
    context = read(config=config, ad_bytes=ad_bytes)
    hub_secrets = {}
    if kind == "singleuser":
        path = secrets_path(context.scratch_dir, context.environ)
        hub_secrets = read_hub_secrets(path) if path else {}
    inputs = read_notebook(context, hub_secrets)
    discard_started()  # a guess that was wrong: nothing of it reaches the server
    token = new_token() if kind == "lab" else None
    uid = os.getuid()

    def planned(private_dir: Optional[str] = None) -> tuple[Setup, NotebookPlan]:
        return plan_notebook(context, plan(context, uid, private_dir=private_dir), inputs,
                             kind, user_args, token)

    def apply(both: tuple[Setup, NotebookPlan]) -> None:
        """The job's dirs and caches (the env cache then holds the modules and venv too:
        login shells get the same), then the server's files."""
        apply_setup(both[0])
        apply_notebook(both[1])

    first = planned()
    if kind == "lab" and os.geteuid() == 0 and "--allow-root" not in user_args:
        # jupyter would refuse only after we told the person it is starting
        raise ServerError("JupyterLab does not run as root: run jobwrapper lab as the "
                          "job's user (or add -- --allow-root if you really mean it)")
    setup, notebook = apply_planned(context, first, planned, apply,
                                    lambda both: both[0].private_dir)
    stamp("kernels")
    warn(setup.warnings)
    exec_server(setup, notebook, hub_secrets, token)
