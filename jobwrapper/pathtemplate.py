"""The site config's path templates: ``/data/{initial}/{user}``, ``{home}/.bashrc.d/{container}``.

A deliberately small language: named placeholders in braces and nothing else. No
format specs, conversions, indexing or attribute access (``{user[0]}``,
``{user!r}``, ``{user.__class__}`` are unknown placeholders, not tricks), no
escapes, and a brace outside a placeholder is an error. Templates are filled by
``fill`` with plain string replacement, never with ``str.format``.

Standard library only: config.py validates with it, job/login.py fills with it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Optional

PLACEHOLDERS: dict[str, str] = {
    "user": "the job's user (OsUser, else Owner, from the job ad)",
    "initial": "the first character of {user}",
    "group": "the name of the job's primary group",
    "home": "the user's home directory (from the passwd database)",
    "container": "the job's container OS, if a plain name (ContainerOS)",
}
_TOKEN = re.compile(r"\{([^{}]*)\}")


def known_placeholders() -> str:
    return ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)


def template_problem(template: str) -> Optional[str]:
    """Why ``template`` is not a usable path template, in a few words; None if it is."""
    for match in _TOKEN.finditer(template):
        if match.group(1) not in PLACEHOLDERS:
            return (f"unknown placeholder {match.group(0)}; known: {known_placeholders()} "
                    "(no format specs or indexing)")
    rest = _TOKEN.sub("", template)
    if "{" in rest or "}" in rest:
        return f"a brace outside a placeholder in {template!r}; known: {known_placeholders()}"
    if not (template.startswith("/") or template.startswith("{home}")):
        return f"{template!r} must be an absolute path (start with / or {{home}})"
    if "\0" in template or "\n" in template:
        return "must not contain NUL or newline characters"
    return None


def placeholders_in(template: str) -> list[str]:
    """The placeholder names ``template`` uses, in order."""
    return [match.group(1) for match in _TOKEN.finditer(template)]


def fill(template: str, values: Mapping[str, Optional[str]]) -> Optional[str]:
    """``template`` with each placeholder replaced, as a normalised absolute path; None
    when a placeholder it uses has no value, or the result is not an absolute path
    free of ``..`` components. ``template`` must have passed ``template_problem``."""
    if any(not values.get(name) for name in placeholders_in(template)):
        return None
    path = _TOKEN.sub(lambda match: values[match.group(1)] or "", template)
    if not path.startswith("/") or ".." in path.split("/") or "\0" in path or "\n" in path:
        return None
    return os.path.normpath(path)
