"""Kernels: fill the kernels/ templates and the site's kernels for this job.

Kernel specs go into the job's private Jupyter data dir, which is first in
``JUPYTER_PATH``; ``~/.local`` and the transferred ``jupyter/`` are never touched.
Each kernel's ``env`` carries the thread variables and the environment (modules,
virtualenv) it needs, so a kernel does not depend on how the server was started.

Reading templates and finding interpreters is the read stage (``load_templates``,
``find_programs``); choosing and filling them is pure (``plan_kernels``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from jobwrapper.errors import EnvironmentSetupError

# config name (kernels.offer) -> template directory (= kernel name)
BUILTIN = {"python": "python3", "root": "root", "julia": "julia", "r": "ir"}
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.+-]+)\}")
_KERNEL_NAME = re.compile(r"[a-z0-9._-]+\Z", re.IGNORECASE)
_JUPYTER_PLACEHOLDERS = {"connection_file", "resource_dir"}


@dataclass(frozen=True)
class KernelTemplate:
    """A kernel.json as found on disk, with the directory holding its logos."""

    name: str
    spec: dict[str, Any]
    directory: str
    builtin: bool
    user: bool = False  # a user's own environment (kernels_user)


@dataclass(frozen=True)
class KernelPlan:
    """One kernel to write: ``<data dir>/kernels/<name>/kernel.json`` plus resources."""

    name: str
    spec: dict[str, Any]
    resources: tuple[str, ...] = ()  # files copied next to kernel.json (logos)


@dataclass(frozen=True)
class KernelChoice:
    """The kernels offered and, for each one left out, why."""

    offered: tuple[KernelPlan, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)


def template_root() -> str:
    """The kernels/ directory shipped with jobwrapper."""
    # a checkout: <repo>/kernels beside <repo>/jobwrapper/notebook/kernels.py
    checkout = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "kernels")
    for candidate in (checkout, os.path.join(sys.prefix, "share", "jobwrapper", "kernels")):
        if os.path.isdir(candidate):
            return candidate
    return checkout


def _read_template(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            spec = json.load(handle)
    except json.JSONDecodeError as error:
        raise EnvironmentSetupError(
            f"{path}: broken kernel template (line {error.lineno}: {error.msg}); "
            "fix the JSON or remove the kernel") from None
    except (OSError, UnicodeDecodeError) as error:
        raise EnvironmentSetupError(f"{path}: cannot read the kernel template ({error}); "
                                    "fix or remove it") from None
    problem = _spec_problem(spec)
    if problem:
        raise EnvironmentSetupError(f"{path}: broken kernel template ({problem}); "
                                    "fix or remove the kernel")
    return spec


def _spec_problem(spec: Any) -> Optional[str]:
    if not isinstance(spec, dict):
        return "not a JSON object"
    argv = spec.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        return "argv must be a non-empty list of strings"
    if not isinstance(spec.get("display_name"), str):
        return "display_name must be a string"
    if "env" in spec and not (isinstance(spec["env"], dict)
                              and all(isinstance(v, str) for v in spec["env"].values())):
        return "env must be an object of strings"
    return None


def load_templates(offer: Sequence[str], extra_dirs: Sequence[str],
                   root: Optional[str] = None) -> list[KernelTemplate]:
    """The built-in templates named in ``offer`` and every site kernel in ``extra_dirs``."""
    root = root or template_root()
    templates = []
    for key in offer:
        name = BUILTIN.get(key)
        if name is None:
            raise EnvironmentSetupError(
                f"kernels.offer: unknown kernel {key!r}; known: {', '.join(BUILTIN)}")
        directory = os.path.join(root, name)
        templates.append(KernelTemplate(name, _read_template(os.path.join(directory,
                                                                          "kernel.json")),
                                        directory, builtin=True))
    for extra in extra_dirs:
        if not os.path.isdir(extra):
            continue  # a CVMFS repository that is not mounted here: nothing to offer
        for name in sorted(os.listdir(extra)):
            path = os.path.join(extra, name, "kernel.json")
            if not os.path.isfile(path):
                continue
            if not _KERNEL_NAME.match(name):
                raise EnvironmentSetupError(
                    f"{os.path.join(extra, name)}: kernel names may use letters, digits "
                    "and . _ - only; rename the directory")
            templates.append(KernelTemplate(name, _read_template(path),
                                            os.path.join(extra, name), builtin=False))
    return templates


def required_programs(template: KernelTemplate) -> list[str]:
    """The programs a template needs: its ``requires`` list and its argv placeholders."""
    meta = template.spec.get("metadata", {}).get("jobwrapper", {})
    names = list(meta.get("requires", [])) if isinstance(meta, dict) else []
    for arg in template.spec["argv"]:
        names += [n for n in _PLACEHOLDER.findall(arg) if n not in _JUPYTER_PLACEHOLDERS]
    if not template.builtin and not _PLACEHOLDER.search(template.spec["argv"][0]):
        names.append(template.spec["argv"][0])
    return list(dict.fromkeys(names))


def find_programs(names: Iterable[str], search_path: str,
                  python: Optional[str] = None) -> dict[str, str]:
    """Absolute paths of the programs that exist; ``python3`` is the environment's python."""
    found = {}
    for name in names:
        if name == "python3" and python:
            path: Optional[str] = python
        elif os.path.isabs(name):
            path = name if os.access(name, os.X_OK) and os.path.isfile(name) else None
        else:
            path = shutil.which(name, path=search_path)
        if path:
            found[name] = path
    return found


