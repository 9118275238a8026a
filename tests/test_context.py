"""The read stage: resources and their fallback chains, the job's identity, host limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.jobemu import make_job

from jobwrapper.config import SiteConfig, parse_config
from jobwrapper.job.classad import Ad, parse_ad_text
from jobwrapper.job.context import (
    HOST_SOURCE,
    HostLimits,
    container_label,
    read_context,
    read_host_limits,
    read_resources,
)

HOST = HostLimits(cores=7, memory_mb=777)
NO_CGROUP = HostLimits(cores=7, memory_mb=None)
DEFAULTS = SiteConfig()


def ad(text: str, source: str) -> Ad:
    return parse_ad_text(text, source)[0]


def job_ad(text: str = "") -> Ad:
    return ad("ClusterId = 1\nProcId = 0\n" + text, "job.ad")


def machine_ad(text: str = "") -> Ad:
    return ad(text, "machine.ad")


def resources(job: str = "", machine: str = "", host: HostLimits = HOST,
              config: SiteConfig = DEFAULTS, environ=None):
    return read_resources(job_ad(job), machine_ad(machine), host, config, environ or {})


def about(word: str, warnings: list[str]) -> list[str]:
    """The warnings that mention ``word`` (the minimal ads here lack other attributes)."""
    return [warning for warning in warnings if word in warning]


def context_for(case: str, tmp_path: Path, host: HostLimits = HOST, **extra: str):
    environ = {**make_job(tmp_path / "scratch", case), **extra}
    return read_context(environ, SiteConfig(), host=host)


# --- cores -------------------------------------------------------------------------

def test_machine_ad_cpus_win_over_request():
    res, _ = resources("RequestCpus = 1\nCpusProvisioned = 3\n", "Cpus = 4\n")
    assert res.cores == 4
    assert res.requested_cores == 1
    assert res.sources["cores"] == "machine ad Cpus"


def test_cpus_provisioned_is_used_when_the_machine_ad_has_no_cpus():
    res, _ = resources("RequestCpus = 1\nCpusProvisioned = 3\n")
    assert (res.cores, res.sources["cores"]) == (3, "job ad CpusProvisioned")


def test_request_cpus_is_used_when_nothing_was_provisioned():
    res, _ = resources("RequestCpus = 5\n")
    assert (res.cores, res.sources["cores"]) == (5, "job ad RequestCpus")


def test_cores_come_from_the_host_when_no_ad_names_them():
    res, warnings = resources()
    assert (res.cores, res.sources["cores"]) == (7, HOST_SOURCE)
    assert any("no usable Cpus/CpusProvisioned/RequestCpus" in w for w in warnings)


def test_expression_where_number_expected_counts_as_missing():
    res, warnings = resources("RequestCpus = 2\n", "Cpus = TotalSlotCpus * 1\n")
    assert res.cores == 2
    assert about("Cpus", warnings) == [
        "machine.ad: Cpus is an expression (TotalSlotCpus * 1), not a number; it is ignored"]


def test_expression_in_a_request_that_was_not_needed_is_quiet():
    res, warnings = resources("RequestMemory = MAX({MemoryUsage, 2048})\n", "Memory = 4096\n")
    assert res.memory_mb == 4096
    assert res.requested_memory_mb is None
    assert about("Memory", warnings) == []


def test_expression_in_a_request_that_was_needed_warns():
    res, warnings = resources("RequestMemory = MAX({MemoryUsage, 2048})\n", host=NO_CGROUP)
    assert res.memory_mb is None
    assert any("RequestMemory is an expression" in w for w in warnings)


@pytest.mark.parametrize(("value", "problem"), [
    ("0", "must be positive (it is 0)"),
    ("-2", "must be positive (it is -2)"),
    ("2.5", "is not a whole number (2.5)"),
    ('"four"', "is not a number ('four')"),
    ("true", "is not a number (True)"),
    ("undefined", "is undefined"),
    ("1000000", "is implausibly large (1000000 > 100000)"),
    ("1e400", "is not a whole number (inf)"),
])
def test_bad_cpus_fall_back_to_the_request_with_one_warning(value, problem):
    res, warnings = resources("RequestCpus = 3\n", f"Cpus = {value}\n")
    assert res.cores == 3
    assert about("Cpus", warnings) == [f"machine.ad: Cpus {problem}; it is ignored"]


def test_whole_float_counts_as_its_integer():
    res, warnings = resources("", "Cpus = 4.0\n")
    assert res.cores == 4
    assert about("Cpus", warnings) == []


# --- memory, disk, GPUs, runtime ----------------------------------------------------

def test_memory_chain_ends_in_the_cgroup_limit():
    res, _ = resources()
    assert (res.memory_mb, res.sources["memory"]) == (777, "cgroup memory limit")


def test_memory_is_unknown_without_ads_or_cgroup_limit():
    res, warnings = resources(host=NO_CGROUP)
    assert res.memory_mb is None
    assert any("MEM_LIMIT is not set" in w for w in warnings)


def test_memory_provisioned_wins_over_request_memory():
    res, _ = resources("RequestMemory = 1\nMemoryProvisioned = 2048\n")
    assert (res.memory_mb, res.requested_memory_mb) == (2048, 1)


def test_disk_chain_prefers_the_machine_ad_and_is_in_kib():
    res, _ = resources("RequestDisk = 1\nDiskProvisioned = 1049600\n", "Disk = 2097152\n")
    assert (res.disk_kb, res.requested_disk_kb) == (2097152, 1)


def test_disk_is_unknown_without_any_attribute():
    res, warnings = resources()
    assert res.disk_kb is None
    assert any("disk space is unknown" in w for w in warnings)


def test_gpus_and_their_ids_come_from_the_machine_ad():
    res, _ = resources("RequestGPUs = 1\n", 'GPUs = 1\nAssignedGPUs = "GPU-6a96bd13"\n',
                       environ={"CUDA_VISIBLE_DEVICES": "10000"})
    assert (res.gpus, res.requested_gpus, res.gpu_ids) == (1, 1, ("GPU-6a96bd13",))


def test_gpu_ids_fall_back_to_cuda_visible_devices():
    res, _ = resources(environ={"CUDA_VISIBLE_DEVICES": "GPU-a,GPU-b"})
    assert (res.gpus, res.gpu_ids) == (2, ("GPU-a", "GPU-b"))


def test_cuda_visible_devices_10000_means_no_gpu():
    res, _ = resources(environ={"CUDA_VISIBLE_DEVICES": "10000"})
    assert (res.gpus, res.gpu_ids) == (0, ())


def test_zero_gpus_in_the_machine_ad_is_valid():
    res, warnings = resources("", "GPUs = 0\n")
    assert (res.gpus, res.sources["gpus"]) == (0, "machine ad GPUs")
    assert not any("GPUs" in w for w in warnings)


def test_runtime_limit_comes_from_max_runtime_first():
    res, _ = resources("MaxRuntime = 3600\nAllowedExecuteDuration = 7200\n")
    assert (res.runtime_limit_s, res.sources["runtime"]) == (3600, "job ad MaxRuntime")


def test_runtime_limit_falls_back_to_allowed_execute_duration():
    res, _ = resources("MaxRuntime = 6 * 3600\nAllowedExecuteDuration = 7200\n")
    assert res.runtime_limit_s == 7200


def test_runtime_limit_attributes_are_site_configurable():
    config = parse_config('[job]\nruntime_limit_attributes = ["WallTime"]\n', "site.toml")
    res, _ = resources("MaxRuntime = 3600\nWallTime = 60\n", config=config)
    assert res.runtime_limit_s == 60


def test_no_runtime_limit_without_the_attributes():
    res, _ = resources()
    assert res.runtime_limit_s is None


# --- the whole read stage on the real ads --------------------------------------------

def test_real_defaults_job_requested_less_than_provisioned(tmp_path):
    context = context_for("real-defaults", tmp_path)
    res = context.resources
    assert (res.requested_cores, res.requested_memory_mb, res.requested_disk_kb) == (1, 1, 1)
    assert (res.cores, res.memory_mb, res.disk_kb) == (2, 2048, 1049600)
    assert context.warnings == ()


def test_real_notebook_job_identity(tmp_path):
    context = context_for("real-notebook", tmp_path)
    assert context.in_job
    assert (context.job_id, context.owner) == ("18.0", "alice")
    assert (context.container_os, context.container_label) == ("Rocky9", "Rocky9")
    assert context.environment_name == "stable"
    assert context.resources.runtime_limit_s == 21600
    assert context.job_start == 1795316543
    assert not context.interactive


def test_real_interactive_job_is_marked_interactive(tmp_path):
    context = context_for("real-interactive", tmp_path)
    assert context.interactive
    assert context.container_label == "Debian12"


def test_environment_name_defaults_to_stable(tmp_path):
    (tmp_path / "scratch").mkdir()
    environ = make_job(tmp_path / "scratch", "real-interactive")  # has no JupyterEnvironment
    assert read_context(environ, SiteConfig(), host=HOST).environment_name == "stable"


def test_user_environment_comes_from_the_job_ads_environment_attribute(tmp_path):
    context = context_for("user-thread-variables", tmp_path)
    assert context.user_environment == {"OMP_NUM_THREADS": "1", "JULIA_NUM_THREADS": "3",
                                        "OTHER": "x"}


@pytest.mark.parametrize(("case", "attribute"), [
    ("container-os-hostile", "ContainerOS"),
    ("environment-hostile", "JupyterEnvironment"),
    ("owner-hostile", "OsUser"),
])
def test_hostile_strings_are_not_used_and_named_in_one_warning(tmp_path, case, attribute):
    context = context_for(case, tmp_path)
    assert context.container_label in (None, "Rocky9")
    assert context.environment_name == "stable"
    assert context.owner in (None, "alice")
    assert len(context.warnings) == 1
    assert f".job.ad: {attribute} is not a" in context.warnings[0]


@pytest.mark.parametrize("name", ["Rocky9", "Debian12", "el9-x86_64", "ubuntu_22.04"])
def test_plain_container_names_are_shown(name):
    assert container_label(name) == name


@pytest.mark.parametrize("name", ["", "a b", "Rocky9\n", "$(id)", "../etc", "x" * 65, "-rf"])
def test_other_container_names_are_not_shown(name):
    assert container_label(name) is None


# --- outside HTCondor and odd set-ups ------------------------------------------------

def test_outside_htcondor_says_no_job_found_and_uses_host_limits():
    context = read_context({"PATH": "/bin"}, SiteConfig(), host=HOST)
    assert not context.in_job
    assert (context.resources.cores, context.resources.memory_mb) == (7, 777)
    assert context.warnings == ()


def test_job_ad_set_but_missing_is_a_job_with_one_warning_per_ad(tmp_path):
    environ = {"_CONDOR_SCRATCH_DIR": str(tmp_path), "_CONDOR_JOB_AD": str(tmp_path / ".job.ad"),
               "_CONDOR_MACHINE_AD": str(tmp_path / ".machine.ad")}
    context = read_context(environ, SiteConfig(), host=HOST)
    assert context.in_job
    assert context.resources.cores == 7
    assert len(context.warnings) == 2
    assert "(from _CONDOR_JOB_AD)" in context.warnings[0]
    assert "(from _CONDOR_MACHINE_AD)" in context.warnings[1]


def test_ads_in_the_scratch_dir_are_found_without_the_variables(tmp_path):
    environ = make_job(tmp_path, "good")
    del environ["_CONDOR_JOB_AD"], environ["_CONDOR_MACHINE_AD"]
    context = read_context(environ, SiteConfig(), host=HOST)
    assert context.in_job
    assert context.job_id == "4242.0"


# --- host limits: fake /proc and /sys/fs/cgroup trees --------------------------------

def fake_host(tmp_path: Path, cgroup_line: str, files: dict[str, str]) -> tuple[str, str]:
    proc, cgroup = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text(cgroup_line)
    for relative, content in files.items():
        (cgroup / relative).parent.mkdir(parents=True, exist_ok=True)
        (cgroup / relative).write_text(content)
    return str(proc), str(cgroup)


def test_cgroup_cpu_quota_limits_cores(tmp_path):
    proc, cgroup = fake_host(tmp_path, "0::/job\n", {"job/cpu.max": "100000 100000\n"})
    assert read_host_limits(proc, cgroup).cores == 1


def test_cgroup_quota_is_rounded_up_to_whole_cores(tmp_path):
    proc, cgroup = fake_host(tmp_path, "0::/job\n", {"job/cpu.max": "150000 100000\n"})
    assert read_host_limits(proc, cgroup).cores == min(2, read_host_limits(proc, "/x").cores)


def test_cgroup_memory_max_gives_memory_in_mb(tmp_path):
    proc, cgroup = fake_host(tmp_path, "0::/job\n", {"job/memory.max": f"{3 << 30}\n"})
    assert read_host_limits(proc, cgroup).memory_mb == 3072


def test_unlimited_cgroup_gives_no_memory_limit(tmp_path):
    proc, cgroup = fake_host(tmp_path, "0::/job\n", {"job/memory.max": "max\n",
                                                     "job/cpu.max": "max 100000\n"})
    assert read_host_limits(proc, cgroup).memory_mb is None


def test_a_parent_cgroup_limit_applies_to_the_job(tmp_path):
    proc, cgroup = fake_host(tmp_path, "0::/slot/job\n", {
        "slot/memory.max": f"{1 << 30}\n", "slot/job/memory.max": "max\n",
        "slot/cpu.max": "100000 100000\n"})
    limits = read_host_limits(proc, cgroup)
    assert (limits.cores, limits.memory_mb) == (1, 1024)


def test_cgroup_v2_line_is_found_on_hybrid_hosts(tmp_path):
    proc, cgroup = fake_host(tmp_path, "4:memory:/x\n1:cpu:/x\n0::/job\n",
                             {"job/memory.max": f"{2 << 30}\n"})
    assert read_host_limits(proc, cgroup).memory_mb == 2048


def test_cgroup_v1_only_gives_affinity_and_no_memory(tmp_path):
    proc, cgroup = fake_host(tmp_path, "4:memory:/x\n", {})
    limits = read_host_limits(proc, cgroup)
    assert limits.cores >= 1
    assert limits.memory_mb is None


def test_missing_proc_gives_affinity_only(tmp_path):
    limits = read_host_limits(str(tmp_path / "none"), str(tmp_path / "none"))
    assert limits.cores >= 1
    assert limits.memory_mb is None


def test_unreadable_ad_found_in_the_scratch_dir_says_where_it_came_from(tmp_path):
    environ = make_job(tmp_path, "good")
    del environ["_CONDOR_JOB_AD"]
    (tmp_path / ".job.ad").write_text("")
    context = read_context(environ, SiteConfig(), host=HOST)
    assert context.in_job
    assert context.warnings == (
        f"{tmp_path}/.job.ad: the file is empty (_CONDOR_JOB_AD is not set; found in the "
        "scratch dir); using the fallbacks in docs/job.md",)


def test_no_scratch_dir_fallback_without_the_scratch_variable(tmp_path, monkeypatch):
    make_job(tmp_path, "good")
    monkeypatch.chdir(tmp_path)  # the ads sit in the current directory: still not a job
    context = read_context({}, SiteConfig(), host=HOST)
    assert not context.in_job


@pytest.mark.parametrize(("value", "shown"), [
    ("1e30", "1e+30"), ("99999999999999999999999999999999999999999999999999", "99999999999999"),
])
def test_implausibly_large_values_are_shown_short(value, shown):
    _, warnings = resources("", f"Memory = {value}\n")
    [warning] = about("Memory is", warnings)
    assert f"is implausibly large ({shown}" in warning
    assert len(warning) < 120


def user_environment_of(tmp_path: Path, job_text: str) -> dict:
    (tmp_path / "job.ad").write_text("ClusterId = 1\nProcId = 0\n" + job_text)
    environ = {"_CONDOR_JOB_AD": str(tmp_path / "job.ad")}
    return dict(read_context(environ, SiteConfig(), host=HOST).user_environment)


def test_user_environment_in_the_old_env_syntax_counts_too(tmp_path):
    assert user_environment_of(tmp_path, 'Env = "OMP_NUM_THREADS=1;MKL_NUM_THREADS=2"\n') == {
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "2"}


def test_environment_attribute_wins_over_the_old_env_attribute(tmp_path):
    text = 'Environment = "OMP_NUM_THREADS=3"\nEnv = "OMP_NUM_THREADS=1"\n'
    assert user_environment_of(tmp_path, text) == {"OMP_NUM_THREADS": "3"}
