"""The submit description: quoting, option lines, and what a value can never do."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobwrapper.hub.submit import (
    NotebookJob,
    SubmitValueError,
    check_option_lines,
    classad_string,
    default_submit_lines,
    quote_environment,
    quote_words,
    render_submit,
)
from jobwrapper.localpool.ads.quoting import split_v2, strip_new_syntax


def job(**changes) -> NotebookJob:
    fields = dict(
        executable="/opt/jobwrapper/bin/jobwrapper",
        arguments=["singleuser"],
        home="/home/alice",
        job_dir=".jupyterhub-condor/default",
        secrets_file=".jupyterhub-condor/default/.jobwrapper-hub-secrets.json",
        environment={"JUPYTERHUB_USER": "alice", "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/"},
        hub_user="alice",
        hub_server="",
        option_lines=["request_cpus = 2"],
    )
    fields.update(changes)
    return NotebookJob(**fields)


def submit_commands(text: str) -> dict[str, str]:
    commands = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            commands[name.strip().lower()] = value.strip()
    return commands


def test_template_runs_jobwrapper_singleuser_without_getenv():
    commands = submit_commands(render_submit(job()))
    assert commands["executable"] == "/opt/jobwrapper/bin/jobwrapper"
    assert split_v2(strip_new_syntax(commands["arguments"])) == ["singleuser"]
    assert "getenv" not in commands


def test_template_transfers_jupyter_in_and_back_into_the_staging_dir_even_on_eviction():
    commands = submit_commands(render_submit(job()))
    assert commands["transfer_input_files"] == (
        "/home/alice/jupyter, /home/alice/.jupyterhub-condor/default/.jobwrapper-hub-secrets.json"
    )
    assert commands["transfer_output_files"] == "jupyter"
    assert commands["when_to_transfer_output"] == "ON_EXIT_OR_EVICT"
    assert commands["+spoolonevict"] == "False"
    # jupyter/ comes back into the server's dir (the staging dir), never over ~/jupyter
    assert commands["initialdir"] == "/home/alice/.jupyterhub-condor/default"


def test_job_files_go_to_the_per_server_directory():
    commands = submit_commands(render_submit(job()))
    assert commands["output"] == "/home/alice/.jupyterhub-condor/default/job.out"
    assert commands["error"] == "/home/alice/.jupyterhub-condor/default/job.err"
    assert commands["log"] == "/home/alice/.jupyterhub-condor/default/job.log"


@pytest.mark.parametrize(
    "value",
    ["plain", "two words", "it's", 'say "hi"', "'' and \"\"", "", "a=b c=d", "$HOME", "cost $5"],
)
def test_environment_round_trips_through_htcondor_new_syntax(value):
    quoted = quote_environment({"X": value, "Y": "after"})
    words = split_v2(strip_new_syntax(quoted))
    assert words == [f"X={value}", "Y=after"]


@pytest.mark.parametrize("value", ["a\nqueue", "a\rb", "tab\there", "nul\x00"])
def test_environment_value_with_newline_or_control_character_is_refused(value):
    with pytest.raises(SubmitValueError, match="newline or control"):
        quote_environment({"X": value})


@pytest.mark.parametrize("value", ["$(Cluster)", "$ENV(HOME)", "x$(DOLLAR)"])
def test_environment_value_with_a_submit_macro_is_refused(value):
    with pytest.raises(SubmitValueError, match="expand"):
        quote_environment({"X": value})


@pytest.mark.parametrize("name", ["1X", "A-B", "A B", "X=Y", "", "A\nB"])
def test_environment_name_must_be_an_identifier(name):
    with pytest.raises(SubmitValueError, match="name"):
        quote_environment({name: "1"})


def test_environment_value_cannot_add_a_submit_line():
    with pytest.raises(SubmitValueError):
        render_submit(job(environment={"A": 'x" \ngetenv = True'}))


def test_arguments_round_trip():
    quoted = quote_words(["singleuser", "--flag=a b", "it's"])
    assert split_v2(strip_new_syntax(quoted)) == ["singleuser", "--flag=a b", "it's"]


def test_classad_string_escapes_quotes_and_backslashes():
    assert classad_string('a"b\\c') == '"a\\"b\\\\c"'


def test_default_mapping_of_form_options():
    lines = default_submit_lines(
        {
            "cpus": 4,
            "memory_mb": 8192,
            "gpus": 1,
            "runtime_limit": 7200,
            "container_os": "Rocky9",
            "environment": "default-2024",
            "cephfs_io": "high",
        }
    )
    assert lines == [
        "request_cpus = 4",
        "request_memory = 8192",
        "request_gpus = 1",
        "+MaxRuntime = 7200",
        "periodic_remove = (JobStatus == 2) && ((time() - EnteredCurrentStatus) > MaxRuntime)",
        '+ContainerOS = "Rocky9"',
        '+JupyterEnvironment = "default-2024"',
        '+CephFS_IO = "high"',
    ]


def test_no_gpus_asks_for_none():
    assert default_submit_lines({"gpus": 0}) == []


@pytest.mark.parametrize(
    "options",
    [
        {"cpus": True},
        {"cpus": "4"},
        {"cpus": 0},
        {"memory_mb": 1.5},
        {"gpus": -1},
        {"container_os": 'Rocky9"\ngetenv = True'},
        {"container_os": "with space"},
        {"environment": 5},
        {"unknown": 1},
    ],
)
def test_default_mapping_refuses_bad_options(options):
    with pytest.raises(SubmitValueError):
        default_submit_lines(options)


@pytest.mark.parametrize(
    "line",
    [
        "getenv = True",
        "GetEnv = true",
        "executable = /bin/sh",
        "environment = TOKEN=1",
        "transfer_output_files = /etc",
        "+SpoolOnEvict = True",
        "MY.Foo = 1",
        "queue 5",
        "request_cpus = 1\ngetenv = True",
        "no equals sign",
        "request_cpus =",
    ],
)
def test_option_lines_cannot_touch_what_the_hub_owns(line):
    with pytest.raises(SubmitValueError):
        check_option_lines([line])


@pytest.mark.parametrize(
    "change",
    [
        {"home": "/home/a b"},
        {"home": "/home/a,b"},
        {"home": "/home/$(x)"},
        {"job_dir": "../../etc"},
        {"executable": "jobwrapper"},
        {"hub_user": "a\nb"},
    ],
)
def test_paths_and_names_that_cannot_stand_in_a_submit_line_are_refused(change):
    with pytest.raises(SubmitValueError):
        render_submit(job(**change))


def test_rendered_description_matches_expected_file():
    expected = (Path(__file__).parent / "expected" / "notebook.sub").read_text()
    assert render_submit(job()) == expected
