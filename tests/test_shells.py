"""shells.py: what each renderer prints, and what it refuses to print."""

from __future__ import annotations

import json
import subprocess

from jobwrapper.job.shells import (
    quote_csh,
    quote_sh,
    render,
    render_csh,
    render_message_csh,
    render_message_sh,
)


def test_sh_is_one_export_with_a_line_per_variable_in_plan_order():
    assert render("sh", {"B": "2", "A": "1"}) == "export \\\n  B='2' \\\n  A='1'\n"


def test_sh_unsets_come_first_in_one_command():
    assert render("sh", {"A": "1"}, unset=["X", "Y"]).startswith("unset X Y\nexport")


def test_sh_with_nothing_to_set_prints_no_bare_export():
    assert "export" not in render("sh", {})


def test_csh_lines_are_setenv_ending_in_semicolons_for_backquote_eval():
    assert render_csh({"A": "1"}, unset=["OLD"]) == "unsetenv OLD;\nsetenv A '1';\n"


def test_names_that_are_not_identifiers_are_skipped():
    env = {"OK": "1", "1BAD": "x", "BAD-NAME": "x", "": "x", "A B": "x", "A;rm": "x"}
    for shell in ("sh", "csh"):
        assert "BAD" not in render(shell, env) and "rm" not in render(shell, env)
        assert "OK" in render(shell, env)


def test_names_a_shell_reserves_are_skipped():
    assert render("sh", {"UID": "0", "status": "1", "path": "/x"}) == "\n"


def test_values_with_nul_are_skipped_because_no_environment_can_hold_them():
    assert render("sh", {"A": "a\0b"}) == "\n"
    assert render("csh", {"A": "a\0b"}) == "\n"


def test_empty_values_are_quoted():
    assert quote_sh("") == "''"
    assert quote_csh("") == "''"


def test_csh_escapes_history_quote_and_backslash_outside_the_quotes():
    assert quote_csh("a!b'c\\d") == "'a'\\!'b'\\''c'\\\\'d'"


def test_csh_newline_is_a_backslash_newline_inside_quotes():
    assert quote_csh("a\nb") == "'a''\\\n''b'"


def test_json_keeps_every_value_as_it_is():
    out = json.loads(render("json", {"A": "$(x)\n"}, unset=["B"]))
    assert out == {"set": {"A": "$(x)\n"}, "unset": ["B"]}


def test_sh_message_is_printed_verbatim_by_one_printf(tmp_path):
    message = "You requested 4 core(s)\n-n \\c $HOME `date` !! 'q' %s\n\nlast"
    script = tmp_path / "message.sh"
    script.write_text(render_message_sh(message))
    out = subprocess.run(["dash", "-c", f". {script}"], capture_output=True, text=True, check=True)
    assert out.stdout == message + "\n"


def test_csh_message_is_printed_verbatim_with_the_users_echo_style_restored(tmp_path):
    message = "You requested 4 core(s)\n-n \\c $HOME `date` !! 'q'"
    script = tmp_path / "message.csh"
    script.write_text(render_message_csh(message))
    out = subprocess.run(["tcsh", "-f", "-c", f"set echo_style = sysv; source {script}; "
                          "echo $echo_style"], capture_output=True, text=True, check=True)
    assert out.stdout == message + "\nsysv\n"
