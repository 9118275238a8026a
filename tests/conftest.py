"""Makes the shared test helpers in tests/ (browser.py, listeners.py, jobfixtures.py)
importable from every test directory."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


import pytest

# Fixtures that start a server, a pool, a hub or a browser (the slow part of the suite).
PROCESS_FIXTURES = {
    "hub", "hub_pool", "make_pool", "pool", "demo", "browser_page", "start_server",
    "kernel_client", "site", "direct_hub", "form_hub", "real_hub", "socket_hub", "lab",
    "running", "finished_job", "orphaned_forward", "alice", "job",
}


def pytest_collection_modifyitems(config, items):
    """Mark every test that starts real servers, pools, hubs or browsers `processes`, so
    that `scripts/test --fast` (-m "not processes") runs the rest in seconds."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if (fixtures & PROCESS_FIXTURES or item.get_closest_marker("e2e")
                or item.get_closest_marker("browser")):
            item.add_marker(pytest.mark.processes)
