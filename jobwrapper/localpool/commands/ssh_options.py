"""The ssh command line given to `condor_ssh_to_job -ssh "ssh OPTIONS"`.

Understood: -N, -L (all four OpenSSH forms: port or unix socket on each side),
-o ExitOnForwardFailure / StreamLocalBindUnlink / StreamLocalBindMask. Flags such as
-q, -v, -T, -t, -x, -C, -4 and options with an argument such as -p, -i, -l, -F, -E
are accepted and ignored. -R, -D, -W and -w are refused: the local pool forwards
local ports and sockets only, and only to the job's own loopback.
"""

from __future__ import annotations

import dataclasses
import shlex

_FLAGS = set("46AaCfGgKkMNnqsTtVvXxYy")
_WITH_ARGUMENT = set("BbcEeFIiJLlmOoPpQRSWwD")
_REFUSED = set("RDWw")
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "ip6-localhost")


class SshOptionError(ValueError):
    """An ssh option the local pool cannot honour; the message says which."""


@dataclasses.dataclass(frozen=True)
class Forward:
    """One -L forward: listen on the submit side, connect on the job side."""

    spec: str
    listen_host: str
    listen_port: int | None
    listen_path: str | None
    connect_port: int | None
    connect_path: str | None


@dataclasses.dataclass
class SshOptions:
    """What condor_ssh_to_job does with an ssh command line."""

    no_command: bool = False
    forwards: list[Forward] = dataclasses.field(default_factory=list)
    exit_on_forward_failure: bool = False
    bind_unlink: bool = False
    bind_mask: int = 0o177


def _is_path(text: str) -> bool:
    return "/" in text


def _split_forward(spec: str) -> list[str]:
    """Fields of a forward spec; [ ] brackets protect IPv6 addresses."""
    fields, current, depth = [], "", 0
    for char in spec:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == ":" and depth == 0:
            fields.append(current)
            current = ""
            continue
        current += char
    fields.append(current)
    return fields


def parse_forward(spec: str) -> Forward:
    """One -L argument in any of OpenSSH's forms."""
    fields = _split_forward(spec)
    bind = "localhost"
    if len(fields) == 4 or (len(fields) == 3 and _is_path(fields[2]) and not _is_path(fields[0])):
        bind, fields = fields[0] or "localhost", fields[1:]
    if len(fields) == 3:
        listen, host, remote = fields
        if host not in _LOOPBACK_NAMES:
            raise SshOptionError(
                f"-L {spec}: the local pool forwards only to the job's localhost, not {host}"
            )
    elif len(fields) == 2:
        listen, remote = fields
    else:
        raise SshOptionError(f"Bad local forwarding specification '{spec}'")
    if bind.strip("[]") not in (*_LOOPBACK_NAMES, ""):
        raise SshOptionError(f"-L {spec}: the local pool listens on loopback only, not {bind}")
    try:
        return Forward(
            spec=spec,
            listen_host="127.0.0.1",
            listen_port=None if _is_path(listen) else int(listen),
            listen_path=listen if _is_path(listen) else None,
            connect_port=None if _is_path(remote) else int(remote),
            connect_path=remote if _is_path(remote) else None,
        )
    except ValueError:
        raise SshOptionError(f"Bad local forwarding specification '{spec}'") from None


def _apply_option(options: SshOptions, text: str) -> None:
    key, _, value = text.replace("=", " ", 1).partition(" ")
    key, value = key.strip().lower(), value.strip().lower()
    if key == "exitonforwardfailure":
        options.exit_on_forward_failure = value == "yes"
    elif key == "streamlocalbindunlink":
        options.bind_unlink = value == "yes"
    elif key == "streamlocalbindmask":
        options.bind_mask = int(value, 8)


def parse_ssh_command(command: str) -> SshOptions:
    """Parse `ssh OPTIONS` as given to -ssh (the program name itself is ignored)."""
    tokens = shlex.split(command)
    if tokens and not tokens[0].startswith("-"):
        tokens = tokens[1:]
    options = SshOptions()
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("-") or token == "-":  # noqa: S105
            continue
        position = 1
        while position < len(token):
            letter = token[position]
            if letter in _FLAGS:
                options.no_command = options.no_command or letter == "N"
                position += 1
                continue
            if letter not in _WITH_ARGUMENT:
                raise SshOptionError(f"unknown ssh option -{letter}")
            argument = token[position + 1 :]
            if not argument:
                if index >= len(tokens):
                    raise SshOptionError(f"ssh option -{letter} needs an argument")
                argument = tokens[index]
                index += 1
            if letter in _REFUSED:
                raise SshOptionError(f"ssh option -{letter} is not supported by the local pool")
            if letter == "L":
                options.forwards.append(parse_forward(argument))
            elif letter == "o":
                _apply_option(options, argument)
            break
    return options
