"""read -> plan -> apply, shared by every command (they differ in their last stage)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Optional

from jobwrapper.apply import apply_setup
from jobwrapper.config import load_config
from jobwrapper.context import JobContext, read_context
from jobwrapper.errors import JobError
from jobwrapper.plan import Setup, fallback_root, plan


def read(environ: Optional[Mapping[str, str]] = None) -> JobContext:
    """The read stage, from this process's environment by default."""
    environ = os.environ if environ is None else environ
    return read_context(environ, load_config(environ.get("JOBWRAPPER_CONFIG") or None))


def _planned(context: JobContext, uid: int, load_environment: Optional[str],
             private_dir: Optional[str] = None) -> Setup:
    setup = plan(context, uid, private_dir=private_dir)
    if load_environment is None:
        return setup
    from jobwrapper.notebook import with_environment  # Lmod and venv: only when asked

    setup, problem = with_environment(context, setup, strict=load_environment == "strict")
    if problem:
        setup = replace(setup, warnings=(*setup.warnings, problem))
    return setup


def prepare(context: JobContext, write_cache: bool = True,
            load_environment: Optional[str] = None) -> Setup:
    """Plan and apply; falls back to a private dir in /tmp if the scratch dir is unusable.

    ``load_environment`` adds the job's Lmod modules and virtualenv before the cache
    is written: "strict" (a broken environment is an error, for batch jobs) or "warn"
    (a warning, for login shells, which must still come up).
    """
    uid = os.getuid()
    setup = _planned(context, uid, load_environment)
    try:
        apply_setup(setup, write_cache)
    except JobError as error:
        fallback = fallback_root(uid, context.job_id)
        if setup.private_dir == fallback:
            raise
        setup = _planned(context, uid, load_environment, private_dir=fallback)
        warning = f"{error}; using {fallback} instead"
        setup = replace(setup, warnings=(*setup.warnings, warning))
        apply_setup(setup, write_cache)
    return setup
