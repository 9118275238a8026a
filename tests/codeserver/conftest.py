"""VS Code tests use the real-server harness of tests/lifecycle and the process checks
of tests/desktop."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS / "lifecycle"))
sys.path.insert(0, str(TESTS / "desktop"))
