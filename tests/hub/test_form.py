"""The options form's server-side validation and its submit lines (jobwrapper/hub/form.py)."""

from __future__ import annotations

import time

import pytest
from traitlets import TraitError
from traitlets.config import Config

from jobwrapper.hub.form import (
    FormError,
    NotebookOptions,
    ResourceForm,
    apply_user_options,
    options_from_form,
    submit_lines,
    validate_options,
)


@pytest.fixture
def form() -> ResourceForm:
    return ResourceForm(
        max_cpus=8, memory_choices_mb=[2048, 4096, 8192], max_runtime_hours=12, max_gpus=1,
        cephfs_io_classes=["low", "high"],
        container_os_choices={"Debian12": "Debian 12", "Rocky9": "Rocky Linux 9"},
        environments={"stable": "stable", "testing": "testing"},
    )


GOOD = [
    ("cpus", ["1"], 1), ("cpus", ["8"], 8), ("cpus", 4, 4), ("cpus", " 2 ", 2),
    ("memory_mb", ["2048"], 2048), ("memory_mb", 8192, 8192),
    ("runtime_hours", ["1"], 1), ("runtime_hours", ["12"], 12), ("runtime_hours", 6, 6),
    ("gpus", ["0"], 0), ("gpus", ["1"], 1),
    ("cephfs_io", ["high"], "high"), ("cephfs_io", "low", "low"),
    ("container_os", ["Rocky9"], "Rocky9"),
    ("environment", ["testing"], "testing"),
]


@pytest.mark.parametrize(("field", "raw", "expected"), GOOD)
def test_good_value_is_accepted(form, field, raw, expected):
    assert getattr(validate_options({field: raw}, form), field) == expected


BAD = [
    # kind of bad value, field, raw value, words the message must contain
    ("out of range", "cpus", ["9"], "not offered"),
    ("zero", "cpus", ["0"], "not offered"),
    ("not a number", "cpus", ["four"], "not offered"),
    ("float", "cpus", ["1.5"], "not offered"),
    ("not in choices", "memory_mb", ["5000"], "not offered"),
    ("above maximum", "runtime_hours", ["13"], "outside the allowed range 1-12"),
    ("zero", "runtime_hours", ["0"], "outside the allowed range"),
    ("negative", "runtime_hours", ["-1"], "outside the allowed range"),
    ("float", "runtime_hours", ["2.5"], "not a whole number"),
    ("empty", "runtime_hours", [""], "not a whole number"),
    ("huge", "runtime_hours", ["99999999999999"], "not a whole number"),
    ("above maximum", "gpus", ["2"], "outside the allowed range 0-1"),
    ("negative", "gpus", ["-1"], "outside the allowed range"),
    ("not allowed", "cephfs_io", ["extreme"], "not offered"),
    ("not allowed", "container_os", ["Windows"], "not offered"),
    ("label instead of name", "container_os", ["Debian 12"], "not offered"),
    ("not allowed", "environment", ["nightly"], "not offered"),
    ("quote", "environment", ['stable" && true'], "not offered"),
    ("newline", "environment", ["stable\n+Evil = 1"], "not offered"),
    ("two values", "cpus", ["1", "2"], "exactly one"),
    ("no value", "cpus", [], "exactly one"),
    ("boolean", "gpus", True, "not bool"),
    ("float type", "cpus", 2.0, "not float"),
    ("dict", "environment", {"a": 1}, "not dict"),
]


@pytest.mark.parametrize(("kind", "field", "raw", "words"), BAD,
                         ids=[f"{b[1]}-{b[0]}" for b in BAD])
def test_bad_value_is_refused_with_a_message(form, kind, field, raw, words):
    with pytest.raises(FormError) as caught:
        validate_options({field: raw}, form)
    message = str(caught.value)
    assert words in message
    assert "\n" not in message
    assert caught.value.status_code == 400
    assert caught.value.jupyterhub_message == message


def test_unknown_option_is_refused(form):
    with pytest.raises(FormError, match="Unknown option 'options'"):
        validate_options({"options": ["executable = /bin/evil"]}, form)


def test_xsrf_field_is_ignored(form):
    assert validate_options({"_xsrf": ["token"]}, form).cpus == 1


def test_non_mapping_is_refused(form):
    with pytest.raises(FormError, match="set of named values"):
        validate_options(["cpus"], form)


def test_missing_fields_take_the_defaults(form):
    assert validate_options({}, form) == NotebookOptions(
        cpus=1, memory_mb=4096, runtime_hours=6, gpus=0, cephfs_io="low",
        container_os="Debian12", environment="stable")


