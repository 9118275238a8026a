"""What is in jupyter/ when the job exits: complete files, no leftovers of saving."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from pathlib import Path

from jupyter_harness import jupyter_server, marked_processes, wait_until

FAST = "[shutdown]\ngrace_seconds = 3\n"


def _notebook(cells: int) -> dict:
    source = "x = 1\n" * 200
    return {
        "type": "notebook",
        "content": {
            "cells": [
                {
                    "cell_type": "code",
                    "source": source,
                    "metadata": {},
                    "outputs": [],
                    "execution_count": None,
                }
                for _ in range(cells)
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        },
    }


def _leftovers(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob(".~*")]


def test_saved_notebook_and_checkpoint_are_complete_after_sigterm(tmp_path: Path) -> None:
    with jupyter_server(tmp_path, FAST) as server:
        assert server.api("PUT", "api/contents/saved.ipynb", json=_notebook(50)).ok
        assert server.api("POST", "api/contents/saved.ipynb/checkpoints").ok
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: server.process.poll() is not None, 10, "server gone")
        assert server.process.returncode == 0, server.log()[-2000:]
        assert len(json.loads((server.root / "saved.ipynb").read_text())["cells"]) == 50
        checkpoint = server.root / ".ipynb_checkpoints" / "saved-checkpoint.ipynb"
        assert len(json.loads(checkpoint.read_text())["cells"]) == 50
        assert _leftovers(server.root) == []


def test_save_in_flight_at_sigterm_is_whole_or_not_there(tmp_path: Path) -> None:
    with jupyter_server(tmp_path, FAST) as server:
        assert server.api("PUT", "api/contents/busy.ipynb", json=_notebook(1)).ok
        big = _notebook(3000)
        saving = threading.Thread(
            target=lambda: _ignore_errors(server.api, "PUT", "api/contents/busy.ipynb", json=big)
        )
        saving.start()
        server.process.send_signal(signal.SIGTERM)
        saving.join(30)
        wait_until(
            lambda: server.process.poll() is not None and not marked_processes(server.mark),
            10,
            "everything gone",
        )
        cells = len(json.loads((server.root / "busy.ipynb").read_text())["cells"])
        assert cells in (1, 3000), "the old notebook or the new one, never a mix"
        assert _leftovers(server.root) == []


def _ignore_errors(call, *args, **kwargs) -> None:
    with contextlib.suppress(Exception):
        call(*args, **kwargs)
