"""A real JupyterHub with JobwrapperSlurmSpawner on a real Slurm 22.05: the real
`jobwrapper singleuser` in the job, the tunnel through an `srun --overlap` step,
the secrets channel seen from another user, a hub restart, and the stop."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from polling import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hub"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import SLURM_CONFIG, home, jobwrapper_for, new_hub

from .conftest import ALICE, BOB

pytestmark = [pytest.mark.e2e, pytest.mark.root]
KEEP_JOBS = True  # the module's tests share one notebook job (conftest.py)


def server_token(user: str) -> str:
    """The server's own API token, from its process's environment (the job read and
    deleted its secrets file)."""
    import pwd

    uid = pwd.getpwnam(user).pw_uid
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in environ:
            if item.startswith(b"JUPYTERHUB_API_TOKEN="):
                return item.split(b"=", 1)[1].decode()
    return ""


@pytest.fixture(scope="module", params=["tcp", "socket"])
def slurm_hub(request, slurm, slurm_users):
    real = jobwrapper_for(ALICE)
    if not real:
        pytest.skip("no jobwrapper the test users can run: set JWHUB_REAL_JOBWRAPPER")
    state_dir = Path(tempfile.mkdtemp(prefix="jwslurmhub-"))
    socket_dir = tempfile.mkdtemp(prefix="jwsock-")
    bin_dir = str(Path(real).parent)
    hub = new_hub(state_dir, Path("/nonexistent"), job_executable=real,
                  hub_env={"SLURM_CONF": slurm.environ["SLURM_CONF"]},
                  spawner={"environment": {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"},
                           "req_memory": "1G", "req_nprocs": "1",
                           "server_mode": request.param, "socket_dir": socket_dir})
    hub.template = SLURM_CONFIG
    hub.start()
    hub.ensure_user(ALICE)
    yield hub, slurm
    hub.ensure_stopped(ALICE)
    hub.stop()
    if not os.environ.get("JWHUB_KEEP_STATE"):
        shutil.rmtree(state_dir, ignore_errors=True)
    shutil.rmtree(socket_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def running(slurm_hub):
    hub, slurm = slurm_hub
    hub.ensure_stopped(ALICE)
    messages = hub.spawn(ALICE)
    assert hub.server(ALICE) is not None, (messages, hub.log_tail())
    return hub, slurm, messages


def test_the_spawn_page_follows_the_job_through_slurm(running):
    hub, _, messages = running
    job_id = hub.state(ALICE)["job_id"]
    assert messages[1] == f"Submitted job {job_id} to Slurm."
    assert any(message.startswith(f"Job {job_id} is running on ") for message in messages)


def test_jupyterlab_answers_through_the_step_tunnel(running):
    hub, _, _ = running
    token = hub.user_token(ALICE)
    reply = hub.get_through_proxy(ALICE, token)
    assert reply.status_code == 200, reply.text


@pytest.mark.browser
def test_a_notebook_in_chromium_runs_its_kernel_through_the_step(running, tmp_path):
    """Log in, open JupyterLab, run a cell: HTTP and the kernel's websocket both go
    through the one srun step."""
    from browser import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    hub, _, _ = running
    job_id = hub.state(ALICE)["job_id"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{hub.url}/hub/login")
            page.fill("#username_input", ALICE)
            page.fill("#password_input", "any")  # the tests' DummyAuthenticator
            page.click("#login_submit")
            page.goto(f"{hub.url}/user/{ALICE}/lab?reset")  # not an earlier run's tabs
            page.locator(".jp-Launcher:visible .jp-LauncherCard[data-category='Notebook']"
                         ).first.click(timeout=60_000)
            idle = page.locator("#jp-main-statusbar", has_text="| Idle")
            dialog = page.locator(".jp-Dialog:visible .jp-mod-accept")
            idle.or_(dialog).first.wait_for(timeout=60_000)
            if dialog.count():  # "Select Kernel": the environment's kernel is preselected
                dialog.first.click()
            idle.wait_for(timeout=60_000)
            page.locator(".jp-NotebookPanel:visible .jp-Cell .cm-content").first.click()
            page.keyboard.insert_text("import os; print('job', os.environ['SLURM_JOB_ID'], "
                                      "os.environ['OMP_NUM_THREADS'])")
            page.keyboard.press("Shift+Enter")
            output = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output",
                                  has_text="job ")
            output.first.wait_for(timeout=60_000)
            assert output.first.inner_text().strip() == f"job {job_id} 1"
        except Exception:
            page.screenshot(path="/tmp/jw-slurm-browser.png")
            raise
        finally:
            browser.close()


def test_the_tunnel_is_a_step_of_the_job(running):
    hub, slurm, _ = running
    job_id = hub.state(ALICE)["job_id"]
    steps = slurm.run("squeue", "-h", "-s", "-j", job_id, "-o", "%i").stdout.split()
    assert f"{job_id}.0" in steps  # the batch step is .batch, the bridge the first step


def test_no_token_in_what_slurm_shows_another_user_or_in_the_script(running):
    hub, slurm, _ = running
    job_id = hub.state(ALICE)["job_id"]
    token = server_token(ALICE)
    shown = slurm.run("scontrol", "show", "job", "-dd", job_id, user=BOB).stdout
    script = slurm.run("scontrol", "write", "batch_script", job_id, "-").stdout
    assert token and token not in shown and token not in script
    assert "JOBWRAPPER_HUB_SECRETS=" in script


def test_the_secrets_file_is_gone_once_the_server_runs(running):
    assert not (home(ALICE) / ".jupyterhub-slurm" / "default"
                / ".jobwrapper-hub-secrets.json").exists()


def test_the_notebook_survives_a_hub_restart(running):
    hub, _, _ = running
    hub.stop()
    hub.start()
    token = hub.user_token(ALICE)
    reply = wait_for(lambda: (r := hub.get_through_proxy(ALICE, token)).status_code == 200
                     and r, 60, "the server through the re-created tunnel")
    assert reply.status_code == 200


def test_stopping_cancels_the_job_and_leaves_no_step(running):
    hub, slurm, _ = running
    job_id = hub.state(ALICE)["job_id"]
    hub.stop_server(ALICE)
    assert slurm.run("squeue", "-h", "-j", job_id, "-o", "%T").stdout.strip() == ""


def test_a_pending_spawn_says_slurms_reason_and_starts_when_the_node_is_free(slurm_hub):
    hub, slurm = slurm_hub
    hub.ensure_stopped(ALICE)
    blocker = slurm.sbatch("--cpus-per-task=4", "--mem=512", "--wrap", "sleep 300",
                           user=BOB, cwd=slurm.workdir(BOB, "blocker"))
    slurm.wait_state(blocker, "RUNNING")

    def free_the_node_once_told(message: str) -> None:
        if "waits:" in message:
            slurm.run("scancel", str(blocker))

    said = hub.spawn(ALICE, on_message=free_the_node_once_told)
    assert any(message.endswith("waits: no node has the resources free now.")
               for message in said), said
    assert hub.server(ALICE) is not None, said
    hub.stop_server(ALICE)
