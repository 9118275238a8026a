"""The Slurm notebook job's batch script (hub/slurm/script.py): a pure builder, checked
against a whole expected script, and every way a value could add a directive or a
command."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobwrapper.hub.slurm.script import (
    SlurmNotebookJob,
    check_directives,
    default_sbatch_options,
    render_script,
)
from jobwrapper.hub.submit import SubmitValueError

EXPECTED = Path(__file__).parent / "expected" / "notebook.sbatch"
OPTIONS = {"cpus": 4, "memory_mb": 4096, "gpus": 1, "runtime_limit": 7170,
           "container_os": "Rocky9", "environment": "stable", "cephfs_io": "high"}


def job(**changes) -> SlurmNotebookJob:
    directives, variables = default_sbatch_options(OPTIONS)
    fields = dict(
        executable="/opt/jobwrapper/bin/jobwrapper",
        arguments=["singleuser"],
        home="/home/alice",
        job_dir=".jupyterhub-slurm/default",
        environment={
            "JUPYTERHUB_API_URL": "http://hub.example:8081/hub/api",
            "JUPYTERHUB_USER": "alice",
            "JOBWRAPPER_HUB_SECRETS":
                "/home/alice/.jupyterhub-slurm/default/.jobwrapper-hub-secrets.json",
            **variables,
        },
        job_name="jupyterhub-alice",
        directives=["--partition=jupyter", *directives],
    )
    fields.update(changes)
    return SlurmNotebookJob(**fields)


def test_the_whole_script():
    assert render_script(job()) == EXPECTED.read_text()


def test_quotes_dollars_and_backticks_stay_inside_one_quoted_word():
    text = render_script(job(environment={"JUPYTERHUB_USER": "a'b $(id) `id` \"c\""}))
    assert "export JUPYTERHUB_USER='a'\"'\"'b $(id) `id` \"c\"'\n" in text


def test_a_line_break_in_a_value_is_refused():
    with pytest.raises(SubmitValueError, match="JUPYTERHUB_USER holds a line break"):
        render_script(job(environment={"JUPYTERHUB_USER": "x\n#SBATCH --uid=0"}))


@pytest.mark.parametrize("directive", [
    "--chdir=/", "--export=ALL", "--output=/tmp/x", "--wrap=id", "--uid=0", "--job-name=x"])
def test_the_hubs_own_directives_are_refused(directive):
    with pytest.raises(SubmitValueError, match="is set by the hub"):
        check_directives([directive])


@pytest.mark.parametrize("directive", ["--partition=a b", "-p x", "--comment=$(id)",
                                       "--partition=x\n#SBATCH --uid=0"])
def test_a_directive_that_is_not_one_safe_word_is_refused(directive):
    with pytest.raises(SubmitValueError, match="is not one --name=value"):
        check_directives([directive])


def test_runtime_is_rounded_up_to_whole_minutes():
    assert default_sbatch_options({"runtime_limit": 61})[0] == ["--time=2"]


def test_an_unknown_option_is_refused():
    with pytest.raises(SubmitValueError, match="unknown option"):
        default_sbatch_options({"queue": "x"})


def test_a_container_name_with_shell_characters_is_refused():
    with pytest.raises(SubmitValueError, match="option container_os must be a short name"):
        default_sbatch_options({"container_os": "Rocky9;id"})


def test_a_relative_executable_is_refused():
    with pytest.raises(SubmitValueError, match="the executable 'jobwrapper' must be an abs"):
        render_script(job(executable="jobwrapper"))
