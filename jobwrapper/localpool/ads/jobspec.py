"""From submit commands to a job: the `JobSpec` the shadow runs and the queue's job ad.

Submit command names are matched as HTCondor does, case-insensitively and also in
their ClassAd spelling (`RequestMemory` for `request_memory`, `ShouldTransferFiles`
for `should_transfer_files`), which is what batchspawner's template uses. Empty values
count as unset, as in condor_submit.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import os
import re
from pathlib import Path
from typing import Any

from jobwrapper.localpool.ads.quoting import QuotingError, parse_arguments, parse_environment
from jobwrapper.localpool.commands.submit_file import (
    EXPRESSION_COMMANDS,
    SubmitError,
    SubmitFile,
    check_expression,
)

_MEMORY_UNITS = {"": 1, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
_DISK_UNITS = {"": 1, "K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}
_TRANSFER_MODES = {"YES": "YES", "TRUE": "YES", "NO": "NO", "FALSE": "NO", "IF_NEEDED": "IF_NEEDED"}
_WHEN_TO_TRANSFER = ("ON_EXIT", "ON_EXIT_OR_EVICT", "ON_SUCCESS")


@dataclasses.dataclass
class JobSpec:
    """What the shadow needs to run one job (stored next to the ad, not in it)."""

    executable: str
    arguments: list[str]
    environment: dict[str, str]
    iwd: str
    remote_iwd: str
    transfer_files: bool
    transfer_input: list[str]
    transfer_output: list[str] | None
    when_to_transfer_output: str
    output: str
    error: str
    user_log: str
    stream_output: bool
    stream_error: bool
    request_cpus: int
    request_memory: int
    request_disk: int
    request_gpus: int
    periodic_remove: str
    allowed_execute_duration: int | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> JobSpec:
        return cls(**raw)


def command(commands: dict[str, str], name: str) -> str:
    """A submit command by its submit name, or by its ClassAd spelling; '' when unset."""
    wanted = name.replace("_", "")
    for key, value in commands.items():
        if key.replace("_", "") == wanted and value.strip():
            return value.strip()
    return ""


def parse_bool(name: str, value: str, default: bool) -> bool:
    """HTCondor booleans: true/false, yes/no, 1/0 (case-insensitive)."""
    if not value:
        return default
    lowered = value.lower()
    if lowered in ("true", "yes", "t", "y", "1"):
        return True
    if lowered in ("false", "no", "f", "n", "0"):
        return False
    raise SubmitError(f"{name} = {value} is not a boolean; use True or False")


def parse_quantity(name: str, value: str, units: dict[str, float], default: int) -> int:
    """A request with optional unit suffix (K, M, G, T, optionally followed by B)."""
    if not value:
        return default
    match = re.fullmatch(r"(\d+(?:\.\d*)?)\s*([KMGT]?)B?", value.strip(), re.IGNORECASE)
    if not match:
        raise SubmitError(
            f"{name} = {value} is not a number with an optional unit (e.g. 2048, 2GB); "
            "expressions are not supported by this local pool"
        )
    return max(1, math.ceil(float(match.group(1)) * units[match.group(2).upper()]))


def parse_count(name: str, value: str, default: int) -> int:
    """A whole number request (cpus, gpus)."""
    if not value:
        return default
    if not value.isdigit():
        raise SubmitError(f"{name} = {value} is not a whole number")
    return int(value)


def split_list(value: str) -> list[str]:
    """A comma- (or space-) separated file list."""
    return [item for item in re.split(r"[,\s]+", value) if item]


def submitter_environment(getenv: str, environ: dict[str, str]) -> dict[str, str]:
    """The submitter's variables that `getenv` copies: all for True, else the listed names."""
    if not getenv:
        return {}
    try:
        return dict(environ) if parse_bool("getenv", getenv, False) else {}
    except SubmitError:
        patterns = split_list(getenv)
        return {
            name: value
            for name, value in environ.items()
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
        }


def _resolve(base: Path, path: str) -> Path:
    return Path(os.path.normpath(base / os.path.expanduser(path)))


