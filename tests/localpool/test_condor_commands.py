"""condor_submit, condor_q and condor_rm: output formats and exit codes, as HTCondor's."""

from __future__ import annotations

import re
from pathlib import Path

from .helpers import PYTHON, Pool, batchspawner_query, parse_old_ad, sleeper, user_dir, wait_for


def test_submit_prints_submitting_then_the_cluster_and_exits_0(pool: Pool, submit_dir: Path):
    (submit_dir / "job.sub").write_text(sleeper(0.1))
    result = pool.run("condor_submit", "job.sub", cwd=submit_dir)
    assert result.returncode == 0
    assert re.fullmatch(r"Submitting job\(s\)\.\n1 job\(s\) submitted to cluster \d+\.\n",
                        result.stdout)


def test_submit_reads_the_description_from_stdin_like_batchspawner(pool: Pool, submit_dir: Path):
    result = pool.run("condor_submit", stdin=sleeper(0.1), cwd=submit_dir)
    assert result.returncode == 0
    assert re.search(r".*submitted to cluster ([0-9]+)", result.stdout)


def test_cluster_ids_count_up(pool: Pool, submit_dir: Path):
    first = pool.submit(sleeper(0.1), submit_dir)
    assert pool.submit(sleeper(0.1), submit_dir) == first + 1


def test_bad_submit_file_prints_condor_submits_error_and_exits_1(pool: Pool, submit_dir: Path):
    # HTCondor 25.0: "Submitting job(s)" stays on stdout without its newline.
    result = pool.run("condor_submit", stdin="executable = /no/such\nqueue\n", cwd=submit_dir)
    assert (result.returncode, result.stdout) == (1, "Submitting job(s)")
    assert result.stderr == (
        "\nERROR: Can't access executable file /no/such: No such file or directory\n")


def test_missing_submit_file_is_one_error_line(pool: Pool, submit_dir: Path):
    result = pool.run("condor_submit", "nothere.sub", cwd=submit_dir)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "\nERROR: Failed to open command file (nothere.sub) (No such file or directory)\n")


def test_unreadable_submit_line_gives_its_line_number_and_the_source(
    pool: Pool, submit_dir: Path
):
    result = pool.run("condor_submit", stdin=sleeper(0.1) + "not a command\n", cwd=submit_dir)
    line = sleeper(0.1).count("\n") + 1
    assert (result.returncode, result.stderr) == (1, (
        f"\nERROR: on Line {line} of <stdin>: \n"
        f"\nERROR: Failed to parse command file (line {line}).\n"))


def test_a_syntax_error_in_an_expression_is_refused(pool: Pool, submit_dir: Path):
    result = pool.run("condor_submit", stdin=sleeper(extra="+MaxRuntime = 3600 +"),
                      cwd=submit_dir)
    assert (result.returncode, result.stderr) == (
        1, "ERROR: Parse error in expression: \n\tMaxRuntime = 3600 +\n\t\n")


def test_submit_dash_is_verbose_and_prints_no_cluster_line(pool: Pool, submit_dir: Path):
    # HTCondor 25.0: `condor_submit -` prints the job ad; batchspawner's job id regex
    # finds nothing in it. Submit on stdin without `-`.
    result = pool.run("condor_submit", "-", stdin=sleeper(0.1), cwd=submit_dir)
    assert result.returncode == 0
    assert re.match(r"\n\*\* Proc (\d+)\.0:\n", result.stdout)
    assert "submitted to cluster" not in result.stdout
    assert parse_old_ad(result.stdout.split(":\n", 1)[1]) is not None


def test_a_description_without_queue_submits_one_job(pool: Pool, submit_dir: Path):
    result = pool.run("condor_submit", stdin=sleeper(0.1).replace("queue\n", ""),
                      cwd=submit_dir)
    assert (result.returncode, result.stderr) == (0, "")
    assert re.fullmatch(r"Submitting job\(s\)\.\n1 job\(s\) submitted to cluster \d+\.\n",
                        result.stdout)


def test_a_missing_executable_that_is_not_transferred_holds_the_job(
    pool: Pool, submit_dir: Path
):
    description = ("executable = /no/such\narguments = a b\ntransfer_executable = false\n"
                   "queue\n")
    cluster = pool.submit(description, submit_dir)
    pool.wait_status(cluster, "5")
    held = pool.run("condor_q", str(cluster), "-af", "HoldReasonCode", "HoldReasonSubCode",
                    "HoldReason").stdout
    assert re.fullmatch(r"6 2 Error from slot1_\d+@\S+: Failed to execute '/no/such' with "
                        r"arguments a b: \(errno=2: 'No such file or directory'\)\n", held)