def test_cpu_choices_restrict_the_counts(form):
    form.cpu_choices = [1, 2, 4, 16]
    assert form.cpu_options() == [1, 2, 4]
    with pytest.raises(FormError, match="choose one of 1, 2, 4"):
        validate_options({"cpus": ["3"]}, form)


def test_options_from_form_reads_the_hub_config():
    class FakeSpawner:
        config = Config({"ResourceForm": {"max_cpus": 2}})

    from traitlets.config import LoggingConfigurable

    spawner = LoggingConfigurable(config=FakeSpawner.config)
    with pytest.raises(FormError):
        options_from_form({"cpus": ["4"]}, spawner=spawner)
    assert options_from_form({"cpus": ["2"]}, spawner=spawner)["cpus"] == 2


def test_apply_user_options_keeps_only_validated_values():
    from traitlets.config import LoggingConfigurable

    spawner = LoggingConfigurable()
    with pytest.raises(FormError):
        apply_user_options(spawner, {"cpus": 1, "options": "executable = /bin/evil"})
    apply_user_options(spawner, {"cpus": "1", "environment": "testing"})
    assert spawner.user_options["cpus"] == 1
    assert spawner.user_options["environment"] == "testing"
    assert set(spawner.user_options) == {
        "cpus", "memory_mb", "runtime_hours", "gpus", "cephfs_io", "container_os",
        "environment", "interface"}


@pytest.mark.parametrize("trait", ["cephfs_io_classes", "container_os_choices", "environments"])
def test_config_with_an_unsafe_name_is_refused(trait):
    bad = ['low"\nexecutable = /bin/evil'] if trait == "cephfs_io_classes" else {
        "a b": "label"}
    with pytest.raises(TraitError, match="not a safe name"):
        ResourceForm(**{trait: bad})


def test_config_without_choices_is_refused():
    with pytest.raises(TraitError, match="at least one"):
        ResourceForm(environments={})


def chosen() -> NotebookOptions:
    return NotebookOptions(cpus=4, memory_mb=8192, runtime_hours=6, gpus=1,
                           cephfs_io="high", container_os="Rocky9", environment="testing")


def test_options_map_to_submit_lines():
    assert submit_lines(chosen(), runtime_grace_seconds=300) == [
        "request_cpus = 4",
        "request_memory = 8192",
        "request_gpus = 1",
        '+ContainerOS = "Rocky9"',
        '+JupyterEnvironment = "testing"',
        '+CephFS_IO = "high"',
        "+MaxRuntime = 21600",
        "periodic_remove = (JobStatus == 2) && "
        "((time() - EnteredCurrentStatus) > (MaxRuntime + 300))",
    ]


def test_submit_lines_refuse_an_unvalidated_name():
    evil = NotebookOptions(cpus=1, memory_mb=1, runtime_hours=1, gpus=0, cephfs_io="low",
                           container_os='x"\nexecutable = /bin/evil', environment="stable")
    with pytest.raises(FormError):
        submit_lines(evil)


@pytest.mark.parametrize("payload", [
    "2\nexecutable = /bin/evil", "2\rexecutable = /bin/evil", '2"', "2 # x",
    "stable\n+Evil = true", "$(evil)", "low\x00high",
])
@pytest.mark.parametrize("field", ["cpus", "memory_mb", "runtime_hours", "gpus", "cephfs_io",
                                   "container_os", "environment"])
def test_no_form_value_can_add_a_submit_line(form, field, payload):
    try:
        options = validate_options({field: [payload]}, form)
    except FormError:
        return
    lines = submit_lines(options)
    assert len(lines) == 8
    assert not any("evil" in line.lower() for line in lines)


def test_periodic_remove_fires_only_after_the_runtime_and_grace():
    classad2 = pytest.importorskip("classad2")  # HTCondor's own ClassAd evaluator
    expression = classad2.ExprTree(submit_lines(chosen(), 300)[-1].split(" = ", 1)[1])
    now = int(time.time())

    def removes(status: int, running_for: int) -> bool:
        ad = classad2.ClassAd({"JobStatus": status, "EnteredCurrentStatus": now - running_for,
                               "MaxRuntime": 21600})
        return bool(expression.eval(ad))

    assert not removes(2, 21600 + 290)
    assert removes(2, 21600 + 310)
    assert not removes(1, 10 * 21600)  # idle jobs wait as long as they must
