"""Stand-ins for HTCondor's tools in tests that start a scheduler but no worker."""

from __future__ import annotations

import sys
from pathlib import Path


def fake_tool(directory: Path, name: str, exit_code: int = 0, stderr: str = "") -> Path:
    """An executable ``name`` in ``directory`` that notes its arguments in
    ``name.calls``, prints ``stderr`` and exits with ``exit_code``."""
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / name
    calls = str(directory / f"{name}.calls")
    tool.write_text(f"#!{sys.executable}\nimport sys\n"
                    f"open({calls!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
                    f"sys.stderr.write({stderr!r})\nsys.exit({exit_code})\n")
    tool.chmod(0o755)
    return tool
