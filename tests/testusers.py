"""The local test users (jwtest-alice, jwtest-bob): created when missing, as root."""

from __future__ import annotations

import pwd
import subprocess

ALICE = "jwtest-alice"
BOB = "jwtest-bob"


def ensure_users(*names: str, shell: str = "/usr/sbin/nologin") -> None:
    """Create each user that is missing (home dir, by default no login shell). Another
    test session may create the same user at the same time: the account is checked
    afterwards."""
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--create-home", "--shell", shell, name],
                           check=False, capture_output=True)
            pwd.getpwnam(name)
