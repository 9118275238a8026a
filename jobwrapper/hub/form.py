"""The notebook options form: its config, its server-side validation, its submit lines.

Three pure steps, in the order a spawn goes through them:

- ``render_form``: the HTML of the form, pre-filled with the user's last choices;
- ``validate_options``: form data (lists of strings) or REST ``user_options`` (strings or
  numbers) become a ``NotebookOptions``, or a ``FormError`` says what to change;
- ``submit_lines``: a ``NotebookOptions`` becomes HTCondor submit lines.

Every choice and maximum comes from ``ResourceForm``, a traitlets ``Configurable``
(``c.ResourceForm.max_cpus = 8`` in jupyterhub_config.py), with the limits of the
user's JupyterHub groups and their own (``resolved_form``, profiles.py); the form
also offers the user's profiles and warns of planned maintenance (news.py). The hooks
``options_form``, ``options_from_form`` and ``apply_user_options`` plug it into any
JupyterHub ``Spawner`` (see docs/form.md).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import re
from collections.abc import Mapping
from typing import Any, Optional

import jinja2
from tornado import web
from traitlets import Dict, Int, List, TraitError, Unicode, validate
from traitlets.config import Application, Configurable

from jobwrapper.protocol import IDLE_MINUTES_ENV, SAFE_NAME

from .site import news, poolstatus, profiles

# Names that go into submit lines as ClassAd string literals: no quotes, spaces or
# newlines can get through, so a value can never end its line or start another one.
_INTEGER = re.compile(r"-?[0-9]{1,9}\Z")
FIELDS = ("cpus", "memory_mb", "runtime_hours", "gpus", "cephfs_io", "container_os",
          "environment", "interface")
# The user interface a server opens with (its default_url): JupyterLab, or Notebook 7's
# classic-style interface (the `notebook` package in the job's environment).
INTERFACE_URLS = {"lab": "/lab", "notebook": "/tree"}
_IGNORED_FORM_KEYS = ("_xsrf",)  # JupyterHub's own field, never a notebook option


class FormError(web.HTTPError):
    """A choice the user must change; JupyterHub shows ``jupyterhub_message`` on the form."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "%s", message)
        self.jupyterhub_message = message

    def __str__(self) -> str:
        return self.jupyterhub_message


def _check_names(trait: str, names: Any) -> Any:
    for name in names:
        if not SAFE_NAME.match(str(name)):
            raise TraitError(f"ResourceForm.{trait}: {name!r} is not a safe name "
                             "(letters, digits and . _ + - only, at most 64)")
    if not names:
        raise TraitError(f"ResourceForm.{trait}: offer at least one choice")
    return names