def _executable(commands: dict[str, str], iwd: Path) -> str:
    """The executable's path. condor_submit checks it only when it is transferred (the
    default); with transfer_executable = false it must exist on the execute side, and a
    missing one puts the job on hold when it starts."""
    executable = command(commands, "executable")
    if not executable:
        raise SubmitError("No 'executable' parameter was provided")
    path = _resolve(iwd, executable)
    transferred = parse_bool(
        "transfer_executable", command(commands, "transfer_executable"), True)
    if transferred and not os.access(path, os.F_OK):
        raise SubmitError(
            f"Can't access executable file {path}: No such file or directory", blank=True)
    return str(path)


def _check_expressions(submit: SubmitFile) -> None:
    """The expressions condor_submit parses: custom attributes and the policy commands."""
    for name, text in submit.custom.items():
        check_expression(name, text)
    for name, attribute in EXPRESSION_COMMANDS.items():
        text = command(submit.commands, name)
        if text:
            check_expression(attribute, text)


def _transfer(commands: dict[str, str], iwd: Path) -> tuple[bool, str, list[str]]:
    mode_text = command(commands, "should_transfer_files") or "IF_NEEDED"
    mode = _TRANSFER_MODES.get(mode_text.upper())
    if mode is None:
        raise SubmitError(
            f"invalid value ({mode_text}) for ShouldTransferFiles. Please either specify \n"
            "YES, NO, or IF_NEEDED and try again. ", blank=True)
    inputs = split_list(command(commands, "transfer_input_files"))
    # The local pool shares the submit side's file system, so IF_NEEDED means no transfer.
    transfer = mode == "YES"
    if inputs and mode == "NO":
        raise SubmitError("transfer_input_files is set but should_transfer_files = NO")
    for item in inputs:
        if "://" in item:
            raise SubmitError(f"transfer_input_files: URL {item} is not supported by this pool")
    # Missing input files are not checked here, as by condor_submit: the job is held
    # when its input is transferred.
    return transfer, mode, inputs


def build_spec(submit: SubmitFile, cwd: Path, environ: dict[str, str]) -> tuple[JobSpec, str]:
    """The JobSpec of a parsed submit file and its ShouldTransferFiles value."""
    commands = submit.commands
    iwd = _resolve(cwd, command(commands, "initialdir") or ".")
    if not iwd.is_dir():
        raise SubmitError(f"No such directory: {iwd}")
    _check_expressions(submit)
    transfer, mode, inputs = _transfer(commands, iwd)
    when_text = command(commands, "when_to_transfer_output") or "ON_EXIT"
    when = when_text.upper()
    if when not in _WHEN_TO_TRANSFER:
        raise SubmitError(
            f"invalid value ({when_text}) for WhenToTransferOutput. Please either specify \n"
            "ON_EXIT, or ON_EXIT_OR_EVICT and try again. ", blank=True)
    outputs_text = command(commands, "transfer_output_files")
    try:
        arguments = parse_arguments(command(commands, "arguments"))[0]
        environment = submitter_environment(command(commands, "getenv"), environ)
        environment.update(parse_environment(command(commands, "environment")))
    except QuotingError as error:
        raise SubmitError(f"arguments/environment: {error}") from None
    duration = command(commands, "allowed_execute_duration")
    return JobSpec(
        executable=_executable(commands, iwd),
        arguments=arguments,
        environment=environment,
        iwd=str(iwd),
        remote_iwd=command(commands, "remote_initialdir"),
        transfer_files=transfer,
        transfer_input=inputs,
        transfer_output=split_list(outputs_text) if outputs_text else None,
        when_to_transfer_output=when,
        output=command(commands, "output"),
        error=command(commands, "error"),
        user_log=str(_resolve(iwd, command(commands, "log"))) if command(commands, "log") else "",
        stream_output=parse_bool("stream_output", command(commands, "stream_output"), False),
        stream_error=parse_bool("stream_error", command(commands, "stream_error"), False),
        request_cpus=parse_count("request_cpus", command(commands, "request_cpus"), 1),
        request_memory=parse_quantity(
            "request_memory", command(commands, "request_memory"), _MEMORY_UNITS, 1
        ),
        request_disk=parse_quantity(
            "request_disk", command(commands, "request_disk"), _DISK_UNITS, 1
        ),
        request_gpus=parse_count("request_gpus", command(commands, "request_gpus"), 0),
        periodic_remove=command(commands, "periodic_remove"),
        allowed_execute_duration=parse_count("allowed_execute_duration", duration, 0) or None,
    ), mode
