"""Errors for people: each carries a one-line message and an exit code.

Exceptions are raised inside; the CLI (the edge) prints ``jobwrapper: <message>``
on one line and exits with the code. Exit codes are documented in docs/cli.md.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2  # click's own code for bad command lines
EXIT_CONFIG = 3  # the site config is wrong
EXIT_JOB = 4  # the job's ads or scratch dir cannot be used at all
EXIT_ENVIRONMENT = 5  # Lmod module, CVMFS environment or kernel problem
EXIT_SERVER = 6  # the server could not start or could not report to the hub
EXIT_NOT_EXECUTABLE = 126  # run: the command exists but cannot be executed
EXIT_NOT_FOUND = 127  # run: the command was not found


class JobwrapperError(Exception):
    """Base class: ``str(error)`` is the one-line message shown to people."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()) if "\n" in message else message)


class ConfigError(JobwrapperError):
    """The site config (TOML) has an unknown key, a wrong type or bad syntax."""

    exit_code = EXIT_CONFIG


class JobError(JobwrapperError):
    """The job cannot be set up from what HTCondor gave it."""

    exit_code = EXIT_JOB


class EnvironmentSetupError(JobwrapperError):
    """An Lmod module, a CVMFS environment or a kernel is missing or broken."""

    exit_code = EXIT_ENVIRONMENT


class ServerError(JobwrapperError):
    """The notebook server could not be started or reported to the hub."""

    exit_code = EXIT_SERVER
