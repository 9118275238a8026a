"""batchspawner's settings a site may already have: honoured, or refused at hub start.

JobwrapperSpawner renders its own submit template, so batchspawner's template
settings would be silently ignored. Instead each one is either honoured with the same
meaning or refused with one line that says what to use.

Honoured as the site's defaults of a spawn (the form's defaults win with the form on):
  req_nprocs -> request_cpus, req_memory -> request_memory (MB, or with a unit: "2 GB"),
  req_ngpus -> request_gpus, req_runtime -> +MaxRuntime ("6h", "90m", "HH:MM:SS").
Refused: everything that changes the job's description or command another way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Trait -> what to use instead.
REFUSED = {
    "batch_script": "c.JobwrapperSpawner.submit_template (a file; docs/hub.md)",
    "batchspawner_singleuser_cmd": "c.JobwrapperSpawner.jobwrapper_path and singleuser_args",
    "req_queue": "a line in the submit template (c.JobwrapperSpawner.submit_template)",
    "req_host": "a requirements line in the submit template",
    "req_partition": "a line in the submit template",
    "req_account": "accounting_group in the submit template",
    "req_options": "lines in the submit template",
    "req_prologue": "the site config's environments (Lmod modules, venv) in the job",
    "req_epilogue": "the site config of the job (docs/config.md)",
    "req_keepvars": "c.JobwrapperSpawner.job_environment_allow",
    "req_keepvars_extra": "c.JobwrapperSpawner.job_environment_allow",
}
# Trait -> the key of default_submit_lines() it fills.
HONOURED = {"req_nprocs": "cpus", "req_memory": "memory_mb", "req_ngpus": "gpus",
            "req_runtime": "runtime_limit"}
# With the form on, its own defaults are the site's defaults.
FORM_INSTEAD = {"req_nprocs": "c.ResourceForm.default_cpus",
                "req_memory": "c.ResourceForm.default_memory_mb",
                "req_ngpus": "the form (GPUs start at 0; c.ResourceForm.max_gpus)",
                "req_runtime": "c.ResourceForm.default_runtime_hours"}
# The sections a site may have used for these traits (batchspawner's docs use several).
SECTIONS = ("JobwrapperSpawner", "CondorSpawner", "BatchSpawnerBase", "Spawner")

DEFAULT_MEMORY = "2048"  # MB: a server, a kernel and room to work (docs/hub.md)
DEFAULT_NPROCS = "1"

_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)i?b?\s*\Z", re.IGNORECASE)
_UNITS_MB = {"k": 1 / 1024, "": 1, "m": 1, "g": 1024, "t": 1024 * 1024}
_CLOCK = re.compile(r"\s*(?:([0-9]+)-)?([0-9]{1,3}):([0-9]{2})(?::([0-9]{2}))?\s*\Z")
_DURATION = re.compile(r"\s*([0-9]+)\s*([smhd])\s*\Z", re.IGNORECASE)
_DURATION_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class InheritedSettingError(ValueError):
    """A batchspawner setting jobwrapper cannot honour; the message is one line."""


def configured(config: Mapping[str, Any], name: str) -> bool:
    """Whether the hub's config sets `name` in any of the spawner's sections."""
    return any(section in config and name in config[section] for section in SECTIONS)


def memory_mb(text: str) -> int:
    """HTCondor's request_memory: MB, or a number with K, M, G or T (and B)."""
    match = _SIZE.match(text)
    if not match:
        raise InheritedSettingError(
            f"req_memory = {text!r} is not a size: write MB (2048) or a unit (2 GB)")
    value = float(match.group(1)) * _UNITS_MB[match.group(2).lower()]
    if value < 1:
        raise InheritedSettingError(f"req_memory = {text!r} is less than 1 MB")
    return int(value)


def runtime_seconds(text: str) -> int:
    """batchspawner's req_runtime: [D-]HH:MM[:SS], or a number with s, m, h or d."""
    clock = _CLOCK.match(text)
    if clock:
        days, hours, minutes, seconds = (int(part or 0) for part in clock.groups())
        total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    else:
        duration = _DURATION.match(text)
        if not duration:
            raise InheritedSettingError(
                f"req_runtime = {text!r} is not a duration: write 6h, 90m or HH:MM:SS")
        total = int(duration.group(1)) * _DURATION_S[duration.group(2).lower()]
    if total < 1:
        raise InheritedSettingError(f"req_runtime = {text!r} is not a positive duration")
    return total


def _count(name: str, text: str) -> int:
    if not text.strip().isdigit():
        raise InheritedSettingError(f"{name} = {text!r} is not a whole number")
    return int(text)


def problem(config: Mapping[str, Any], resource_form: bool,
            values: Mapping[str, str]) -> str | None:
    """The first inherited setting the hub must refuse, as one line; None if all fit.

    `values` are the traits' current values (the honoured ones are checked too)."""
    for name, instead in REFUSED.items():
        if configured(config, name):
            return (f"c.JobwrapperSpawner.{name} (batchspawner) is not used by "
                    f"jobwrapper's spawner and would be ignored: use {instead} instead")
    for name in HONOURED:
        if not configured(config, name):
            continue
        if resource_form:
            return (f"c.JobwrapperSpawner.{name} does not apply with resource_form = True: "
                    f"use {FORM_INSTEAD[name]}")
        try:
            site_defaults({name: values.get(name, "")})
        except InheritedSettingError as error:
            return f"c.JobwrapperSpawner.{error}"
    return None


def site_defaults(values: Mapping[str, str]) -> dict[str, int]:
    """default_submit_lines() options from the req_* values that are set."""
    defaults: dict[str, int] = {}
    for name, key in HONOURED.items():
        text = str(values.get(name) or "").strip()
        if not text:
            continue
        if name == "req_memory":
            defaults[key] = memory_mb(text)
        elif name == "req_runtime":
            defaults[key] = runtime_seconds(text)
        else:
            defaults[key] = _count(name, text)
    if defaults.get("gpus") == 0:
        del defaults["gpus"]
    return defaults
