"""The options form as the spawner's default (docs/form.md).

With ``c.JobwrapperSpawner.resource_form = True`` the spawner offers
jobwrapper's form and validates its values at every step, without any hook in the
hub's config: the form page (``options_form``), the form data
(``options_from_form``), the REST API, which skips the form (``apply_user_options``),
and the submit lines (``options_to_submit_lines``). Its choices and maxima come from
``c.ResourceForm``. A site that sets any of these hooks itself keeps its own.
"""

from __future__ import annotations

import functools
from typing import Any, Optional
from typing import Callable as CallableType

from traitlets import Bool, Callable, HasTraits, default

from . import form
from .submit import default_submit_lines


class FormDefaults(HasTraits):
    """Mixin for JobwrapperSpawner: the form's hooks as trait defaults."""

    resource_form = Bool(
        False,
        help="""Offer jobwrapper's options form (CPUs, memory, runtime, GPUs, CephFS I/O,
        container OS, environment; configured with c.ResourceForm, with profiles and
        limits per JupyterHub group and user) and validate its values against the
        user's limits on the form, on the REST API and again when the submit lines are
        made.
        False (default): no form; options_to_submit_lines maps REST user_options as
        documented in docs/hub.md.""",
    ).tag(config=True)

    options_to_submit_lines = Callable(
        help="""Function(validated user_options dict) -> list of submit lines, e.g.
        `request_cpus = 4`. Default: the form's mapping (docs/form.md); with
        resource_form = False, jobwrapper.hub.submit.default_submit_lines. Lines that
        set what the template owns (executable, environment, transfer_*, getenv, ...)
        are refused.""",
    ).tag(config=True)

    @default("options_form")
    def _default_for_options_form(self) -> Any:
        return form.options_form if self.resource_form else ""

    @default("options_from_form")
    def _default_for_options_from_form(self) -> CallableType[..., Any]:
        if self.resource_form:
            return form.options_from_form
        return self._passthrough_options_from_form  # type: ignore[attr-defined]

    @default("apply_user_options")
    def _default_for_apply_user_options(self) -> Optional[CallableType[..., Any]]:
        return form.apply_user_options if self.resource_form else None

    @default("options_to_submit_lines")
    def _default_for_options_to_submit_lines(self) -> CallableType[..., Any]:
        if self.resource_form:
            return functools.partial(form.options_to_submit_lines, spawner=self)
        return default_submit_lines
