"""Writing the report as STARTD_CRON output: old-syntax ClassAd lines, then ``-``.

The startd reads each line with HTCondor's old ClassAd parser: there a backslash
is an ordinary character and only ``\\"`` stands for a quote inside a string (this
is how HTCondor itself writes old ClassAds). So quotes are escaped, backslashes are
left alone, and control characters, which would end or corrupt the line, become
spaces. A line starting with ``-`` ends the ad; ``- update:true`` asks the startd to
send the new values to the collector at once.
"""

from __future__ import annotations

import math

from jobwrapper.health.checks import AttributeValue
from jobwrapper.health.report import HealthReport


def classad_string(text: str) -> str:
    """``text`` as an old-syntax ClassAd string literal on one line."""
    printable = "".join(char if char.isprintable() else " " for char in text)
    return '"' + printable.replace('"', '\\"') + '"'


def classad_value(value: AttributeValue) -> str:
    """One attribute value as ClassAd text; None (not measured) is ``undefined``."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.2f}" if math.isfinite(value) else "undefined"
    return classad_string(value)


def startd_cron_output(report: HealthReport, update_collector: bool = True) -> str:
    """The text ``jobwrapper health`` prints: one attribute per line, then the end line."""
    lines = [f"{name} = {classad_value(value)}" for name, value in report.attributes()]
    lines.append("- update:true" if update_collector else "-")
    return "\n".join(lines) + "\n"
