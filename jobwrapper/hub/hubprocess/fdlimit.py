"""The hub's open-file limit, raised at start: a thousand users need more than 1,024.

systemd starts services with a soft RLIMIT_NOFILE of 1,024 (and a hard limit of
524,288); JupyterHub leaves it there. Each notebook starting holds several
descriptors in the hub (the REST request, its progress stream, the pipes of a batch
command, the tunnel's stderr), so with some 200 notebooks starting at once the hub
ran out ("Too many open files", bench/scale --hub-fd-limit 1024): every spawn then
failed. At start the hub raises its soft limit to the hard limit (at most
`CEILING`), as servers do; a hard limit below what is needed is the admin's to raise
(LimitNOFILE= in the hub's unit).
"""

from __future__ import annotations

import resource
from typing import Any

from jobwrapper import compat

CEILING = 65536
"""Not above: some programs the hub runs close every possible descriptor one by one."""


def raise_open_file_limit(app: Any = None) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit (at most CEILING); never lower it.
    Returns (soft before, soft after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CEILING if hard == resource.RLIM_INFINITY else min(hard, CEILING)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            return soft, soft
        if app is not None:
            app.log.info("Raised the hub's open-file limit from %d to %d", soft, wanted)
        return soft, wanted
    return soft, soft


compat.run_before_spawners(raise_open_file_limit)
