"""The process tree helpers, in a child Python so the test runner stays as it is."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_orphans_of_a_subreaper_are_found_and_killed() -> None:
    out = _run("""
        import subprocess, time
        from jobwrapper.inserver import proctree
        assert proctree.become_subreaper()
        # the shell exits at once: its setsid'd sleep becomes our orphan
        subprocess.run(["sh", "-c", "setsid sleep 1006 </dev/null >/dev/null 2>&1 &"])
        time.sleep(0.3)
        found = proctree.descendants()
        left = proctree.kill_tree(time.monotonic() + 5)
        print(len(found), len(left), len(proctree.descendants()))
    """)
    assert out == "1 0 0"


def test_zombie_orphans_are_reaped_after_patience() -> None:
    out = _run("""
        import subprocess, time
        from jobwrapper.inserver import proctree
        proctree.become_subreaper()
        subprocess.run(["sh", "-c", "sleep 0.1 &"])
        deadline = time.monotonic() + 30  # the orphan exits and waits to be reaped
        while time.monotonic() < deadline and not (
                proctree.descendants(include_zombies=True) and not proctree.descendants()):
            time.sleep(0.02)
        zombies = len(proctree.descendants(include_zombies=True))
        reaper = proctree.ZombieReaper(patience=0.2)
        first = reaper.sweep()
        time.sleep(0.3)
        second = reaper.sweep()
        print(zombies, first, second, len(proctree.descendants(include_zombies=True)))
    """)
    assert out == "1 0 1 0"
