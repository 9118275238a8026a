"""Reading ClassAd files: both parsers, on real ads and on the old syntax's corners."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from classad_oracle import classad_value_parser
from fixtures.jobemu import REAL_CASES, ad_path
from hypothesis import given, settings
from hypothesis import strategies as st

from jobwrapper.job.classad import (
    MAX_AD_BYTES,
    AdFileError,
    Expression,
    parse_ad_text,
    parse_environment,
    read_ad_file,
)

classad2 = pytest.importorskip("classad2")
PARSERS = pytest.mark.parametrize("use_module", [True, False], ids=["classad2", "literal"])


ORACLE = classad_value_parser()


def reader(use_module: bool):
    """HTCondor's own value parser (the oracle), or jobwrapper's (None: the default)."""
    return ORACLE if use_module else None


def parse(text: str, use_module: bool):
    return parse_ad_text(text, "test.ad", reader(use_module))


def printed_old(name: str, value: object) -> str:
    """How HTCondor writes one attribute in the old syntax."""
    return classad2.ClassAd({name: value}).printOld()


def test_the_oracle_is_htcondors_own_parser():
    # without it the comparisons below would compare our parser with itself
    assert ORACLE is not None and ORACLE.__module__ == "classad_oracle"
    assert ORACLE("X", "1;2") == Expression("1;2")  # the bindings read '1' from it


def test_reading_an_ad_loads_no_htcondor_bindings():
    # 17 ms of the job's start (bench/launch_overhead): the read stage parses itself
    code = ("import sys; from jobwrapper.job.classad import read_ad_file; "
            f"read_ad_file({str(ad_path('real-notebook', 'job.ad'))!r}); "
            "print(sorted(m for m in sys.modules if m.startswith(('classad', 'htcondor'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == "[]"


@PARSERS
@pytest.mark.parametrize("case", REAL_CASES)
def test_real_ads_parse_without_warnings(case, use_module):
    for name in ("job.ad", "machine.ad"):
        ad, warnings = read_ad_file(str(ad_path(case, name)), value_parser=reader(use_module))
        assert warnings == []
        assert len(ad) > 100


@pytest.mark.parametrize("case", REAL_CASES)
@pytest.mark.parametrize("name", ["job.ad", "machine.ad"])
def test_both_parsers_agree_on_every_attribute_of_real_ads(case, name):
    with_module, _ = read_ad_file(str(ad_path(case, name)), value_parser=ORACLE)
    literal, _ = read_ad_file(str(ad_path(case, name)))
    assert with_module.names() == literal.names()
    for attribute in with_module.names():
        assert with_module.get(attribute) == literal.get(attribute), attribute


@PARSERS
def test_real_notebook_ad_values(use_module):
    job, _ = read_ad_file(str(ad_path("real-notebook", "job.ad")), reader(use_module))
    machine, _ = read_ad_file(str(ad_path("real-notebook", "machine.ad")), reader(use_module))
    assert job.get("RequestCpus") == 2
    assert job.get("ContainerOS") == "Rocky9"
    assert job.get("Environment") == ""
    assert job.get("SpoolOnEvict") is False
    assert job.get("JobCurrentReconnectAttempt") is None
    assert machine.get("Cpus") == 2
    assert machine.get("TotalSlotDisk") == 1049600.0


@PARSERS
def test_attribute_names_are_case_insensitive(use_module):
    ad, _ = parse("RequestCpus = 4\n", use_module)
    assert ad.get("requestcpus") == 4
    assert "REQUESTCPUS" in ad


@PARSERS
@pytest.mark.parametrize("text", [
    "10 * 60", "MY.Cpus", "TotalSlotCpus * 1", "{1, 2}", "[ a = 1 ]", "error",
    "ifThenElse(MemoryUsage =!= undefined, MemoryUsage, 2048)",
])
def test_expressions_are_kept_as_text_and_never_evaluated(text, use_module):
    ad, warnings = parse(f"X = {text}\n", use_module)
    assert ad.get("X") == Expression(text)
    assert warnings == []


@PARSERS
@pytest.mark.parametrize("text", ["1;2", "1_000", "+4", "0x10", "007", "2.", "- 3", '"a" "b"'])
def test_text_that_only_starts_like_a_literal_is_an_expression(text, use_module):
    ad, _ = parse(f"X = {text}\n", use_module)
    assert isinstance(ad.get("X"), Expression)


@PARSERS
def test_integers_beyond_64_bits_keep_their_value(use_module):
    ad, _ = parse("X = 99999999999999999999999\n", use_module)
    assert ad.get("X") == 99999999999999999999999


@PARSERS
@pytest.mark.parametrize(("text", "value"), [
    ("-3", -3), ("2.5", 2.5), ("1E3", 1000.0), ("TRUE", True), ("false", False),
    ("undefined", None), ('""', ""),
])
def test_literals_become_python_values(text, value, use_module):
    ad, _ = parse(f"X = {text}\n", use_module)
    assert ad.get("X") == value
    assert type(ad.get("X")) is type(value)


@PARSERS
@pytest.mark.parametrize(("text", "value"), [
    (r'"C:\Users\x"', "C:\\Users\\x"),  # a backslash is an ordinary character
    (r'"a\nb"', "a\\nb"),
    (r'"q\"uote"', 'q"uote'),
    (r'"\"x\""', '"x"'),
    (r'"dir\"', "dir\\"),  # backslash-quote at the very end closes the string
])
def test_old_syntax_strings_escape_only_quotes(text, value, use_module):
    ad, _ = parse(f"X = {text}\n", use_module)
    assert ad.get("X") == value


@PARSERS
def test_string_with_newline_spans_lines_and_hides_no_attribute(use_module):
    value = 'Rocky9\nRequestCpus = 64\nend'
    ad, warnings = parse(printed_old("ContainerOS", value) + "RequestCpus = 2\n", use_module)
    assert ad.get("ContainerOS") == value
    assert ad.get("RequestCpus") == 2
    assert warnings == []


@PARSERS
def test_unicode_line_separators_inside_strings_are_content(use_module):
    value = "x\x1cy\x85z\u2028w"
    ad, _ = parse(printed_old("X", value) + "Y = 1\n", use_module)
    assert ad.get("X") == value
    assert ad.get("Y") == 1


@PARSERS
def test_string_truncated_at_end_of_file_counts_as_missing_with_a_warning(use_module):
    ad, warnings = parse('RequestCpus = 4\nContainerOS = "Roc', use_module)
    assert "ContainerOS" not in ad
    assert ad.get("RequestCpus") == 4
    assert len(warnings) == 1
    assert "test.ad:2: ContainerOS" in warnings[0]


@PARSERS
def test_unclosed_string_does_not_swallow_the_lines_after_it(use_module):
    ad, warnings = parse('A = "open\nB = 2\nC = "closed"\nD = 4\n', use_module)
    assert "A" not in ad
    assert (ad.get("B"), ad.get("C"), ad.get("D")) == (2, "closed", 4)
    assert "A" in warnings[0]


@PARSERS
def test_many_bad_lines_give_one_warning(use_module):
    ad, warnings = parse("A = 1\n" + "garbage line\n" * 500, use_module)
    assert ad.get("A") == 1
    assert len(warnings) == 1
    assert "test.ad:2:" in warnings[0]
    assert "499 more" in warnings[0]


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.one_of(
    st.sampled_from('\\"\n $`\'\t='),  # the characters the old syntax could trip over
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
)))
def test_any_string_htcondor_writes_reads_back_unchanged_with_both_parsers(value):
    text = printed_old("X", value) + "Y = 1\n"
    for use_module in (True, False):
        ad, _ = parse(text, use_module)
        assert ad.get("X") == value
        assert ad.get("Y") == 1


def test_missing_file_is_an_ad_file_error_naming_the_path(tmp_path):
    with pytest.raises(AdFileError, match=f"{tmp_path}/nope.ad: the file does not exist"):
        read_ad_file(str(tmp_path / "nope.ad"))


def test_directory_is_an_ad_file_error(tmp_path):
    with pytest.raises(AdFileError, match="is a directory"):
        read_ad_file(str(tmp_path))


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "the file is empty"),
    (b"  \n\n", "the file is empty"),
    (b"A = 1\n\0\0B = 2\n", "binary data"),
    (b"\xff\xfe garbage\n", "not a ClassAd"),
])
def test_files_that_are_not_ads_are_rejected_whole(tmp_path, content, reason):
    path = tmp_path / "x.ad"
    path.write_bytes(content)
    with pytest.raises(AdFileError, match=reason):
        read_ad_file(str(path))


def test_huge_file_is_rejected_without_reading_it_all(tmp_path):
    path = tmp_path / "huge.ad"
    with open(path, "wb") as handle:
        handle.truncate(MAX_AD_BYTES + 10)  # sparse: cheap to make, holes read as NUL
    with open(path, "r+b") as handle:
        handle.write(b"A = 1\n")
    with pytest.raises(AdFileError, match="larger than 16 MiB"):
        read_ad_file(str(path))


@pytest.mark.parametrize(("text", "expected"), [
    ("", {}),
    ("OMP_NUM_THREADS=1 B=2", {"OMP_NUM_THREADS": "1", "B": "2"}),
    ("A='x y' B=''", {"A": "x y", "B": ""}),
    ("A='it''s'", {"A": "it's"}),
    ("NOEQUALS A=1", {"A": "1"}),
])
def test_environment_attribute_parses_htcondor_new_syntax(text, expected):
    assert parse_environment(text) == expected


def all_fixture_ads():
    root = ad_path("good", "job.ad").parent.parent
    return sorted(str(path.relative_to(root)) for path in root.glob("*/*.ad"))


@pytest.mark.parametrize("relative", all_fixture_ads())
def test_both_parsers_agree_on_every_fixture_ad(relative):
    path = str(ad_path(*relative.split("/")))
    try:
        with_module = read_ad_file(path, value_parser=ORACLE)
    except AdFileError as error:
        with pytest.raises(AdFileError, match=re.escape(str(error))):
            read_ad_file(path)
        return
    literal = read_ad_file(path)
    assert with_module[1] == literal[1]
    assert [(n, with_module[0].get(n)) for n in with_module[0].names()] == [
        (n, literal[0].get(n)) for n in literal[0].names()]


@PARSERS
@pytest.mark.parametrize("value", ['"\n', '"\n"', 'x"\nY = 2', "C:\\", 'a\\"\nb', '\r\n', '\n"\n'])
def test_a_quote_before_a_raw_newline_reads_back_unchanged(value, use_module):
    # found by the property test below: HTCondor writes '"\n' as `X = "\"`, newline, `"`
    ad, warnings = parse(printed_old("X", value) + "Y = 1\n", use_module)
    assert (ad.get("X"), ad.get("Y"), warnings) == (value, 1, [])