class ResourceForm(Configurable):
    """Choices and maxima of the notebook options form (``c.ResourceForm.*``)."""

    max_cpus = Int(8, min=1, help="Most CPU cores a notebook may request.").tag(config=True)
    cpu_choices = List(
        Int(min=1), [],
        help="CPU core counts offered; empty offers every count from 1 to max_cpus.",
    ).tag(config=True)
    default_cpus = Int(1, min=1, help="CPU cores pre-selected on a first spawn.").tag(config=True)
    memory_choices_mb = List(
        Int(min=1), [2048, 4096, 8192, 16384, 32768],
        help="Memory sizes offered, in MB (request_memory's unit).",
    ).tag(config=True)
    default_memory_mb = Int(
        4096, min=1, help="Memory pre-selected on a first spawn (one of memory_choices_mb)."
    ).tag(config=True)
    max_runtime_hours = Int(
        12, min=1, help="Longest maximum runtime a user may choose, in hours."
    ).tag(config=True)
    default_runtime_hours = Int(
        6, min=1, help="Maximum runtime pre-selected on a first spawn, in hours."
    ).tag(config=True)
    runtime_grace_seconds = Int(
        300, min=0,
        help="periodic_remove removes a job this long after its MaxRuntime has passed; the "
        "job itself stops earlier (shutdown.end_before_limit_seconds in the site config).",
    ).tag(config=True)
    max_gpus = Int(1, min=0, help="Most GPUs a notebook may request; 0 hides the choice.").tag(
        config=True)
    cephfs_io_classes = List(
        Unicode(), ["low", "medium", "high"],
        help="CephFS I/O classes offered, published as +CephFS_IO; the first is the default.",
    ).tag(config=True)
    cephfs_io_help_url = Unicode(
        "", help="Link to the page that explains the CephFS I/O classes (optional)."
    ).tag(config=True)
    container_os_choices = Dict(
        default_value={"Debian12": "Debian 12"}, key_trait=Unicode(), value_trait=Unicode(),
        help="Container OS name -> label; published as +ContainerOS. The first is the default.",
    ).tag(config=True)
    environments = Dict(
        default_value={"stable": "stable", "testing": "testing"}, key_trait=Unicode(),
        value_trait=Unicode(),
        help="Environment name -> label; published as +JupyterEnvironment. The first is "
        "the default. Names must match [environments.NAME] in the site config of the job.",
    ).tag(config=True)
    idle_minutes = Int(
        0, min=0,
        help="""Minutes without activity after which a server ends itself (passed to the
        job as JOBWRAPPER_IDLE_MINUTES, over the site config's idle.server_minutes); 0:
        the site config decides. Per group or user in group_limits/user_limits.""",
    ).tag(config=True)
    interfaces = Dict(
        default_value={"lab": "JupyterLab", "notebook": "Jupyter Notebook"},
        key_trait=Unicode(), value_trait=Unicode(),
        help="""Interface -> label: what the server opens with, "lab" (JupyterLab, /lab)
        and "notebook" (Notebook 7, /tree; the job's environment needs the notebook
        package). The first is the site's default; one entry: no choice is shown.""",
    ).tag(config=True)
    intro = Unicode(
        "Please choose the parameters for your notebook job.",
        help="Text shown above the form's fields.",
    ).tag(config=True)
    profiles = List(
        Dict(), [],
        help="""Named presets that fill the form: dicts with "name" (a safe name),
        "label" (shown), any of the form's fields (cpus, memory_mb, runtime_hours, gpus,
        cephfs_io, container_os, environment) and optionally "groups" (only members of
        these JupyterHub groups see it). A preset outside a user's limits is not shown
        to that user. docs/form.md, "Profiles and limits per group".""",
    ).tag(config=True)
    group_limits = Dict(
        key_trait=Unicode(), value_trait=Dict(),
        help="""JupyterHub group -> ResourceForm settings for its members (max_cpus,
        cpu_choices, default_cpus, memory_choices_mb, default_memory_mb,
        max_runtime_hours, default_runtime_hours, max_gpus, cephfs_io_classes,
        container_os_choices, environments), replacing the site-wide ones. A member of
        several groups gets the largest maxima and every choice; defaults come from the
        first group in this dict's order. Empty: everyone gets the site-wide settings.""",
    ).tag(config=True)
    user_limits = Dict(
        key_trait=Unicode(), value_trait=Dict(),
        help="""User name -> ResourceForm settings (as in group_limits) that replace
        those of the user's groups and the site-wide ones.""",
    ).tag(config=True)
    profiles_file = Unicode(
        "",
        help="""A TOML file with more profiles and limits ([[profile]], [group.NAME],
        [user.NAME]), read again when it changes; its groups and users win over the
        traits' of the same name. A bad value refuses spawns (the log names file, key
        and line) rather than apply no limits.""",
    ).tag(config=True)

    @validate("cephfs_io_classes", "container_os_choices", "environments")
    def _names_are_safe(self, proposal: Any) -> Any:
        return _check_names(proposal.trait.name, proposal.value)

    @validate("interfaces")
    def _interfaces_known(self, proposal: Any) -> Any:
        unknown = [name for name in proposal.value if name not in INTERFACE_URLS]
        if unknown or not proposal.value:
            raise TraitError(f"c.ResourceForm.interfaces: {unknown or 'empty'}; known: "
                             f"{', '.join(INTERFACE_URLS)}")
        return proposal.value

    def cpu_options(self) -> list[int]:
        """The CPU counts a user may pick."""
        if self.cpu_choices:
            return sorted({n for n in self.cpu_choices if n <= self.max_cpus})
        return list(range(1, self.max_cpus + 1))

    def defaults(self) -> dict[str, Any]:
        """The choices of a first spawn, each clamped into what is offered."""
        cpus = self.cpu_options()
        memory = sorted(self.memory_choices_mb)
        return {
            "cpus": self.default_cpus if self.default_cpus in cpus else cpus[0],
            "memory_mb": self.default_memory_mb if self.default_memory_mb in memory
            else memory[0],
            "runtime_hours": min(self.default_runtime_hours, self.max_runtime_hours),
            "gpus": 0,
            "cephfs_io": self.cephfs_io_classes[0],
            "container_os": next(iter(self.container_os_choices)),
            "environment": next(iter(self.environments)),
            "interface": next(iter(self.interfaces)),
        }


