"""Lmod started early: the server commands' Lmod run begins before the ads are parsed.

``lmod python load MODULES`` takes ~20 ms of its own, and what it gets (the command,
the modules, the environment with the site's module path) follows from the site
config, our environment and two job ad attributes: the environment's name and the
container OS. So the server commands read those two from the job ad with the small
literal parser and start Lmod at once (job/modules.py ``start_lmod``); it runs on
another core while the pipeline's modules and the classad bindings load and the ads
are parsed for real. The real read stage (job/environment.py) then asks for its Lmod
run as always: it gets the early process only if that is exactly the same command in
exactly the same environment, and otherwise a new one. A wrong guess costs time,
never a different result; ``discard_started`` ends what was not used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Optional

from jobwrapper.config import SiteConfig
from jobwrapper.job.classad import AdFileError, read_ad_bytes, read_ad_file
from jobwrapper.job.modules import discard_started, find_lmod, module_environ, start_lmod
from jobwrapper.protocol import SAFE_NAME

__all__ = ["discard_started", "start_lmod_early"]


def guess_environment(environ: Mapping[str, str], config: SiteConfig
                      ) -> tuple[str, Optional[str], dict[str, bytes]]:
    """(environment name, container OS) as the read stage will most likely find them,
    and the job ad's bytes by path, for the read stage (each file is read once)."""
    path = environ.get("_CONDOR_JOB_AD")
    scratch_dir = environ.get("_CONDOR_SCRATCH_DIR") or None
    if not path and scratch_dir:  # where context._load_ad looks too
        path = os.path.join(scratch_dir, ".job.ad")
    name, container_os = config.job.default_environment, None
    if not path:
        return name, container_os, {}
    try:
        data = read_ad_bytes(path)
        ad, _ = read_ad_file(path, data=data)
    except AdFileError:
        return name, container_os, {}
    value = ad.get(config.job.environment_attribute)
    if isinstance(value, str) and SAFE_NAME.match(value):
        name = value
    value = ad.get(config.job.container_attribute)
    return name, value if isinstance(value, str) else None, {path: data}


def start_lmod_early(environ: Mapping[str, str], config: SiteConfig) -> dict[str, bytes]:
    """Start the Lmod run the job's environment will most likely need (if any); returns
    the ad files read for the guess, by path (``read_context``'s ``ad_bytes``)."""
    name, container_os, ad_bytes = guess_environment(environ, config)
    spec = config.environment(name, container_os)
    lmod_cmd = find_lmod(environ, config.lmod.lmod_cmd)
    if spec is not None and spec.modules and lmod_cmd is not None:
        start_lmod(lmod_cmd, ["load", *spec.modules],
                   module_environ(environ, lmod_cmd, config.lmod.modulepath))
    return ad_bytes
