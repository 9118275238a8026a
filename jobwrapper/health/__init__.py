"""Node health for interactive use: ``jobwrapper health``, run by the startd as STARTD_CRON.

Read (proc, admin), judge (report), write (classad_text). docs/health.md describes
the checks, the attributes, the ``[health]`` keys and the HTCondor configuration.
"""

from __future__ import annotations

from jobwrapper.health.classad_text import startd_cron_output
from jobwrapper.health.report import HealthReport, check_node
from jobwrapper.health.thresholds import HealthThresholds, key_help, thresholds_from_table

__all__ = [
    "HealthReport",
    "HealthThresholds",
    "check_node",
    "key_help",
    "startd_cron_output",
    "thresholds_from_table",
]
