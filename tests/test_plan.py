"""The plan (pure data) and the apply stage that carries it out."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from fixtures.jobemu import ADS, make_job

from jobwrapper.config import SiteConfig, parse_config
from jobwrapper.errors import JobError
from jobwrapper.job.apply import apply_setup, make_private_dir
from jobwrapper.job.context import HostLimits, JobContext, read_context
from jobwrapper.job.pipeline import prepare
from jobwrapper.job.plan import PRIVATE_DIR_NAME, fallback_root, plan
from jobwrapper.job.threads import HTCONDOR_THREAD_VARIABLES

HOST = HostLimits(cores=8, memory_mb=16000)
UID = os.getuid()


def context_for(case: str, scratch: Path, config: SiteConfig = SiteConfig(),  # noqa: B008
                **environ: str) -> JobContext:
    return read_context({**make_job(scratch, case), **environ}, config, host=HOST)


def tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


# --- variables -----------------------------------------------------------------------

def test_thread_variables_are_htcondors_list_set_to_the_cores(tmp_path):
    env = plan(context_for("good", tmp_path), UID).env
    assert {name: env[name] for name in HTCONDOR_THREAD_VARIABLES} == dict.fromkeys(
        HTCONDOR_THREAD_VARIABLES, "4")


def test_the_thread_variables_keep_their_identity_as_a_named_part_of_the_plan(tmp_path):
    setup = plan(context_for("good", tmp_path), UID)
    assert list(setup.threads) == [*HTCONDOR_THREAD_VARIABLES]
    assert setup.threads.items() <= setup.env.items()
    assert setup.limits == {"CPU_LIMIT": "4", "MEM_LIMIT": setup.env["MEM_LIMIT"]}


def test_kernels_get_the_threads_limits_and_labels_from_the_plan_not_by_name(tmp_path):
    setup = plan(context_for("good", tmp_path), UID)
    assert setup.kernel_env == {**setup.threads, **setup.limits,
                                "JOBWRAPPER_ENVIRONMENT": setup.env["JOBWRAPPER_ENVIRONMENT"],
                                "JOBWRAPPER_CONTAINER": setup.env["JOBWRAPPER_CONTAINER"],
                                **({"CUDA_VISIBLE_DEVICES": setup.env["CUDA_VISIBLE_DEVICES"]}
                                   if "CUDA_VISIBLE_DEVICES" in setup.env else {})}


def test_thread_variables_keep_the_value_set_in_the_jobs_environment(tmp_path):
    env = plan(context_for("user-thread-variables", tmp_path), UID).env
    assert (env["OMP_NUM_THREADS"], env["JULIA_NUM_THREADS"]) == ("1", "3")
    assert env["MKL_NUM_THREADS"] == "4"
    assert "OTHER" not in env  # only thread variables are taken from the job's environment


def test_site_adds_thread_variables(tmp_path):
    config = parse_config('[job]\nextra_thread_variables = ["MY_THREADS"]\n', "site.toml")
    assert plan(context_for("good", tmp_path, config), UID).env["MY_THREADS"] == "4"


def test_mem_limit_is_in_bytes_and_cpu_limit_in_cores(tmp_path):
    env = plan(context_for("good", tmp_path), UID).env
    assert env["MEM_LIMIT"] == str(4096 * 1024 * 1024)
    assert env["CPU_LIMIT"] == "4"


def test_no_mem_limit_when_memory_is_unknown(tmp_path):
    context = read_context({"_CONDOR_JOB_AD": str(tmp_path / "none")}, SiteConfig(),
                           host=HostLimits(cores=2, memory_mb=None))
    assert "MEM_LIMIT" not in plan(context, UID).env


def test_gpu_variables_are_restored_to_hide_gpus_as_htcondor_does(tmp_path):
    env = plan(context_for("good", tmp_path), UID).env
    assert (env["CUDA_VISIBLE_DEVICES"], env["GPU_DEVICE_ORDINAL"],
            env["NVIDIA_VISIBLE_DEVICES"]) == ("10000", "10000", "none")


def test_cuda_visible_devices_is_restored_to_the_assigned_gpus(tmp_path):
    assert plan(context_for("gpus", tmp_path), UID).env["CUDA_VISIBLE_DEVICES"] == "GPU-6a96bd13"


def test_gpu_variables_set_by_htcondor_are_left_alone(tmp_path):
    context = context_for("good", tmp_path, CUDA_VISIBLE_DEVICES="10000",
                          GPU_DEVICE_ORDINAL="10000", NVIDIA_VISIBLE_DEVICES="none")
    env = plan(context, UID).env
    assert not {"CUDA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "NVIDIA_VISIBLE_DEVICES"} & set(env)


def test_no_gpu_variables_outside_htcondor():
    context = read_context({}, SiteConfig(), host=HOST)
    assert "CUDA_VISIBLE_DEVICES" not in plan(context, UID).env


def test_user_and_logname_become_the_jobs_os_user(tmp_path):
    context = context_for("real-interactive", tmp_path, USER="condor-user")
    env = plan(context, UID).env
    assert (env["USER"], env["LOGNAME"]) == ("alice", "alice")


def test_user_name_fix_can_be_turned_off(tmp_path):
    config = parse_config("[job]\nfix_user_name = false\n", "site.toml")
    assert "USER" not in plan(context_for("real-interactive", tmp_path, config), UID).env


def test_job_identity_variables(tmp_path):
    env = plan(context_for("real-notebook", tmp_path), UID).env
    assert env["JOBWRAPPER_JOB_ID"] == "18.0"
    assert env["JOBWRAPPER_CONTAINER"] == "Rocky9"
    assert env["JOBWRAPPER_ENVIRONMENT"] == "stable"
    assert env["JOBWRAPPER_RUNTIME_END"] == str(1795316543 + 21600)


def test_jupyter_path_is_prepended_not_replaced(tmp_path):
    context = context_for("good", tmp_path, JUPYTER_PATH="/opt/share/jupyter")
    setup = plan(context, UID)
    assert setup.env["JUPYTER_PATH"] == f"{setup.private_dir}/share/jupyter:/opt/share/jupyter"


# --- directories ---------------------------------------------------------------------

DIRECTORY_VARIABLES = ("TMPDIR", "TMP", "TEMP", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME",
                       "JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR")


def test_private_dirs_are_inside_scratch_but_outside_jupyter(tmp_path):
    setup = plan(context_for("good", tmp_path), UID)
    assert setup.private_dir == str(tmp_path / PRIVATE_DIR_NAME)
    for path in setup.directories:
        assert path.startswith(str(tmp_path) + "/")
        assert not path.startswith(str(tmp_path / "jupyter"))


@pytest.mark.parametrize("variable", DIRECTORY_VARIABLES)
def test_directory_variables_point_into_the_private_dir(tmp_path, variable):
    setup = plan(context_for("good", tmp_path), UID)
    assert setup.env[variable].startswith(setup.private_dir + "/")
    assert setup.env[variable] in setup.directories


def test_outside_htcondor_the_private_dir_is_per_user_in_tmpdir(tmp_path):
    context = read_context({"TMPDIR": str(tmp_path)}, SiteConfig(), host=HOST)
    assert plan(context, 1234).private_dir == str(tmp_path / "jobwrapper-1234")


def test_plan_touches_nothing(tmp_path):
    context = context_for("good", tmp_path)
    before = tree(tmp_path)
    plan(context, UID)
    assert tree(tmp_path) == before


def test_apply_creates_every_directory_with_mode_0700(tmp_path):
    setup = plan(context_for("good", tmp_path), UID)
    apply_setup(setup)
    for path in setup.directories:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700, path


def test_apply_writes_the_cache_files_with_mode_0600(tmp_path):
    setup = plan(context_for("good", tmp_path), UID)
    apply_setup(setup)
    files = [p for p in Path(setup.private_dir).iterdir() if p.is_file()]
    assert {"env.sh", "env.json", "message.txt"} <= {p.name for p in files}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert (Path(setup.private_dir) / "message.txt").read_text() == setup.message + "\n"


def test_apply_tightens_a_private_dir_that_exists_with_loose_mode(tmp_path):
    (tmp_path / "mine").mkdir(mode=0o755)
    make_private_dir(str(tmp_path / "mine"))
    assert stat.S_IMODE((tmp_path / "mine").stat().st_mode) == 0o700


def test_apply_refuses_a_symlink_planted_as_private_dir(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "planted").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(JobError, match="planted: exists and is not a directory"):
        make_private_dir(str(tmp_path / "planted"))


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a directory another user owns")
def test_apply_refuses_a_private_dir_owned_by_another_user(tmp_path):
    (tmp_path / "theirs").mkdir(mode=0o700)
    os.chown(tmp_path / "theirs", 65534, 65534)
    with pytest.raises(JobError, match="theirs: belongs to another user"):
        make_private_dir(str(tmp_path / "theirs"))


@pytest.fixture
def fallback_dir():
    path = fallback_root(UID, "4242.0")
    shutil.rmtree(path, ignore_errors=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_unusable_scratch_falls_back_to_tmp_with_a_warning(tmp_path, fallback_dir):
    context = context_for("good", tmp_path)
    (tmp_path / PRIVATE_DIR_NAME).write_text("in the way")  # cannot become a directory
    setup = prepare(context)
    assert setup.private_dir == fallback_dir == f"/tmp/jobwrapper-{UID}-4242.0"
    assert setup.env["TMPDIR"] == f"{fallback_dir}/tmp"
    assert os.path.isdir(setup.env["TMPDIR"])
    assert setup.warnings[-1].endswith(f"; using {fallback_dir} instead")
    assert f"{tmp_path}/{PRIVATE_DIR_NAME}" in setup.warnings[-1]


def test_every_variable_the_plan_sets_is_documented_in_job_md(tmp_path):
    docs = (Path(__file__).resolve().parent.parent / "docs" / "job.md").read_text()
    config = parse_config('[job]\nextra_thread_variables = ["MY_THREADS"]\n', "site.toml")
    names = set(plan(context_for("real-notebook", tmp_path / "a", config), UID).env)
    names |= set(plan(context_for("gpus", tmp_path / "b"), UID).env)
    names.discard("MY_THREADS")  # documented as the site's extra_thread_variables
    assert {name for name in names if f"`{name}`" not in docs} == set()


HTCONDOR_SET = [*HTCONDOR_THREAD_VARIABLES, "CUDA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL",
                "NVIDIA_VISIBLE_DEVICES"]


def real_environ(case: str) -> dict[str, str]:
    """The environment a real HTCondor 25 starter gave the job (tests/fixtures/ads/real-*)."""
    lines = (ADS / case / "environ").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.mark.parametrize("case", ["real-notebook", "real-interactive", "real-defaults"])
def test_final_environment_matches_what_htcondor_set_in_the_real_jobs(tmp_path, case):
    """Thread and GPU variables as a real HTCondor 25 starter set them (the environ files)."""
    real = real_environ(case)
    job_variables = make_job(tmp_path, case)
    context = read_context({**real, **job_variables}, SiteConfig(), host=HOST)
    final = plan(context, UID).environment({**real, **job_variables})
    assert [final[name] for name in HTCONDOR_SET] == [real[name] for name in HTCONDOR_SET]


@pytest.mark.parametrize("case", ["real-notebook", "real-interactive", "real-defaults"])
def test_lost_variables_are_restored_to_what_htcondor_set(tmp_path, case):
    """A container or login shell that lost HTCondor's variables gets the same values back."""
    real = real_environ(case)
    context = read_context(make_job(tmp_path, case), SiteConfig(), host=HOST)
    env = plan(context, UID).env
    assert [env[name] for name in HTCONDOR_SET] == [real[name] for name in HTCONDOR_SET]