def _fill(text: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def plan_kernels(templates: Sequence[KernelTemplate], programs: Mapping[str, str],
                 env: Mapping[str, str], label: str,
                 unsupported: Optional[Mapping[str, str]] = None) -> KernelChoice:
    """Fill the templates whose programs exist; pure.

    ``unsupported`` maps built-in kernels whose language support is missing (IRkernel,
    IJulia, JupyROOT; kernels_support.check_support) and users' environments that
    cannot be kernels (kernels_user) to the reason; they are skipped."""
    offered: dict[str, KernelPlan] = {}
    skipped: dict[str, str] = {}
    for template in templates:
        missing = [p for p in required_programs(template) if p not in programs]
        checked = template.builtin or template.user
        reason = ((unsupported or {}).get(template.name) if checked else None) or (
            f"{', '.join(missing)} not found" if missing else None)
        if reason:
            if template.name not in offered:
                skipped[template.name] = reason
            continue
        spec = json.loads(json.dumps(template.spec))  # a deep copy of plain JSON
        spec["argv"] = [_fill(arg, programs) for arg in spec["argv"]]
        spec["display_name"] = _fill(spec["display_name"], {"label": label})
        metadata = spec.get("metadata")
        if isinstance(metadata, dict):
            metadata.pop("jobwrapper", None)
            if not metadata:
                spec.pop("metadata")
        spec["env"] = {**env, **spec.get("env", {})}
        resources = tuple(sorted(
            os.path.join(template.directory, f) for f in os.listdir(template.directory)
            if f != "kernel.json" and f.startswith("logo")))
        offered[template.name] = KernelPlan(template.name, spec, resources)
        skipped.pop(template.name, None)
    return KernelChoice(tuple(offered.values()), skipped)


def kernel_json(plan: KernelPlan) -> str:
    """The text of a kernel.json (written with json.dumps, never pasted together)."""
    return json.dumps(plan.spec, indent=1, sort_keys=True) + "\n"


def write_kernels(choice: KernelChoice, data_dir: str) -> None:
    """Write the kernels under ``data_dir/kernels`` (apply stage); stale ones are removed."""
    from jobwrapper.job.apply import make_private_dir, write_private_file

    kernels_dir = os.path.join(data_dir, "kernels")
    make_private_dir(kernels_dir)
    wanted = {plan.name for plan in choice.offered}
    for name in os.listdir(kernels_dir):
        if name not in wanted:
            shutil.rmtree(os.path.join(kernels_dir, name), ignore_errors=True)
    for plan in choice.offered:
        directory = os.path.join(kernels_dir, plan.name)
        make_private_dir(directory)
        write_private_file(os.path.join(directory, "kernel.json"), kernel_json(plan))
        for resource in plan.resources:
            shutil.copyfile(resource, os.path.join(directory, os.path.basename(resource)))