@dataclasses.dataclass(frozen=True)
class NotebookOptions:
    """What a user chose for one notebook job, validated."""

    cpus: int
    memory_mb: int
    runtime_hours: int
    gpus: int
    cephfs_io: str
    container_os: str
    environment: str
    interface: str = "lab"

    def as_user_options(self) -> dict[str, Any]:
        """The JSON-able dict JupyterHub stores as the spawner's ``user_options``."""
        return dataclasses.asdict(self)

    @property
    def runtime_seconds(self) -> int:
        """The maximum runtime in seconds (``+MaxRuntime``)."""
        return self.runtime_hours * 3600


def _single(name: str, raw: Any) -> str:
    """One string from a form value (a list of strings) or a REST value (str or number)."""
    if isinstance(raw, list):
        if len(raw) != 1:
            raise FormError(f"{_LABELS[name]}: choose exactly one value.")
        raw = raw[0]
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise FormError(f"{_LABELS[name]}: expected one name or whole number, not "
                        f"{type(raw).__name__}.")
    return str(raw).strip()


def _integer(name: str, raw: Any, low: int, high: int) -> int:
    text = _single(name, raw)
    if not _INTEGER.match(text):
        raise FormError(f"{_LABELS[name]}: {_shown(text)} is not a whole number.")
    value = int(text)
    if not low <= value <= high:
        raise FormError(f"{_LABELS[name]}: {value} is outside the allowed range {low}-{high}.")
    return value


def _choice(name: str, raw: Any, allowed: list[Any]) -> str:
    text = _single(name, raw)
    if text not in [str(a) for a in allowed]:
        offered = ", ".join(str(a) for a in allowed)
        raise FormError(f"{_LABELS[name]}: {_shown(text)} is not offered; choose one of "
                        f"{offered}.")
    return text


def _shown(text: str) -> str:
    """A user's value, quoted and cut short, with control characters made visible."""
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


_LABELS = {
    "cpus": "CPUs", "memory_mb": "Memory", "runtime_hours": "Maximum runtime",
    "gpus": "GPUs", "cephfs_io": "CephFS I/O", "container_os": "Container",
    "environment": "Environment", "interface": "Interface",
}


