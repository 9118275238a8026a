"""The hub raises its open-file limit at start (jobwrapper/hub/hubprocess/fdlimit.py): with
systemd's soft limit of 1,024, 400 notebooks starting at once failed with "Too many
open files" (bench/scale --users 400 --hub-fd-limit 1024)."""

from __future__ import annotations

import json
import subprocess
import sys

from jobwrapper import compat

PROBE = """
import json, resource
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
from jobwrapper.hub.hubprocess import fdlimit
result = fdlimit.raise_open_file_limit()
print(json.dumps([result, resource.getrlimit(resource.RLIMIT_NOFILE), fdlimit.CEILING]))
"""


def test_the_soft_limit_is_raised_to_the_hard_limit_within_the_ceiling():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True).stdout
    (before, after), (soft, hard), ceiling = json.loads(out)
    assert before == 256
    assert soft == after == min(hard, ceiling) and soft > 1024


def test_a_higher_soft_limit_is_never_lowered():
    probe = PROBE.replace("(256, hard)", "(hard, hard)").replace(
        "from jobwrapper.hub.hubprocess import fdlimit",
        "from jobwrapper.hub.hubprocess import fdlimit\nfdlimit.CEILING = 100")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    (before, after), (soft, hard), _ = json.loads(out)
    assert before == after == soft == hard


def test_loading_the_spawner_raises_it_at_hub_start():
    import jobwrapper.hub.spawner  # noqa: F401
    from jobwrapper.hub.hubprocess.fdlimit import raise_open_file_limit

    assert raise_open_file_limit in compat._START_CHECKS
