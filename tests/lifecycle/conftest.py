"""Fixtures for shutdown tests: kernel clients that are always closed."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest
from jupyter_client import BlockingKernelClient


@pytest.fixture
def kernel_client() -> Iterator[Callable[[Path], BlockingKernelClient]]:
    """Connect to a kernel by its connection file; the channels are closed afterwards."""
    clients: list[BlockingKernelClient] = []

    def connect(connection_file: Path) -> BlockingKernelClient:
        client = BlockingKernelClient(connection_file=str(connection_file))
        client.load_connection_file()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.stop_channels()
