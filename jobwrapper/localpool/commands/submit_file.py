"""Reading a submit description: lines, comments, continuations, macros, `queue`.

The result is a `SubmitFile`: the submit commands (keys lower-cased, values with
macros expanded) and the custom attributes (`+Attr` / `MY.Attr`) as ClassAd values.
Turning commands into a job ad is `jobad.py`'s job.
"""

from __future__ import annotations

import dataclasses
import os
import re

from jobwrapper.localpool.ads.classads import Value, parse_literal


class SubmitError(ValueError):
    """A bad submit description; exit 1. `text` is all condor_submit prints on stderr:
    `ERROR: <message>`, after an empty line where HTCondor 25.0 prints one (`blank`),
    and followed by `trailer`."""

    def __init__(self, message: str, *, blank: bool = False, trailer: str = "") -> None:
        super().__init__(message)
        self.text = ("\n" if blank else "") + f"ERROR: {message}\n" + trailer


def line_error(number: int, source: str, detail: str = "") -> SubmitError:
    """condor_submit's error for a line it cannot read (its detail is usually empty)."""
    return SubmitError(f"on Line {number} of {source}: {detail}", blank=True,
                       trailer=f"\nERROR: Failed to parse command file (line {number}).\n")


# Commands whose value condor_submit parses as a ClassAd expression, and the attribute
# its "Parse error in expression" message names.
EXPRESSION_COMMANDS = {
    "periodic_remove": "PeriodicRemove",
    "periodic_hold": "PeriodicHold",
    "periodic_release": "PeriodicRelease",
    "on_exit_remove": "OnExitRemove",
    "on_exit_hold": "OnExitHold",
}


def check_expression(attribute: str, text: str) -> None:
    """condor_submit's check of an expression's syntax (values are not checked)."""
    from jobwrapper.localpool.ads.expressions import valid_syntax

    if not valid_syntax(text):
        raise SubmitError(f"Parse error in expression: \n\t{attribute} = {text}\n\t")


_MACRO = re.compile(r"\$(ENV)?\(([A-Za-z_][\w.]*)(?::([^)]*))?\)", re.IGNORECASE)
_BUILTIN_CLUSTER = ("cluster", "clusterid")
_BUILTIN_PROCESS = ("process", "procid", "node", "step", "row", "item")


@dataclasses.dataclass
class SubmitFile:
    """One parsed submit description (a single `queue` of one job)."""

    commands: dict[str, str]
    custom: dict[str, str]
    """Custom attributes as written (ClassAd expression text); see `custom_values`."""
    queue_count: int

    def custom_values(self) -> dict[str, Value]:
        """Custom attributes as ClassAd values (literals parsed, others kept as Expr)."""
        return {name: parse_literal(text) for name, text in self.custom.items()}


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) with comments dropped and `\\` continuations joined."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].rstrip())
            continue
        pending.append(stripped)
        lines.append((start, " ".join(part for part in pending if part)))
        pending = []
    if pending:
        lines.append((start, " ".join(part for part in pending if part)))
    return lines


def _parse_queue(number: int, rest: str, source: str) -> int:
    rest = rest.strip()
    if not rest:
        return 1
    if not rest.isdigit():
        raise line_error(number, source, "this local pool supports `queue` and `queue N` "
                         f"only, not `queue {rest}`")
    return int(rest)


def parse_submit(text: str, source: str = "<stdin>") -> SubmitFile:
    """Parse submit text; raises SubmitError with condor_submit's messages. `source` is
    the file name as given, or `<stdin>`. Without a `queue` statement, one job is
    queued, as HTCondor 25.0's condor_submit does."""
    commands: dict[str, str] = {}
    custom_raw: dict[str, str] = {}
    queue_count = 0
    for number, line in _logical_lines(text):
        head = line.split(None, 1)
        if head[0].lower() == "queue" and (len(head) == 1 or "=" not in head[1][:1]):
            if queue_count:
                raise line_error(number, source, "only one `queue` statement is supported by "
                                 "this local pool")
            queue_count = _parse_queue(number, head[1] if len(head) > 1 else "", source)
            continue
        name, sep, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            raise line_error(number, source)
        if name.startswith("+") or name.lower().startswith("my."):
            attribute = name[1:] if name.startswith("+") else name[3:]
            if not re.fullmatch(r"[A-Za-z_]\w*", attribute):
                raise line_error(number, source, f"bad attribute name {name}")
            if not value:
                raise line_error(number, source, f"{name} has no value")
            custom_raw[attribute] = value
        else:
            if not re.fullmatch(r"[A-Za-z_][\w.]*", name):
                raise line_error(number, source, f"bad command name {name}")
            commands[name.lower()] = value
    queue_count = queue_count or 1
    if queue_count != 1:
        raise SubmitError(f"this local pool submits one job per cluster, not `queue {queue_count}`")
    return SubmitFile(commands=commands, custom=custom_raw, queue_count=queue_count)


def expand_macros(submit: SubmitFile, cluster: int, process: int = 0) -> SubmitFile:
    """Replace $(Cluster), $(Process), $(name) of other commands and $ENV(NAME)."""

    def lookup(match: re.Match[str], depth: int) -> str:
        is_env, name, default = match.group(1), match.group(2), match.group(3)
        if is_env:
            return os.environ.get(name, default or "")
        lowered = name.lower()
        if lowered in _BUILTIN_CLUSTER:
            return str(cluster)
        if lowered in _BUILTIN_PROCESS:
            return str(process)
        if lowered in submit.commands and depth < 20:
            return expand(submit.commands[lowered], depth + 1)
        return default or ""

    def expand(value: str, depth: int = 0) -> str:
        return _MACRO.sub(lambda match: lookup(match, depth), value)

    commands = {name: expand(value) for name, value in submit.commands.items()}
    custom = {name: expand(value) for name, value in submit.custom.items()}
    return SubmitFile(commands=commands, custom=custom, queue_count=submit.queue_count)
