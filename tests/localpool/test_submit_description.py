"""Submit description parsing, quoting and the periodic_remove subset (no processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobwrapper.localpool.ads.classads import Expr
from jobwrapper.localpool.ads.expressions import is_true, valid_syntax
from jobwrapper.localpool.ads.jobad import provision
from jobwrapper.localpool.ads.jobspec import build_spec
from jobwrapper.localpool.ads.quoting import (
    join_v2,
    parse_arguments,
    parse_environment,
    render_environment,
)
from jobwrapper.localpool.commands.submit_file import SubmitError, expand_macros, parse_submit

BATCHSPAWNER_TEMPLATE = """
Executable = /bin/sh
RequestMemory = {memory}
RequestCpus = {nprocs}
Arguments = \"-c 'exec {cmd}'\"
Remote_Initialdir = {homedir}
Output = {homedir}/.jupyterhub.condor.out
Error = {homedir}/.jupyterhub.condor.err
ShouldTransferFiles = False
GetEnv = True
{options}
Queue
"""


def spec_of(text: str, tmp_path: Path, environ: dict[str, str] | None = None):
    parsed = expand_macros(parse_submit(text), cluster=7)
    return build_spec(parsed, tmp_path, environ or {})[0]


def test_new_syntax_arguments_group_with_single_quotes_and_double_them_for_a_quote():
    words, name, _ = parse_arguments('"-c \'echo it\'\'s ""quoted""\' two"')
    assert words == ["-c", 'echo it\'s "quoted"', "two"]
    assert name == "Arguments"


def test_old_syntax_arguments_split_on_whitespace_and_are_stored_as_args():
    words, name, value = parse_arguments("notebook --debug")
    assert (words, name, value) == (["notebook", "--debug"], "Args", "notebook --debug")


def test_v2_arguments_are_written_as_htcondor_writes_them():
    # From the real interactive job ad in /work/shared/jobads.
    words = ["-c", "sleep 180 && while test"]
    assert join_v2(words) == "-c sleep' '180' '&&' 'while' 'test"


def test_new_syntax_environment_quotes_values_with_single_quotes():
    environment = parse_environment("\"A=1 B='x y' C='it''s'\"")
    assert environment == {"A": "1", "B": "x y", "C": "it's"}


def test_old_syntax_environment_is_separated_by_semicolons():
    assert parse_environment("A=1;B=two") == {"A": "1", "B": "two"}


def test_rendered_environment_parses_back_to_the_same_variables():
    environment = {"A": "x y", "B": "it's", "C": ""}
    assert parse_environment('"' + render_environment(environment) + '"') == environment


def test_keys_are_case_insensitive_and_macros_expand(tmp_path: Path):
    spec = spec_of("EXECUTABLE = /bin/true\nOutput = out.$(Cluster).$(Process)\nqueue\n", tmp_path)
    assert spec.output == "out.7.0"


def test_custom_attributes_from_plus_and_my_prefix_become_classad_values():
    parsed = parse_submit(
        '+ContainerOS = "Rocky9"\nMY.MaxRuntime = 21600\n+Spool = False\n'
        "+Expr = RequestCpus * 2\nexecutable = /bin/true\nqueue\n"
    )
    assert parsed.custom_values() == {
        "ContainerOS": "Rocky9",
        "MaxRuntime": 21600,
        "Spool": False,
        "Expr": Expr("RequestCpus * 2"),
    }


def test_line_continuations_and_comments_are_handled(tmp_path: Path):
    text = "# a comment\nexecutable = /bin/true\narguments = a \\\n  b\nqueue\n"
    assert spec_of(text, tmp_path).arguments == ["a", "b"]


def test_request_memory_accepts_units_and_defaults_to_megabytes(tmp_path: Path):
    assert (
        spec_of("executable=/bin/true\nrequest_memory = 2GB\nqueue", tmp_path).request_memory
        == 2048
    )
    assert (
        spec_of("executable=/bin/true\nrequest_memory = 512\nqueue", tmp_path).request_memory == 512
    )


def test_request_disk_is_in_kibibytes_and_accepts_units(tmp_path: Path):
    assert (
        spec_of("executable=/bin/true\nrequest_disk = 1GB\nqueue", tmp_path).request_disk == 1048576
    )
    assert spec_of("executable=/bin/true\nrequest_disk = 100\nqueue", tmp_path).request_disk == 100


def test_a_job_that_requested_nothing_requests_one_of_each(tmp_path: Path):
    spec = spec_of("executable=/bin/true\nqueue", tmp_path)
    assert (spec.request_cpus, spec.request_memory, spec.request_disk) == (1, 1, 1)


def test_batchspawners_condor_template_is_accepted(tmp_path: Path):
    text = BATCHSPAWNER_TEMPLATE.format(
        memory="",
        nprocs="2",
        cmd="batchspawner-singleuser jupyterhub-singleuser",
        homedir="/h",
        options="",
    )
    spec = spec_of(text, tmp_path, {"JUPYTERHUB_API_TOKEN": "secret"})
    assert spec.arguments == ["-c", "exec batchspawner-singleuser jupyterhub-singleuser"]
    assert spec.request_cpus == 2 and spec.request_memory == 1
    assert not spec.transfer_files and spec.remote_iwd == "/h"
    assert spec.environment["JUPYTERHUB_API_TOKEN"] == "secret"


def test_getenv_copies_the_submitters_environment_and_environment_wins(tmp_path: Path):
    text = 'executable=/bin/true\ngetenv = True\nenvironment = "A=job"\nqueue'
    spec = spec_of(text, tmp_path, {"A": "submitter", "TOKEN": "t"})
    assert spec.environment == {"A": "job", "TOKEN": "t"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("arguments = x\nqueue", "No 'executable' parameter was provided"),
        ("executable = /no/such/file\nqueue", "Can't access executable file /no/such/file"),
        ("executable = /bin/true\nthis line is wrong\nqueue", "on Line 2 of <stdin>"),
        ("executable = /bin/true\nrequest_memory = lots\nqueue", "request_memory = lots"),
        ("executable = /bin/true\nperiodic_remove = (a ==\nqueue",
         "Parse error in expression: \n\tPeriodicRemove = (a =="),
        ("executable = /bin/true\nwhen_to_transfer_output = never\nqueue",
         "invalid value (never) for WhenToTransferOutput"),
    ],
)
def test_bad_descriptions_raise_condor_submits_messages(text: str, message: str, tmp_path: Path):
    with pytest.raises(SubmitError) as raised:
        spec_of(text, tmp_path)
    assert message in str(raised.value)
    assert raised.value.text.rstrip("\n").count("\n") <= 3  # one message, no traceback


@pytest.mark.parametrize("text", [
    "(JobStatus == 2) && ((time() - EnteredCurrentStatus) > MaxRuntime)",
    "MY.x =?= undefined", "a ? b : c", "a ?: b", '{1, 2, "x"}', "[a = 1; b = 2;]",
    'regexp("a.*", Name, "i")', "ifThenElse(x isnt undefined, x, 0)", "-1.5e3", "x[0]",
    "TARGET.Memory >= 1024", "10 * 60",
])
def test_valid_classad_expressions_pass_the_syntax_check(text: str):
    assert valid_syntax(text)


@pytest.mark.parametrize("text", ["3600 +", "(JobStatus ==", "a b", "f(,)", "{1,}",
                                  '"open', "a ? b", ""])
def test_invalid_classad_expressions_fail_the_syntax_check(text: str):
    assert not valid_syntax(text)


def test_an_attribute_holding_an_expression_is_evaluated_by_periodic_remove():
    # +MaxRuntime = 6 * 3600 is an expression in the ad; it used to crash the shadow.
    ad = {"JobCurrentStartDate": 1000, "MaxRuntime": Expr("6 * 3600")}
    expression = "(time() - JobCurrentStartDate) > MaxRuntime"
    assert not is_true(expression, ad, now=1000 + 6 * 3600)
    assert is_true(expression, ad, now=1001 + 6 * 3600)
    assert not is_true("MaxRuntime > 3", {"MaxRuntime": "x"}, now=0)


def test_periodic_remove_after_a_runtime_is_true_only_once_it_is_exceeded():
    ad = {"JobCurrentStartDate": 1000, "MaxRuntime": 60, "JobStatus": 2}
    expression = "(time() - JobCurrentStartDate) > MaxRuntime"
    assert not is_true(expression, ad, now=1050)
    assert is_true(expression, ad, now=1061)
    assert is_true("JobStatus == 2 && (time() - JobCurrentStartDate) > 30", ad, now=1031)


def test_unsupported_or_undefined_periodic_remove_never_removes():
    ad = {"JobCurrentStartDate": 1000}
    assert not is_true("(time() - JobCurrentStartDate) > MaxRuntime", ad, now=10**9)
    assert not is_true('regexp("x", Owner)', ad, now=10**9)
    assert not is_true("TARGET.Memory > 1", ad, now=10**9)


@pytest.mark.parametrize(("requested", "provisioned"), [(7, 2048), (1048576, 1049600)])
def test_disk_is_provisioned_with_the_startds_slop(requested: int, provisioned: int,
                                                   tmp_path: Path):
    # HTCondor 25.0 (cross-checked): quantize(RequestDisk, 1024) plus 1024 KiB of slop.
    spec = spec_of(f"executable = /bin/true\nrequest_disk = {requested}\nqueue", tmp_path)
    assert provision(spec, 1, "vm", slot_disk=78177584).disk == provisioned
