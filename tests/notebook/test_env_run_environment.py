"""`jobwrapper env` and `run` give batch jobs and login shells the notebook's environment."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from notebook_helpers import make_job, needs_lmod, run_jobwrapper, site_config_text

pytestmark = needs_lmod


def test_run_gets_the_modules_and_the_venv(job_environ: dict[str, str], cvmfs_venv: Path) -> None:
    done = run_jobwrapper(["run", "--", "sh", "-c", 'echo "$PHYSICS_HOME $VIRTUAL_ENV"'],
                          job_environ)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"/opt/physics {cvmfs_venv}"


def test_login_cache_holds_the_modules(job_environ: dict[str, str]) -> None:
    done = run_jobwrapper(["env", "--shell", "sh"], job_environ)
    assert done.returncode == 0, done.stderr
    cache = Path(job_environ["_CONDOR_SCRATCH_DIR"], ".jobwrapper", "env.sh").read_text()
    assert "PHYSICS_HOME='/opt/physics'" in cache


def test_missing_module_is_a_warning_for_env(tmp_path: Path, module_tree: Path,
                                             cvmfs_venv: Path) -> None:
    text = site_config_text(module_tree, cvmfs_venv).replace('"physics"', '"nosuch"')
    done = run_jobwrapper(["env"], make_job(tmp_path, text))
    assert done.returncode == 0
    assert "OMP_NUM_THREADS=" in done.stdout
    assert [line for line in done.stderr.splitlines() if "nosuch" in line]
    assert "Traceback" not in done.stderr


def test_missing_module_stops_run_with_one_line(tmp_path: Path, module_tree: Path,
                                                cvmfs_venv: Path) -> None:
    text = site_config_text(module_tree, cvmfs_venv).replace('"physics"', '"nosuch"')
    canary = tmp_path / "ran"
    done = run_jobwrapper(["run", "--", "touch", str(canary)], make_job(tmp_path, text))
    assert done.returncode == 5
    assert len(done.stderr.strip().splitlines()) == 1 and "nosuch" in done.stderr
    assert not os.path.exists(canary)


def test_fallback_private_dir_reuses_the_loaded_environment(job_environ: dict[str, str],
                                                            monkeypatch) -> None:
    from jobwrapper.job import environment
    from jobwrapper.job.pipeline import prepare, read

    calls = []
    real_read = environment.read_environment
    monkeypatch.setattr(environment, "read_environment",
                        lambda context: calls.append(1) or real_read(context))
    # A file where the private dir should be: the scratch dir is unusable, /tmp is used.
    Path(job_environ["_CONDOR_SCRATCH_DIR"], ".jobwrapper").write_text("not a directory")
    setup = prepare(read(job_environ), load_environment="strict")
    try:
        assert setup.private_dir.startswith("/tmp/jobwrapper-")
        assert setup.env["PHYSICS_HOME"] == "/opt/physics"
        assert len(calls) == 1
    finally:
        shutil.rmtree(setup.private_dir, ignore_errors=True)