def validate_options(raw: Mapping[str, Any], form: ResourceForm) -> NotebookOptions:
    """Validate form data or REST ``user_options``; missing fields take the defaults.

    Raises FormError (a 400 with a message for the user) on an unknown field, a value
    that is not one whole number or one offered name, or a number out of range.
    """
    if not isinstance(raw, Mapping):
        raise FormError("The server options must be a set of named values.")
    unknown = sorted(k for k in raw if k not in FIELDS and k not in _IGNORED_FORM_KEYS)
    if unknown:
        raise FormError(f"Unknown option {_shown(str(unknown[0]))}; known options: "
                        f"{', '.join(FIELDS)}.")
    given = {**form.defaults(), **{k: v for k, v in raw.items() if k in FIELDS}}
    return NotebookOptions(
        cpus=int(_choice("cpus", given["cpus"], form.cpu_options())),
        memory_mb=int(_choice("memory_mb", given["memory_mb"], sorted(form.memory_choices_mb))),
        runtime_hours=_integer("runtime_hours", given["runtime_hours"], 1,
                               form.max_runtime_hours),
        gpus=_integer("gpus", given["gpus"], 0, form.max_gpus),
        cephfs_io=_choice("cephfs_io", given["cephfs_io"], list(form.cephfs_io_classes)),
        container_os=_choice("container_os", given["container_os"],
                             list(form.container_os_choices)),
        environment=_choice("environment", given["environment"], list(form.environments)),
        interface=_choice("interface", given["interface"], list(form.interfaces)),
    )


def remembered_choices(last: Optional[Mapping[str, Any]], form: ResourceForm) -> dict[str, Any]:
    """The last choices that are still offered, the defaults for the rest."""
    choices = form.defaults()
    for name, value in (last or {}).items():
        if name not in FIELDS:
            continue
        try:
            checked = validate_options({name: value}, form)
        except FormError:
            continue  # the offer changed since; fall back to the default
        choices[name] = getattr(checked, name)
    return choices


def submit_lines(options: NotebookOptions, runtime_grace_seconds: int = 300) -> list[str]:
    """HTCondor submit lines for the chosen options.

    MaxRuntime is published in the job ad (the job reads it to warn the user and to
    stop in time); periodic_remove enforces it should the job not stop by itself.
    """
    for name in ("cephfs_io", "container_os", "environment"):
        if not SAFE_NAME.match(getattr(options, name)):  # never trust a caller's dataclass
            raise FormError(f"{_LABELS[name]}: {_shown(getattr(options, name))} is not a "
                            "safe name.")
    return [
        f"request_cpus = {int(options.cpus)}",
        f"request_memory = {int(options.memory_mb)}",
        f"request_gpus = {int(options.gpus)}",
        f'+ContainerOS = "{options.container_os}"',
        f'+JupyterEnvironment = "{options.environment}"',
        f'+CephFS_IO = "{options.cephfs_io}"',
        f"+MaxRuntime = {int(options.runtime_seconds)}",
        "periodic_remove = (JobStatus == 2) && "
        f"((time() - EnteredCurrentStatus) > (MaxRuntime + {int(runtime_grace_seconds)}))",
    ]


_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), "templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render_form(
    form: ResourceForm, last: Optional[Mapping[str, Any]] = None, notice: str = "",
    presets: tuple[profiles.Profile, ...] = (), maintenance: tuple[news.NewsItem, ...] = (),
    now: Optional[datetime.datetime] = None, refuse: bool = False,
    pool: Optional[poolstatus.PoolFree] = None,
) -> str:
    """The form's HTML, pre-filled with ``last`` (the stored user_options) where valid;
    ``notice`` (plain text, escaped here) above it, e.g. why the last server stopped;
    ``presets`` as a profile choice; the ``maintenance`` items a runtime may reach,
    with a warning for the pre-filled runtime (the form's script updates it); with
    ``pool`` (the pool's free resources) how many slots could start each choice now."""
    memory = sorted(form.memory_choices_mb)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    chosen = remembered_choices(last, form)
    windows = [{"title": item.title, "when": news.utc_text(item.start),
                "start": int(item.start.timestamp() * 1000),
                "end": int(item.end.timestamp() * 1000) if item.end else None}
               for item in maintenance
               if item.start is not None and item.shown(now)]
    ahead = news.maintenance_ahead(maintenance, now, chosen["runtime_hours"])
    preset = next((p.name for p in presets
                   if all(chosen.get(k) == v for k, v in p.values.items())), "")
    return _TEMPLATES.get_template("form.html").render(
        form=form,
        notice=notice,
        chosen=chosen,
        cpu_options=form.cpu_options(),
        memory_options=[(mb, _memory_label(mb)) for mb in memory],
        presets=presets,
        preset=preset,
        windows=windows,
        warning=maintenance_message(ahead, now, refuse) if ahead else "",
        refuse=refuse,
        pool=_pool_view(pool, form, memory),
    )