def test_missing_input_files_hold_the_job_when_it_starts(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(extra="transfer_input_files = gone, alsogone"), submit_dir)
    pool.wait_status(cluster, "5")
    held = pool.run("condor_q", str(cluster), "-af", "HoldReasonCode", "HoldReason").stdout
    assert re.fullmatch(
        r"13 Transfer input files failure at access point \S+ while sending files to "
        r"execution point slot1_\d+@\S+\. Details: 2 total failures: first failure: "
        rf"reading from file {submit_dir}/gone: \(errno 2\) No such file or directory\n", held)


def test_batchspawner_query_shows_1_while_idle(make_pool, tmp_path: Path):
    pool = make_pool(idle_delay=60)
    submit_dir = pool.root / "s"
    submit_dir.mkdir()
    cluster = pool.submit(sleeper(), submit_dir)
    result = pool.run(*batchspawner_query(cluster))
    assert (result.returncode, result.stdout) == (0, "1, \n")


def test_batchspawner_query_shows_2_and_the_slot_while_running(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(), submit_dir)
    pool.wait_status(cluster, "2")
    result = pool.run(*batchspawner_query(cluster))
    assert result.returncode == 0
    assert re.fullmatch(r"2, slot1_\d+@\S+\n", result.stdout)
    assert re.match(r"^\w*, .*@([^ ]*)", result.stdout)  # batchspawner's state_exechost_re


def test_condor_q_prints_nothing_and_exits_0_once_the_job_left_the_queue(
    pool: Pool, submit_dir: Path
):
    cluster = pool.submit(sleeper(0), submit_dir)
    wait_for(lambda: not pool.in_queue(cluster), what="the job to leave the queue")
    result = pool.run(*batchspawner_query(cluster))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_condor_q_format_accepts_printf_conversions_and_escapes(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(extra="request_cpus = 2"), submit_dir)
    result = pool.run("condor_q", str(cluster), "-format", "%d|", "RequestCpus",
                      "-format", "%s\\n", "Cmd", "-format", "%s", "NoSuchAttr")
    assert result.stdout == f"2|{PYTHON}\n"


def test_condor_q_af_prints_undefined_for_missing_attributes(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(), submit_dir)
    result = pool.run("condor_q", str(cluster), "-af", "ClusterId", "NoSuchAttr")
    assert result.stdout == f"{cluster} undefined\n"


def test_condor_q_af_j_puts_the_job_id_first(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(), submit_dir)
    result = pool.run("condor_q", str(cluster), "-af:j", "ClusterId", "NoSuchAttr")
    assert result.stdout == f"{cluster}.0 {cluster} undefined\n"


def test_condor_q_answers_for_several_ids_and_skips_the_ones_not_in_the_queue(
    pool: Pool, submit_dir: Path
):
    first = pool.submit(sleeper(), submit_dir)
    second = pool.submit(sleeper(), submit_dir)
    result = pool.run("condor_q", str(first), "999999", str(second), "-af:j", "ClusterId")
    assert sorted(result.stdout.splitlines()) == sorted(
        [f"{first}.0 {first}", f"{second}.0 {second}"])


def test_condor_q_long_prints_an_ad_htcondor_can_parse(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(extra='+ContainerOS = "Rocky9"'), submit_dir)
    result = pool.run("condor_q", "-l", str(cluster))
    ad = parse_old_ad(result.stdout)
    assert ad["ClusterId"] == cluster
    assert ad["ContainerOS"] == "Rocky9"
    assert ad["Cmd"] == PYTHON


def test_every_user_can_read_every_jobs_environment_including_getenv_secrets(
    pool: Pool, users: tuple[str, str]
):
    alice, bob = users
    description = sleeper(extra="getenv = True")
    env = {"JUPYTERHUB_API_TOKEN": "alices-secret", "PATH": "/usr/bin:/bin"}
    result = pool.run("condor_submit", stdin=description, cwd=user_dir(pool, alice),
                      user=alice, env=env)
    cluster = int(result.stdout.split()[-1].rstrip("."))
    seen_by_bob = pool.run("condor_q", "-all", str(cluster), "-af", "Environment", user=bob)
    assert "JUPYTERHUB_API_TOKEN=alices-secret" in seen_by_bob.stdout


