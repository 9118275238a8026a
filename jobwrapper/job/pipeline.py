"""read -> plan -> apply, shared by every command (they differ in their last stage).

One read, one plan, one apply: a command reads once (``read``, and the notebook
commands their own inputs), plans once, and applies once. The only second plan is
the documented fallback: when the scratch dir cannot take the private dir, the same
inputs are planned again with a private dir in /tmp and applied there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Callable, Optional, TypeVar

from jobwrapper.config import SiteConfig, load_config
from jobwrapper.errors import JobError
from jobwrapper.job.apply import apply_setup
from jobwrapper.job.context import JobContext, read_context
from jobwrapper.job.plan import Setup, fallback_root, plan
from jobwrapper.job.timestamps import stamp

Planned = TypeVar("Planned")


def read(environ: Optional[Mapping[str, str]] = None,
         config: Optional[SiteConfig] = None,
         ad_bytes: Optional[Mapping[str, bytes]] = None) -> JobContext:
    """The read stage, from this process's environment by default. ``config`` and
    ``ad_bytes`` (ad files by path): what was read already (job/early.py), as each
    file is read once."""
    environ = os.environ if environ is None else environ
    if config is None:
        config = load_config(environ.get("JOBWRAPPER_CONFIG") or None)
        stamp("config")
    context = read_context(environ, config, ad_bytes=ad_bytes)
    stamp("ads")
    return context


def apply_planned(context: JobContext, planned: Planned,
                  replan: Callable[[str], Planned], apply: Callable[[Planned], None],
                  private_dir: Callable[[Planned], str]) -> Planned:
    """Apply `planned`; if the private dir cannot be made or written, plan again with
    the fallback dir in /tmp (``replan(fallback)``), say so in a warning, apply that."""
    try:
        apply(planned)
        return planned
    except JobError as error:
        fallback = fallback_root(os.getuid(), context.job_id)
        if private_dir(planned) == fallback:
            raise
        warning = f"{error}; using {fallback} instead"
        planned = replan(fallback)
        apply(planned)
        return _with_warning(planned, warning)


def _with_warning(planned: Planned, warning: str) -> Planned:
    if isinstance(planned, Setup):
        return replace(planned, warnings=(*planned.warnings, warning))  # type: ignore[return-value]
    if isinstance(planned, tuple) and planned and isinstance(planned[0], Setup):
        setup = replace(planned[0], warnings=(*planned[0].warnings, warning))
        return (setup, *planned[1:])  # type: ignore[return-value]
    return planned


def prepare(context: JobContext, write_cache: bool = True,
            load_environment: Optional[str] = None) -> Setup:
    """Plan and apply the job's setup (``env``, ``run``, ``info``, login shells).

    ``load_environment`` adds the job's Lmod modules and virtualenv before the cache
    is written: "strict" (a broken environment is an error, for batch jobs) or "warn"
    (a warning, for login shells, which must still come up). Lmod runs once, also
    when the private dir falls back: its result does not depend on where that is.
    """
    uid = os.getuid()
    environment, problem = None, None
    if load_environment is not None:
        from jobwrapper.job import environment as job_environment  # Lmod: only when asked

        environment, problem = job_environment.load_environment(
            context, strict=load_environment == "strict")

    def planned(private_dir: Optional[str] = None) -> Setup:
        setup = plan(context, uid, private_dir=private_dir)
        if environment is not None:
            from jobwrapper.job.environment import add_environment

            setup = add_environment(setup, environment)
        if problem:
            setup = replace(setup, warnings=(*setup.warnings, problem))
        return setup

    return apply_planned(context, planned(), planned,
                         lambda setup: apply_setup(setup, write_cache),
                         lambda setup: setup.private_dir)
