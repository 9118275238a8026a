"""``jobwrapper health``: print the node's health as STARTD_CRON output.

Exit status 0 whenever the attributes were printed, healthy or not: the startd
reads stdout, and the verdict is in HEALTHY_FOR_INTERACTIVE_USE. A broken site
config is exit 3 with one line on stderr and nothing on stdout.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

import click

from jobwrapper.config import config_path, load_config
from jobwrapper.health import check_node, startd_cron_output, thresholds_from_table
from jobwrapper.health.thresholds import HealthThresholds


def site_thresholds() -> HealthThresholds:
    """The ``[health]`` table of the site config, validated; defaults without a file."""
    site = load_config()
    return thresholds_from_table(site.sections.get("health", {}), site.path or config_path())


def _overrides(**options: Any) -> dict[str, Any]:
    return {name: value for name, value in options.items() if value is not None}


@click.command("health")
@click.option(
    "--proc",
    "proc",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    default=Path("/proc"),
    show_default=True,
    help="Directory to read stat, vmstat, loadavg, meminfo and cpuinfo from.",
)
@click.option(
    "--window",
    "window_seconds",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    default=None,
    help="Seconds between the two readings of stat and vmstat [health.window_seconds].",
)
@click.option(
    "--state-file",
    "state_file",
    metavar="PATH",
    default=None,
    help="The admin state file [health.state_file].",
)
@click.option(
    "--reboot-required-file",
    "reboot_required_file",
    metavar="PATH",
    default=None,
    help="File whose existence means a reboot is required [health.reboot_required_file].",
)
@click.option(
    "--update/--no-update",
    "update_collector",
    default=True,
    show_default=True,
    help="End with '- update:true' (send to the collector now) or a plain '-'.",
)
def health_command(
    proc: Path,
    window_seconds: Optional[float],
    state_file: Optional[str],
    reboot_required_file: Optional[str],
    update_collector: bool,
) -> None:
    """Check I/O wait, swapping, load, memory, the admin state file and pending reboots.

    Prints ClassAd attributes for STARTD_CRON, HEALTHY_FOR_INTERACTIVE_USE first.
    Thresholds come from the [health] table of the site config; see docs/health.md.
    """
    limits = dataclasses.replace(
        site_thresholds(),
        **_overrides(
            window_seconds=window_seconds,
            state_file=state_file,
            reboot_required_file=reboot_required_file,
        ),
    )
    click.echo(startd_cron_output(check_node(limits, proc)), nl=False)
