"""The job's GPUs in JupyterLab's status bar (Debian's chromium): the hand-written
plugin gets the status bar from JupyterLab's share scope and shows what
/jobwrapper/gpus says, with the fake pynvml in the server; hidden without a GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import CHROMIUM, lab_page
from gpu_helpers import fake_nvml_env, write_fake_node
from jupyter_harness import jupyter_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
ITEM = "[data-jobwrapper=gpus]"


def test_the_status_bar_shows_the_assigned_gpus(tmp_path: Path) -> None:
    node = write_fake_node(tmp_path / "node.json")
    env = fake_nvml_env(node, "GPU-c3d4e5f6,GPU-a1b2c3d4")
    with jupyter_server(tmp_path / "server", extra_env=env) as server, \
            lab_page(server.url, server.token, tmp_path / "chromium-profile") as page:
        item = page.locator(f"#jp-main-statusbar {ITEM}")
        item.wait_for(state="visible", timeout=60_000)
        assert item.inner_text() == "GPU0 39% 3.1/16.0 GB | GPU1 37% 3.1/16.0 GB"
        assert "cuda:0 NVIDIA Fake 2 (GPU-c3d4e5f6-" in item.get_attribute("title")
        write_fake_node(node, util=80)  # the next poll (5 s) shows it
        page.wait_for_function(
            f"() => document.querySelector('{ITEM}').textContent.startsWith('GPU0 82%')",
            timeout=20_000)
        page.screenshot(path=str(tmp_path / "lab-gpus.png"))


def test_no_gpu_no_item(tmp_path: Path) -> None:
    node = write_fake_node(tmp_path / "node.json")
    with jupyter_server(tmp_path / "server", extra_env=fake_nvml_env(node, "10000")) as server, \
            lab_page(server.url, server.token, tmp_path / "chromium-profile") as page:
        page.locator("#jp-main-statusbar").wait_for(timeout=60_000)
        page.wait_for_function(
            "() => performance.getEntriesByType('resource')"
            ".some(e => e.name.includes('/jobwrapper/gpus'))", timeout=30_000)
        page.wait_for_timeout(500)
        assert not page.locator(ITEM).is_visible()
