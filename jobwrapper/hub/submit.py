"""The notebook job's submit description: quoting, validation and template rendering.

Everything that reaches the submit description passes through one of the quoting
functions here, and the rendered text is checked once more line by line, so a value
with a quote or a newline can never add a submit command (`getenv`, a second
`executable`, ...). The template is a file (`templates/notebook.sub`) with `{name}`
placeholders; form options become submit lines through a function the hub config can
replace (`JobwrapperSpawner.options_to_submit_lines`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jobwrapper.protocol import SAFE_NAME

TEMPLATE_DIR = Path(__file__).parent / "templates"
DEFAULT_TEMPLATE = TEMPLATE_DIR / "notebook.sub"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SAFE_WORD = SAFE_NAME  # protocol.py: the one safe-name rule
# Paths go unquoted into the submit description (and into comma-separated lists):
# no whitespace, commas, quotes, `$` (macro expansion) or control characters.
_SAFE_PATH = re.compile(r"[A-Za-z0-9._+/@%=:~-]+\Z")
_OPTION_LINE = re.compile(r"(\+?[A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*(\S[^\r\n]*)\Z")

# Submit commands the template owns. An option line that sets one is refused: the form
# may ask for resources, never change what runs, where, with which environment or files.
RESERVED_COMMANDS = frozenset(
    name.lower()
    for name in (
        "universe",
        "executable",
        "arguments",
        "args",
        "transfer_executable",
        "initialdir",
        "iwd",
        "environment",
        "env",
        "getenv",
        "should_transfer_files",
        "when_to_transfer_output",
        "+SpoolOnEvict",
        "transfer_input_files",
        "transfer_output_files",
        "transfer_output_remaps",
        "output",
        "error",
        "log",
        "input",
        "+JupyterHubUser",
        "+JupyterHubServer",
        "queue",
        "include",
        "use",
        "run_as_owner",
        "noop_job",
        "stream_output",
        "stream_error",
    )
)


class SubmitValueError(ValueError):
    """A value that cannot go into a submit description; the message names it."""


def _reject_control_characters(what: str, value: str) -> None:
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise SubmitValueError(f"{what} contains a newline or control character")
    if "$(" in value or "$ENV(" in value.upper():
        # condor_submit would expand it as a macro, inside quotes too
        raise SubmitValueError(f"{what} contains '$(', which condor_submit would expand")


def quote_words(words: Sequence[str], what: str = "arguments") -> str:
    """HTCondor's new (V2) syntax for `arguments`: `"a 'b c' 'it''s'"`.

    Every word is wrapped in single quotes (`'` doubled inside), every `"` doubled,
    and the whole value wrapped in double quotes.
    """
    quoted = []
    for word in words:
        _reject_control_characters(what, word)
        inner = word.replace("'", "''").replace('"', '""')
        quoted.append(f"'{inner}'")
    return '"' + " ".join(quoted) + '"'


def quote_environment(environment: Mapping[str, str]) -> str:
    """HTCondor's new (V2) syntax for `environment`: `"A='1' B='two words'"`.

    Names must be shell-style identifiers; values may hold spaces and quotes but no
    newline or other control character.
    """
    words = []
    for name, value in environment.items():
        if not _ENV_NAME.match(name):
            raise SubmitValueError(f"environment variable name {name!r} is not valid")
        if not isinstance(value, str):
            raise SubmitValueError(f"environment variable {name} is not a string")
        _reject_control_characters(f"environment variable {name}", value)
        inner = value.replace("'", "''").replace('"', '""')
        words.append(f"{name}='{inner}'")
    return '"' + " ".join(words) + '"'


def classad_string(value: str, what: str = "value") -> str:
    """A ClassAd string literal: `"..."` with backslash and double quote escaped."""
    _reject_control_characters(what, value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def submit_path(path: str, what: str = "path") -> str:
    """A path that can stand unquoted in a submit line and in a transfer list."""
    if not _SAFE_PATH.match(path) or ".." in Path(path).parts:
        raise SubmitValueError(
            f"{what} {path!r} cannot go into a submit description "
            "(spaces, commas, quotes, '$', '..' and control characters are not allowed)"
        )
    return path


def int_option(options: Mapping[str, Any], key: str, minimum: int) -> int | None:
    """options[key] as an int >= minimum, None if absent; SubmitValueError otherwise
    (also the Slurm batch script's, hub/slurm/script.py)."""
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SubmitValueError(f"option {key} must be an integer >= {minimum}, not {value!r}")
    return value


def word_option(options: Mapping[str, Any], key: str) -> str | None:
    """options[key] as a safe name, None if absent or empty; SubmitValueError otherwise."""
    value = options.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _SAFE_WORD.match(value):
        raise SubmitValueError(
            f"option {key} must be a short name of letters, digits and ._+-, not {value!r}"
        )
    return value


OPTION_KEYS = (
    "cpus",
    "memory_mb",
    "gpus",
    "runtime_limit",
    "container_os",
    "environment",
    "cephfs_io",
)


@dataclasses.dataclass(frozen=True)
class JobRequest:
    """The form's options, each checked once: what the batch systems' builders render
    (default_submit_lines here, hub/slurm/script.py's default_sbatch_options)."""

    cpus: int | None = None
    memory_mb: int | None = None
    gpus: int | None = None
    runtime_limit: int | None = None  # seconds
    container_os: str | None = None
    environment: str | None = None
    cephfs_io: str | None = None


def job_request(options: Mapping[str, Any]) -> JobRequest:
    """The options checked: integers in range, safe short names; unknown keys refused
    (a form that grows a field must also say where it goes). SubmitValueError names
    the option."""
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise SubmitValueError(f"unknown option(s) {', '.join(unknown)}; known: {OPTION_KEYS}")
    return JobRequest(
        cpus=int_option(options, "cpus", 1), memory_mb=int_option(options, "memory_mb", 1),
        gpus=int_option(options, "gpus", 0),
        runtime_limit=int_option(options, "runtime_limit", 1),
        container_os=word_option(options, "container_os"),
        environment=word_option(options, "environment"),
        cephfs_io=word_option(options, "cephfs_io"))


def default_submit_lines(options: Mapping[str, Any]) -> list[str]:
    """Map validated form options to submit lines (the default `options_to_submit_lines`).

    Keys (all optional): `cpus` (int), `memory_mb` (int, MB), `gpus` (int, 0 = none),
    `runtime_limit` (int, seconds: published as `+MaxRuntime` and enforced with
    `periodic_remove`), `container_os`, `environment`, `cephfs_io` (short names, become
    `+ContainerOS`, `+JupyterEnvironment`, `+CephFS_IO`). Unknown keys are refused, so a
    form that grows a field must also say where it goes.
    """
    request = job_request(options)
    lines: list[str] = []
    if request.cpus is not None:
        lines.append(f"request_cpus = {request.cpus}")
    if request.memory_mb is not None:
        lines.append(f"request_memory = {request.memory_mb}")
    if request.gpus:
        lines.append(f"request_gpus = {request.gpus}")
    if request.runtime_limit is not None:
        lines.append(f"+MaxRuntime = {request.runtime_limit}")
        lines.append(
            "periodic_remove = (JobStatus == 2) && ((time() - EnteredCurrentStatus) > MaxRuntime)"
        )
    for key, attribute in (
        ("container_os", "+ContainerOS"),
        ("environment", "+JupyterEnvironment"),
        ("cephfs_io", "+CephFS_IO"),
    ):
        word = getattr(request, key)
        if word is not None:
            lines.append(f"{attribute} = {classad_string(word, key)}")
    return lines


def check_option_lines(lines: Sequence[str]) -> list[str]:
    """Refuse option lines that are not one `name = value` or that set a reserved command."""
    checked = []
    for line in lines:
        if not isinstance(line, str):
            raise SubmitValueError(f"submit line {line!r} is not a string")
        _reject_control_characters("submit line", line)
        match = _OPTION_LINE.match(line.strip())
        if not match:
            raise SubmitValueError(f"submit line {line!r} is not of the form `name = value`")
        command = match.group(1).lower()
        if command in RESERVED_COMMANDS or command.startswith("my."):
            raise SubmitValueError(
                f"submit line {line!r} sets {match.group(1)}, which the hub owns"
            )
        checked.append(line.strip())
    return checked


@dataclasses.dataclass(frozen=True)
class NotebookJob:
    """What the submit description needs; every field is checked when rendered."""

    executable: str
    """Absolute path of `jobwrapper` on the execute node."""
    arguments: Sequence[str]
    home: str
    """The user's home directory on the submit side: the job's initialdir."""
    job_dir: str
    """Where output/error/log go, relative to `home` (e.g. `.jupyterhub-condor/default`)."""
    secrets_file: str
    """The 0600 secrets file, relative to `home`; transferred into the scratch dir."""
    environment: Mapping[str, str]
    hub_user: str
    hub_server: str
    option_lines: Sequence[str] = ()


def render_submit(job: NotebookJob, template: str | None = None) -> str:
    """The submit description for `job`, from `template` (default: notebook.sub)."""
    if template is None:
        template = DEFAULT_TEMPLATE.read_text()
    if not job.executable.startswith("/"):
        raise SubmitValueError(f"the job's executable {job.executable!r} must be an absolute path")
    fields = {
        "executable": submit_path(job.executable, "executable"),
        "arguments": quote_words(job.arguments),
        "home": submit_path(job.home, "home directory"),
        "job_dir": submit_path(job.job_dir, "job directory"),
        "secrets_file": submit_path(job.secrets_file, "secrets file"),
        "environment": quote_environment(job.environment),
        "hub_user": classad_string(job.hub_user, "user name"),
        "hub_server": classad_string(job.hub_server, "server name"),
        "option_lines": "\n".join(check_option_lines(job.option_lines)),
    }
    text = template.format(**fields)
    if re.search(r"^\s*getenv\b", text, re.IGNORECASE | re.MULTILINE):
        raise SubmitValueError("the submit template sets getenv; the hub's environment stays out")
    return text