def _pool_view(pool: Optional[poolstatus.PoolFree], form: ResourceForm,
               memory: list[int]) -> Optional[dict[str, Any]]:
    """What the form shows of the pool's free resources: slots free per choice (each
    alone), the free slots for the script's count of the chosen combination."""
    if pool is None:
        return None
    taken = datetime.datetime.fromtimestamp(pool.taken, datetime.timezone.utc)
    return {
        "summary": poolstatus.summary(pool, ("cpus", "memory", "gpus") if form.max_gpus
                                      else ("cpus", "memory")),
        "when": taken.strftime("%H:%M:%S UTC"),
        "cpus": {n: pool.count(cpus=n) for n in form.cpu_options()},
        "memory": {mb: pool.count(memory=mb) for mb in memory},
        "gpus": pool.count(gpus=1) if form.max_gpus else 0,
        "slots": pool.as_list(),
    }


def maintenance_message(item: news.NewsItem, now: datetime.datetime, refuse: bool) -> str:
    """What the form says when the runtime reaches into ``item`` (form.html's script
    says the same)."""
    hours = item.hours_before(now) or 0
    head = f"Planned maintenance \u201c{item.title}\u201d from {news.utc_text(item.start)}"
    if hours < 1:
        return f"{head}: a notebook started now would be stopped by it."
    advice = "" if refuse else ", or save your work before it begins"
    return (f"{head}: a notebook with this runtime would be stopped by it. Choose at most "
            f"{hours} hour{'s' if hours != 1 else ''}{advice}.")


def _memory_label(megabytes: int) -> str:
    if megabytes % 1024 == 0:
        return f"{megabytes // 1024} GB"
    return f"{megabytes} MB"


# Hooks for a Spawner's config: c.Spawner.options_form = options_form, and so on.

_LOG = logging.getLogger("JupyterHub")


def resolved_form(base: ResourceForm, policy: profiles.Policy, groups: list[str],
                  user: str) -> tuple[ResourceForm, tuple[profiles.Profile, ...]]:
    """The ResourceForm that applies to ``user`` in ``groups``, and their presets (those
    for their groups whose values their limits allow)."""
    limits = profiles.combined_limits(policy, groups, user)
    form = base
    if limits:
        values = {name: getattr(base, name) for name in base.trait_names(config=True)}
        try:
            form = ResourceForm(**{**values, **limits})
        except TraitError as problem:
            raise _settings_error(f"the limits of {user} ({', '.join(groups)}): "
                                  f"{problem}") from None
    offered = []
    for preset in profiles.visible_profiles(policy, groups):
        try:
            validate_options(preset.values, form)
        except FormError:
            continue
        offered.append(preset)
    return form, tuple(offered)


def _settings_error(line: str) -> FormError:
    _LOG.error("Notebook options refused: %s", line)
    return FormError("The site's notebook limits have an error; the hub's log says "
                     "which. Please tell the hub's administrators.")


def _for_user(spawner: Any) -> tuple[ResourceForm, tuple[profiles.Profile, ...]]:
    base = ResourceForm(parent=spawner)
    try:
        policy = profiles.policy_for(base)
    except ValueError as problem:  # TomlError, or a bad trait value
        raise _settings_error(str(problem)) from None
    groups, user = profiles.user_groups(spawner)
    return resolved_form(base, policy, groups, user)


def form_config(spawner: Any) -> ResourceForm:
    """The ResourceForm for the spawner's user: the hub's ``c.ResourceForm``, with the
    limits of the user's groups and the user's own (profiles.py)."""
    return _for_user(spawner)[0]


