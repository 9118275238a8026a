"""The GPU tests start servers with tests/lifecycle's harness (a real jupyter-server
with our extensions)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lifecycle"))
