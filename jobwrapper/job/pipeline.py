"""read -> plan -> apply, shared by every command (they differ in their last stage)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Optional

from jobwrapper.config import load_config
from jobwrapper.errors import JobError
from jobwrapper.job.apply import apply_setup
from jobwrapper.job.context import JobContext, read_context
from jobwrapper.job.plan import Setup, fallback_root, plan

if TYPE_CHECKING:  # the notebook modules are imported only when an environment is loaded
    from jobwrapper.notebook.plan import EnvironmentChanges


def read(environ: Optional[Mapping[str, str]] = None) -> JobContext:
    """The read stage, from this process's environment by default."""
    environ = os.environ if environ is None else environ
    return read_context(environ, load_config(environ.get("JOBWRAPPER_CONFIG") or None))


def _planned(context: JobContext, uid: int, environment: Optional[EnvironmentChanges],
             problem: Optional[str], private_dir: Optional[str] = None) -> Setup:
    setup = plan(context, uid, private_dir=private_dir)
    if environment is not None:
        from jobwrapper.notebook.plan import add_environment

        setup = add_environment(setup, environment)
    if problem:
        setup = replace(setup, warnings=(*setup.warnings, problem))
    return setup


def prepare(context: JobContext, write_cache: bool = True,
            load_environment: Optional[str] = None) -> Setup:
    """Plan and apply; falls back to a private dir in /tmp if the scratch dir is unusable.

    ``load_environment`` adds the job's Lmod modules and virtualenv before the cache
    is written: "strict" (a broken environment is an error, for batch jobs) or "warn"
    (a warning, for login shells, which must still come up). Lmod runs once, also
    when the private dir falls back: its result does not depend on where that is.
    """
    uid = os.getuid()
    environment, problem = None, None
    if load_environment is not None:
        from jobwrapper.notebook import plan as notebook  # Lmod and venv: only when asked

        environment, problem = notebook.load_environment(
            context, strict=load_environment == "strict")
    setup = _planned(context, uid, environment, problem)
    try:
        apply_setup(setup, write_cache)
    except JobError as error:
        fallback = fallback_root(uid, context.job_id)
        if setup.private_dir == fallback:
            raise
        setup = _planned(context, uid, environment, problem, private_dir=fallback)
        warning = f"{error}; using {fallback} instead"
        setup = replace(setup, warnings=(*setup.warnings, warning))
        apply_setup(setup, write_cache)
    return setup