def test_condor_rm_marks_the_cluster_for_removal_and_exits_0(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(), submit_dir)
    result = pool.run("condor_rm", str(cluster))
    assert (result.returncode, result.stdout) == (
        0, f"All jobs in cluster {cluster} have been marked for removal\n")


def test_condor_rm_of_an_unknown_cluster_fails_with_exit_1(pool: Pool):
    # HTCondor 25.0 prints an empty line before its errors.
    result = pool.run("condor_rm", "4242")
    assert result.returncode == 1
    assert result.stderr == "\nCouldn't find/remove all jobs in cluster 4242\n"


def test_condor_rm_of_an_unknown_job_id_says_not_found(pool: Pool):
    result = pool.run("condor_rm", "4242.0")
    assert (result.returncode, result.stderr) == (1, "\nJob 4242.0 not found\n")


def test_condor_rm_of_a_job_already_being_removed_fails(make_pool):
    # HTCondor 25.0: a job in JobStatus 3 (vacating) is not removed again.
    pool = make_pool(vacate_grace=30)
    submit_dir = pool.root / "s"
    submit_dir.mkdir()
    ignore_term = (
        f"executable = {PYTHON}\n"
        "arguments = \"-c 'import signal, time; signal.signal(signal.SIGTERM, "
        "signal.SIG_IGN); open(''ready'', ''w'').close(); time.sleep(60)'\"\n"
        "queue\n"
    )
    cluster = pool.submit(ignore_term, submit_dir)
    wait_for((submit_dir / "ready").exists, what="the job to start")
    assert pool.run("condor_rm", str(cluster)).returncode == 0
    pool.wait_status(cluster, "3")
    again = pool.run("condor_rm", str(cluster))
    assert (again.returncode, again.stderr) == (
        1, f"\nCouldn't find/remove all jobs in cluster {cluster}\n")
    dotted = pool.run("condor_rm", f"{cluster}.0")
    assert (dotted.returncode, dotted.stderr) == (
        1, f"\nJob {cluster}.0 already marked for removal\n")


def test_a_removed_job_shows_status_3_until_it_is_gone(make_pool):
    pool = make_pool(leave_queue_delay=1)
    submit_dir = pool.root / "s"
    submit_dir.mkdir()
    cluster = pool.submit(sleeper(), submit_dir)
    pool.wait_status(cluster, "2")
    pool.run("condor_rm", str(cluster))
    assert pool.run(*batchspawner_query(cluster)).stdout.startswith("3, ")
    wait_for(lambda: not pool.in_queue(cluster), what="the removed job to leave")


def test_only_the_owner_may_remove_a_job(pool: Pool, users: tuple[str, str]):
    alice, bob = users
    cluster = pool.submit(sleeper(), user_dir(pool, alice), user=alice)
    result = pool.run("condor_rm", str(cluster), user=bob)
    assert result.returncode == 1
    assert result.stderr == f"\nCouldn't find/remove all jobs in cluster {cluster}\n"
    assert pool.status(cluster) in ("1", "2")
    assert pool.run("condor_rm", str(cluster), user=alice).returncode == 0


def test_condor_rm_of_another_users_job_id_says_permission_denied(
    pool: Pool, users: tuple[str, str]
):
    alice, bob = users
    cluster = pool.submit(sleeper(), user_dir(pool, alice), user=alice)
    result = pool.run("condor_rm", f"{cluster}.0", user=bob)
    assert (result.returncode, result.stderr) == (
        1, f"\nPermission denied to remove job {cluster}.0\n")


def test_condor_rm_of_a_user_without_jobs_names_the_user(pool: Pool, users: tuple[str, str]):
    _, bob = users
    result = pool.run("condor_rm", bob)
    assert (result.returncode, result.stderr) == (
        1, f'\nCouldn\'t find/remove all jobs of user "{bob}"\n')


def test_jobs_stay_idle_while_the_slot_is_full(make_pool):
    pool = make_pool(slot_cpus=2)
    submit_dir = pool.root / "s"
    submit_dir.mkdir()
    first = pool.submit(sleeper(extra="request_cpus = 2"), submit_dir)
    pool.wait_status(first, "2")
    second = pool.submit(sleeper(extra="request_cpus = 1"), submit_dir)
    wait_for(lambda: pool.layout.record(second).joinpath("shadow.json").exists())
    assert pool.status(second) == "1"
    pool.run("condor_rm", str(first))
    pool.wait_status(second, "2")
