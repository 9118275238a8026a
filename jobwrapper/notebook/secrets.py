"""The hub's secrets file: how the API token reaches the job (issue 5).

The hub puts no token in the job's environment (that would copy it into the job ad,
which every user of the pool can read). It transfers ``.jobwrapper-hub-secrets.json``
(mode 0600, a JSON object: variable name -> value) into the scratch dir; the env var
``JOBWRAPPER_HUB_SECRETS`` may name another file, relative to the scratch dir.

``jobwrapper singleuser`` reads it, deletes it at once, and gives the variables to
the server's environment only: never to the env cache, stdout, stderr or argv.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from typing import Optional

from jobwrapper.errors import ServerError
from jobwrapper.protocol import SECRETS_ENV, SECRETS_FILE_NAME, SECRETS_MAX_SIZE

DEFAULT_NAME = SECRETS_FILE_NAME
_NAME = re.compile(r"[A-Z_][A-Z0-9_]*\Z")
_MAX_SIZE = SECRETS_MAX_SIZE


def secrets_path(scratch_dir: Optional[str], environ: Mapping[str, str]) -> Optional[str]:
    """Where the secrets file is expected; None outside a job. Without a scratch dir
    (Slurm: the home is shared, nothing is transferred) the variable holds the file's
    absolute path, or there is no file."""
    if not scratch_dir:
        given = environ.get(SECRETS_ENV) or ""
        if not given:
            return None
        if not os.path.isabs(given) or os.path.normpath(given) != given:
            raise ServerError(f"JOBWRAPPER_HUB_SECRETS={given!r}: must be an absolute, "
                              "normalized path in a job without a scratch dir; fix the "
                              "hub's submit template")
        return given
    name = environ.get(SECRETS_ENV) or DEFAULT_NAME
    if os.path.isabs(name) or ".." in name.split("/"):
        raise ServerError(f"JOBWRAPPER_HUB_SECRETS={name!r}: must be a file name inside the "
                          "scratch dir; fix the hub's submit template")
    return os.path.join(scratch_dir, name)


def read_hub_secrets(path: str) -> dict[str, str]:
    """Read and delete the secrets file; refuses symlinks and files not owned by us.

    A missing file means no secrets (the values, if any, come from elsewhere).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return {}
    except OSError as error:
        if os.path.islink(path):
            raise ServerError(f"{path}: the hub secrets file is a symlink; refusing it "
                              "(remove it and resubmit)") from None
        raise ServerError(f"{path}: cannot read the hub secrets file ({error.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ServerError(f"{path}: the hub secrets file is not a regular file; refusing it")
        if info.st_uid != os.getuid():
            raise ServerError(f"{path}: the hub secrets file belongs to uid {info.st_uid}, "
                              "not to this job's user; refusing it")
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            data = handle.read(_MAX_SIZE + 1)
    finally:
        if fd >= 0:
            os.close(fd)
    os.unlink(path)
    return _parse(path, data)


def _parse(path: str, data: bytes) -> dict[str, str]:
    if len(data) > _MAX_SIZE:
        raise ServerError(f"{path}: the hub secrets file is larger than {_MAX_SIZE} bytes")
    try:
        secrets = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        # The message must not quote the content: it is a secret.
        raise ServerError(f"{path}: the hub secrets file is not a JSON object") from None
    if not isinstance(secrets, dict) or not all(
            isinstance(k, str) and _NAME.match(k) and isinstance(v, str)
            for k, v in secrets.items()):
        raise ServerError(f"{path}: the hub secrets file must map variable names "
                          "(A-Z, 0-9, _) to strings")
    return secrets
