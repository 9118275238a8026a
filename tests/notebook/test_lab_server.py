"""jobwrapper lab: a real JupyterLab on loopback, its kernels, limits and token.

One server is started for the module (starts cost seconds here) and always stopped.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from jupyter_client import BlockingKernelClient
from notebook_helpers import (
    JOBWRAPPER,
    Server,
    http_get,
    make_job,
    needs_lmod,
    root_args,
    running_lab,
    site_config_text,
    wait_for,
)

pytestmark = needs_lmod


class Lab:
    def __init__(self, server: Server, scratch: Path, port: int, token: str) -> None:
        self.server, self.scratch, self.port, self.token = server, scratch, port, token

    def get(self, path: str) -> tuple[int, bytes]:
        return http_get(f"http://127.0.0.1:{self.port}{path}", self.token)

    def json(self, path: str) -> dict:
        status, body = self.get(path)
        assert status == 200, (path, status)
        return json.loads(body)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, module_tree, cvmfs_venv) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("labjob")
    with running_lab(base, site_config_text(module_tree, cvmfs_venv)) as started:
        yield Lab(*started)


def test_lab_answers_api_and_listens_on_loopback_only(lab: Lab) -> None:
    assert lab.get("/api")[0] == 200
    listening = [c.laddr for c in psutil.Process(lab.server.process.pid).net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening)


def test_lab_tells_the_person_the_ssh_command_and_where_the_token_is(lab: Lab) -> None:
    stdout = lab.server.stdout
    assert f'condor_ssh_to_job -ssh "ssh -N -L 8888:localhost:{lab.port}" 18.0' in stdout
    assert "http://localhost:8888/lab" in stdout
    assert str(lab.scratch / ".jobwrapper" / "lab-token") in stdout


def test_token_is_in_a_0600_file_and_never_in_logs_or_argv(lab: Lab) -> None:
    token_file = lab.scratch / ".jobwrapper" / "lab-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert lab.token not in lab.server.stdout + lab.server.stderr  # stdout is not a tty
    argv = " ".join(psutil.Process(lab.server.process.pid).cmdline())
    assert lab.token not in argv


def test_api_refuses_requests_without_the_token(lab: Lab) -> None:
    status, _ = http_get(f"http://127.0.0.1:{lab.port}/api/kernelspecs")
    assert status == 403


def test_one_python3_kernel_from_the_environment_labelled_with_os_and_environment(
        lab: Lab, cvmfs_venv: Path) -> None:
    specs = lab.json("/api/kernelspecs")["kernelspecs"]
    pythons = [name for name, s in specs.items() if s["spec"]["language"] == "python"]
    assert pythons == ["python3"]
    spec = specs["python3"]["spec"]
    assert spec["argv"][0] == f"{cvmfs_venv}/bin/python"
    assert spec["display_name"] == "Python 3 (Rocky9 · stable)"


def test_kernels_are_written_in_the_private_data_dir_only(lab: Lab) -> None:
    written = lab.scratch / ".jobwrapper" / "share" / "jupyter" / "kernels" / "python3"
    assert (written / "kernel.json").is_file()
    assert not (lab.scratch / "jupyter" / "kernels").exists()
    assert not list(Path(lab.server.stdout_path).parent.glob("home/.local/share/jupyter/*"))


def test_kernel_runs_with_thread_variables_and_the_module_environment(lab: Lab) -> None:
    kernel = _start_kernel(lab)
    connection = lab.scratch / ".jobwrapper" / "runtime" / "jupyter" / f"kernel-{kernel}.json"
    wait_for(connection.exists, 30, "connection file")
    client = BlockingKernelClient(connection_file=str(connection))
    client.load_connection_file()
    client.start_channels(hb=False)  # the heartbeat needs a beat before it says "alive"
    try:
        client.wait_for_ready(timeout=60)
        code = ("import os, sys; print(os.environ['OMP_NUM_THREADS'], "
                "os.environ['PHYSICS_HOME'], sys.prefix)")
        output: list[str] = []
        reply = client.execute_interactive(
            code, timeout=60,
            output_hook=lambda msg: output.append(msg["content"].get("text", "")))
        assert reply["content"]["status"] == "ok"
        threads, physics, prefix = "".join(output).split()
        assert (threads, physics) == ("2", "/opt/physics")
        assert prefix.endswith("venv-stable")
    finally:
        client.stop_channels()
        http_request(lab, "DELETE", f"/api/kernels/{kernel}")


def _start_kernel(lab: Lab) -> str:
    return json.loads(http_request(lab, "POST", "/api/kernels", {"name": "python3"}))["id"]


def http_request(lab: Lab, method: str, path: str, body: object = None) -> bytes:
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{lab.port}{path}", data=data,
                                     method=method)
    request.add_header("Authorization", f"token {lab.token}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def test_resource_usage_shows_the_job_limits_not_the_host(lab: Lab) -> None:
    metrics = lab.json("/api/metrics/v1")
    assert metrics["limits"]["memory"]["rss"] == 2048 * 1024 * 1024
    assert metrics["limits"]["cpu"]["cpu"] == 2.0
    assert "host_virtual_memory" not in metrics and "host_cpu_percent" not in metrics


def test_extensions_listed_for_the_container_os_are_disabled(lab: Lab) -> None:
    status, page = lab.get("/lab")
    assert status == 200
    config = json.loads(re.search(rb'id="jupyter-config-data"[^>]*>(.*?)</script>', page,
                                  re.DOTALL).group(1))
    assert "@jupyterlab/extensionmanager-extension" in config["disabledExtensions"]


def test_notebook_dir_is_the_scratch_dirs_jupyter(lab: Lab) -> None:
    http_request(lab, "PUT", "/api/contents/hello.txt",
                 {"type": "file", "format": "text", "content": "hi"})
    assert (lab.scratch / "jupyter" / "hello.txt").read_text() == "hi"


def test_login_shells_get_the_same_modules_from_the_env_cache(lab: Lab) -> None:
    import subprocess

    cached = lab.scratch / ".jobwrapper" / "env.sh"
    shell = subprocess.run(["sh", "-c", '. "$1" && echo "$PHYSICS_HOME $VIRTUAL_ENV"', "sh",
                            str(cached)], capture_output=True, text=True, check=True)
    physics, venv = shell.stdout.split()
    assert physics == "/opt/physics"
    assert venv.endswith("venv-stable")


def test_lifecycle_extension_is_enabled_and_proxy_is_not_disabled(lab: Lab) -> None:
    config = json.loads((lab.scratch / ".jobwrapper" / "etc" / "jupyter" /
                         "jupyter_server_config.d" / "jobwrapper.json").read_text())
    extensions = config["ServerApp"]["jpserver_extensions"]
    assert extensions["jobwrapper.inserver.lifecycle"] is True
    assert extensions["jupyter_server_proxy"] is True


def test_token_is_shown_on_a_terminal(tmp_path, module_tree, cvmfs_venv) -> None:
    import os
    import pty
    import subprocess

    environ = make_job(tmp_path, site_config_text(module_tree, cvmfs_venv))
    scratch = Path(environ["_CONDOR_SCRATCH_DIR"])
    controller, terminal = pty.openpty()
    process = subprocess.Popen([JOBWRAPPER, "lab", *root_args()], env=environ, stdout=terminal,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                               start_new_session=True, cwd=scratch)
    os.close(terminal)
    server = Server(process, tmp_path / "unused.out", tmp_path / "unused.err")
    try:
        seen = b""

        def token_line() -> bool:
            nonlocal seen
            seen += os.read(controller, 4096)
            return b"readable only by you" in seen

        wait_for(token_line, 60, "lab message on the terminal", process)
        token = (scratch / ".jobwrapper" / "lab-token").read_text().strip()
        assert token.encode() in seen
    finally:
        server.stop()
        os.close(controller)


def test_lab_as_root_is_one_line_before_anything_is_announced(
        tmp_path, module_tree, cvmfs_venv) -> None:
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("needs root")
    environ = make_job(tmp_path, site_config_text(module_tree, cvmfs_venv))
    result = subprocess.run([JOBWRAPPER, "lab"], env=environ, capture_output=True, text=True,
                            timeout=60, cwd=environ["_CONDOR_SCRATCH_DIR"], check=False)
    assert result.returncode == 6
    assert result.stdout == ""
    assert result.stderr == ("jobwrapper: JupyterLab does not run as root: run jobwrapper lab "
                             "as the job's user (or add -- --allow-root if you really mean it)\n")


def test_a_kernel_started_without_a_path_runs_in_the_transferred_jupyter_dir(lab: Lab) -> None:
    kernel = _start_kernel(lab)
    connection = lab.scratch / ".jobwrapper" / "runtime" / "jupyter" / f"kernel-{kernel}.json"
    wait_for(connection.exists, 30, "connection file")
    server = psutil.Process(lab.server.process.pid)
    kernels = [p for p in server.children(recursive=True) if f"kernel-{kernel}" in
               " ".join(p.cmdline())]
    assert [p.cwd() for p in kernels] == [str(lab.scratch / "jupyter")]


def test_terminals_get_a_login_shell_although_htcondor_sets_no_shell(lab: Lab) -> None:
    environ = psutil.Process(lab.server.process.pid).environ()
    assert environ["SHELL"] not in ("", "/bin/sh")
    assert environ["SHELL"].startswith("/")
