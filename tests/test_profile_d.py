"""profile.d/jobwrapper.sh and .csh in real login shells of an emulated job.

Each test starts real bash, dash, zsh or tcsh login shells (argv[0] "-bash" ...)
whose login file in the job's HOME sources a copy of the script; see
jobfixtures.run_login for why not /etc/profile.d.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from jobfixtures import (
    LOGIN_SHELLS,
    EmulatedJob,
    emulate_job,
    install_profile_d,
    outside_job_env,
    run_login,
)

SH_SHELLS = ("bash", "dash", "zsh")
# HTCondor's THREAD_VARIABLES default.
THREAD_VARIABLES = (
    "CUBACORES", "GOMAXPROCS", "JULIA_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    "OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "OPENBLAS_NUM_THREADS", "PYTHON_CPU_COUNT",
    "ROOT_MAX_THREADS", "TF_LOOP_PARALLEL_ITERATIONS", "TF_NUM_THREADS",
)
MESSAGE = "You requested 2 core(s), 2048 MB RAM, 1048576 kB disk space."


@pytest.fixture
def profile_d(tmp_path: Path) -> Path:
    return install_profile_d(tmp_path / "etc")


@pytest.fixture
def job(tmp_path: Path) -> EmulatedJob:
    return emulate_job(tmp_path, "notebook")


def make_cache(job: EmulatedJob) -> None:
    """What the first jobwrapper command of a job (or the first login) leaves behind."""
    subprocess.run(["jobwrapper", "env"], env=job.env(), check=True, capture_output=True)


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_login_restores_lost_thread_variables_to_the_slot_cores(shell, job, profile_d, tmp_path):
    environ = {k: v for k, v in job.env().items() if k not in THREAD_VARIABLES}
    login = run_login(shell, environ, tmp_path, profile_d)
    assert {name: login.environ.get(name) for name in THREAD_VARIABLES} == {
        name: "2" for name in THREAD_VARIABLES}


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_login_puts_tmpdir_in_the_private_dir(shell, job, profile_d, tmp_path):
    login = run_login(shell, job.env(), tmp_path, profile_d)
    assert login.environ["TMPDIR"] == str(job.private_dir / "tmp")


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_login_sets_mem_limit_in_bytes(shell, job, profile_d, tmp_path):
    login = run_login(shell, job.env(), tmp_path, profile_d)
    assert login.environ["MEM_LIMIT"] == str(2048 * 1024 * 1024)


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_interactive_login_prints_the_message_once(shell, job, profile_d, tmp_path):
    login = run_login(shell, job.env(), tmp_path, profile_d)
    assert login.output.count(MESSAGE) == 1


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_nested_login_shell_does_not_print_the_message_again(shell, job, profile_d, tmp_path):
    nested = f"{shell} -l </dev/null\n" if shell == "tcsh" else f"{shell} -l -i </dev/null\n"
    login = run_login(shell, job.env(), tmp_path, profile_d, commands=nested)
    assert login.output.count(MESSAGE) == 1


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_non_interactive_login_sets_the_environment_silently(shell, job, profile_d, tmp_path):
    login = run_login(shell, job.env(), tmp_path, profile_d, interactive=False)
    assert MESSAGE not in login.output
    assert login.environ["TMPDIR"] == str(job.private_dir / "tmp")


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_first_login_of_a_job_creates_the_cache(shell, job, profile_d, tmp_path):
    run_login(shell, job.env(), tmp_path, profile_d)
    assert (job.private_dir / "env.sh").is_file() and (job.private_dir / "env.csh").is_file()


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_cached_login_works_without_jobwrapper_on_path(shell, job, profile_d, tmp_path):
    make_cache(job)
    login = run_login(shell, job.env(with_jobwrapper=False), tmp_path, profile_d)
    assert login.environ["TMPDIR"] == str(job.private_dir / "tmp")
    assert login.output.count(MESSAGE) == 1


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_without_jobwrapper_or_cache_login_is_unchanged_and_silent(shell, job, profile_d,
                                                                 tmp_path):
    environ = job.env(with_jobwrapper=False)
    plain = run_login(shell, environ, tmp_path)
    login = run_login(shell, environ, tmp_path, profile_d)
    assert (login.output, login.environ, login.returncode) == (
        plain.output, plain.environ, plain.returncode)


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_outside_a_job_login_is_unchanged_and_silent(shell, profile_d, tmp_path):
    environ = outside_job_env(tmp_path)
    plain = run_login(shell, environ, tmp_path)
    login = run_login(shell, environ, tmp_path, profile_d)
    assert (login.output, login.environ, login.prompt) == (
        plain.output, plain.environ, plain.prompt)
    assert not list(tmp_path.rglob(".jobwrapper"))


def _environ_for(situation: str, job: EmulatedJob, tmp_path: Path) -> dict[str, str]:
    if situation == "outside":
        return outside_job_env(tmp_path)
    if situation == "cached":
        make_cache(job)
    if situation == "broken jobwrapper":
        broken = tmp_path / "broken"
        broken.mkdir()
        (broken / "jobwrapper").write_text("#!/bin/sh\necho 'export X=1; false'\nexit 1\n")
        (broken / "jobwrapper").chmod(0o755)
        return job.env(with_jobwrapper=False, PATH=f"{broken}:/usr/bin:/bin")
    return job.env(with_jobwrapper=situation != "no jobwrapper")


@pytest.mark.parametrize("situation", ["outside", "no jobwrapper", "broken jobwrapper",
                                       "first login", "cached"])
@pytest.mark.parametrize("shell", SH_SHELLS)
def test_login_with_set_eu_survives(shell, situation, job, profile_d, tmp_path):
    environ = _environ_for(situation, job, tmp_path)
    login = run_login(shell, environ, tmp_path, profile_d, prelude="set -eu",
                      commands="echo survived-the-login\n")
    assert "survived-the-login" in login.output


PROMPTS = {
    "bash": "\\u@\\h(Rocky9) \\w \\$ ",
    "zsh": "%n@%m(Rocky9) %~ %(!.#.$) ",
    "tcsh": "%n@%m(Rocky9) %~ %# ",
    "dash": "(Rocky9) $ ",
}


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_interactive_prompt_shows_the_container(shell, job, profile_d, tmp_path):
    login = run_login(shell, job.env(), tmp_path, profile_d)
    assert login.prompt == PROMPTS[shell]


@pytest.mark.parametrize("shell", SH_SHELLS)
def test_non_interactive_login_leaves_the_prompt_alone(shell, job, profile_d, tmp_path):
    login = run_login(shell, job.env(), tmp_path, profile_d, interactive=False)
    assert "Rocky9" not in login.prompt


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_a_container_label_that_is_not_a_plain_name_never_reaches_the_prompt(
        shell, job, profile_d, tmp_path):
    # As if the cache had been tampered with: the script checks the label again.
    make_cache(job)
    for name, syntax in (("env.sh", "export JOBWRAPPER_CONTAINER='$(touch canary)'\n"),
                         ("env.csh", "setenv JOBWRAPPER_CONTAINER '`touch canary`';\n")):
        with open(job.private_dir / name, "a") as cache:
            cache.write(syntax)
    login = run_login(shell, job.env(), tmp_path, profile_d)
    assert "Rocky9" not in login.prompt and "canary" not in login.prompt
    assert not (tmp_path / "canary").exists()


@pytest.mark.parametrize("shell", ["bash", "tcsh"])
def test_interactive_job_login_shows_its_request_and_what_the_slot_provides(shell, tmp_path,
                                                                           profile_d):
    job = emulate_job(tmp_path, "interactive")
    login = run_login(shell, job.env(), tmp_path, profile_d)
    assert "You requested 1 core(s), 1000 MB RAM, 125 kB disk space.\n" \
           "The slot provides 1 core(s), 1024 MB RAM, 2048 kB disk space." in login.output
    assert login.environ["OMP_NUM_THREADS"] == "1"


def test_zsh_can_also_source_the_script_without_sh_emulation(job, profile_d, tmp_path):
    (job.home / ".zprofile").write_text(f". {profile_d}/jobwrapper.sh\n")
    result = subprocess.run(["-zsh", "-i"], executable="/usr/bin/zsh", input="exit\n",
                            env=job.env(), cwd=tmp_path, capture_output=True, text=True)
    assert result.stdout.count(MESSAGE) == 1