def _maintenance(spawner: Any) -> tuple[tuple[news.NewsItem, ...], bool]:
    site = news.SiteNews(parent=spawner)
    return news.read_news(site.path), site.maintenance_policy == "refuse"


def check_maintenance(options: NotebookOptions, items: tuple[news.NewsItem, ...],
                      now: Optional[datetime.datetime] = None) -> None:
    """FormError if a notebook started ``now`` with ``options`` reaches a maintenance."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    ahead = news.maintenance_ahead(items, now, options.runtime_hours)
    if ahead is not None:
        raise FormError(f"{_LABELS['runtime_hours']}: "
                        f"{maintenance_message(ahead, now, refuse=True)}")


def options_form(spawner: Any) -> str:
    """``Spawner.options_form``: the form, pre-filled with the user's last choices,
    below the reason the last server stopped, if the spawner kept one (stopreason.py);
    the user's presets, and a warning for planned maintenance (news.py)."""
    orm_spawner = getattr(spawner, "orm_spawner", None)
    last = getattr(orm_spawner, "user_options", None) or getattr(spawner, "user_options", None)
    stop_reason_notice = getattr(spawner, "stop_reason_notice", None)
    notice = stop_reason_notice() if callable(stop_reason_notice) else ""
    form, presets = _for_user(spawner)
    maintenance, refuse = _maintenance(spawner)
    pool_free = getattr(spawner, "pool_free_cached", None)
    pool = pool_free() if callable(pool_free) else None
    return render_form(form, last, notice, presets, maintenance, refuse=refuse, pool=pool)


def _validated(raw: Mapping[str, Any], spawner: Any) -> dict[str, Any]:
    options = validate_options(raw, form_config(spawner))
    maintenance, refuse = _maintenance(spawner)
    if refuse:
        check_maintenance(options, maintenance)
    return options.as_user_options()


def options_from_form(form_data: Mapping[str, Any], spawner: Any = None) -> dict[str, Any]:
    """``Spawner.options_from_form``: form data to validated ``user_options``."""
    if spawner is None:
        return validate_options(form_data, ResourceForm()).as_user_options()
    return _validated(form_data, spawner)


def apply_user_options(spawner: Any, user_options: Mapping[str, Any]) -> None:
    """``Spawner.apply_user_options``: validate again, since the REST API skips the form.

    Replaces ``spawner.user_options`` with the validated values only, so nothing
    else a client sent can reach a submit template.
    """
    spawner.user_options = _validated(user_options or {}, spawner)
    spawner.default_url = interface_url(spawner.user_options["interface"],
                                        str(getattr(spawner, "default_url", "") or ""))
    idle = form_config(spawner).idle_minutes
    if idle:
        spawner.environment = {**(getattr(spawner, "environment", None) or {}),
                               IDLE_MINUTES_ENV: str(int(idle))}


def interface_url(interface: str, site_url: str = "") -> str:
    """The server's default_url for ``interface``: the site's c.Spawner.default_url when
    it already opens that interface (/lab/tree/README.md), else /lab or /tree."""
    url = INTERFACE_URLS[interface]
    same = ("/lab",) if interface == "lab" else ("/tree", "/notebooks")
    return site_url if site_url.startswith(same) else url


def options_to_submit_lines(user_options: Mapping[str, Any], spawner: Any = None) -> list[str]:
    """``JobwrapperSpawner.options_to_submit_lines``: user_options to submit lines.

    Validates once more against the spawner's ``c.ResourceForm`` (the running hub's
    without a spawner), so nothing unchecked reaches a submit description.
    """
    if spawner is not None:
        form = form_config(spawner)
    elif Application.initialized():
        form = ResourceForm(parent=Application.instance())
    else:
        form = ResourceForm()
    options = validate_options(user_options or {}, form)
    return submit_lines(options, form.runtime_grace_seconds)
