"""docs/health.md stays true: every key documented, the START expression does its job."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from health_fixtures import classad

from jobwrapper.health import key_help

DOCS = Path(__file__).resolve().parents[2] / "docs" / "health.md"


def documented_condor_config() -> dict[str, str]:
    """The macros of the HTCondor snippet in docs/health.md, continuation lines joined."""
    section = DOCS.read_text().split("## HTCondor configuration", 1)[1]
    lines = [line.strip() for line in section.splitlines() if line.startswith("    ")]
    text = "\n".join(line for line in lines if not line.startswith("#"))
    text = text.replace("\\\n", " ")
    return dict(
        (name, value.strip())
        for name, value in re.findall(r"^([A-Z_]+)\s*=\s*(.*)$", text, flags=re.M)
    )


def documented_start_expression() -> str:
    config = documented_condor_config()
    macros = {**config, "START": "true"}
    start = config["START"]
    while "$(" in start:
        start = re.sub(r"\$\((\w+)\)", lambda match: macros[match.group(1)], start)
    return start


def test_every_health_key_is_documented():
    text = DOCS.read_text()
    missing = [key for key in key_help() if f"| `{key}` |" not in text]
    assert missing == []


def test_documented_cron_job_runs_jobwrapper_health_periodically():
    config = documented_condor_config()
    assert "HEALTH" in config["STARTD_CRON_JOBLIST"].split()
    assert config["STARTD_CRON_HEALTH_ARGS"] == "health"
    assert config["STARTD_CRON_HEALTH_MODE"] == "Periodic"


BATCH = {}
INTERACTIVE = {"InteractiveJob": True}
NOTEBOOK = {"JupyterEnvironment": "stable"}
FLAGGED = {"JobwrapperInteractive": True}


def machine(healthy: object, checked_seconds_ago: int) -> dict:
    return {
        "HEALTHY_FOR_INTERACTIVE_USE": healthy,
        "HEALTH_CHECKED_AT": int(time.time()) - checked_seconds_ago,
    }


@pytest.mark.parametrize(
    ("machine_ad", "job_ad", "starts"),
    [
        (machine(True, 60), INTERACTIVE, True),
        (machine(True, 60), NOTEBOOK, True),
        (machine(True, 60), FLAGGED, True),
        (machine(False, 60), INTERACTIVE, False),
        (machine(False, 60), NOTEBOOK, False),
        (machine(False, 60), FLAGGED, False),
        (machine(False, 60), BATCH, True),
        (machine(True, 3600), NOTEBOOK, False),  # stale result
        ({}, NOTEBOOK, False),  # never checked
        ({}, BATCH, True),
    ],
)
def test_documented_start_expression_keeps_interactive_jobs_on_healthy_nodes(
    machine_ad, job_ad, starts
):
    start = classad.ExprTree(documented_start_expression())
    assert start.eval(classad.ClassAd(machine_ad), classad.ClassAd(job_ad)) is starts
