"""Desktop tests use the real-server harness of tests/lifecycle."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lifecycle"))
