"""Profiles (named presets of the options form) and limits per JupyterHub group and user.

Pure: the hub's config (``c.ResourceForm.profiles``, ``group_limits``, ``user_limits``)
and the optional TOML file (``c.ResourceForm.profiles_file``) become a ``Policy``;
``combined_limits`` gives the ResourceForm settings that apply to one user, and
``visible_profiles`` the presets offered to them. form.py applies both (docs/form.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Callable

from jobwrapper.protocol import SAFE_NAME

from .tomlfile import CachedToml, TomlError, error, locate

# ResourceForm settings a group or user may set: name -> kind.
LIMIT_KINDS = {
    "max_cpus": "int1", "cpu_choices": "ints", "default_cpus": "int1",
    "memory_choices_mb": "ints", "default_memory_mb": "int1",
    "max_runtime_hours": "int1", "default_runtime_hours": "int1", "max_gpus": "int0",
    "cephfs_io_classes": "names", "container_os_choices": "labels",
    "environments": "labels", "idle_minutes": "int0",
}
# Form fields a profile may fill: name -> kind.
PROFILE_FIELDS = {
    "cpus": "int1", "memory_mb": "int1", "runtime_hours": "int1", "gpus": "int0",
    "cephfs_io": "name", "container_os": "name", "environment": "name",
}
_PROFILE_KEYS = ("name", "label", "groups", *PROFILE_FIELDS)

# (table, key, message) -> the exception naming where the value is.
Complaint = Callable[[tuple[Any, ...], str, str], Exception]


@dataclasses.dataclass(frozen=True)
class Profile:
    """A named preset: the form fields it fills, for everyone or for some groups."""

    name: str
    label: str
    values: Mapping[str, Any]
    groups: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Policy:
    """Profiles, then limits per group (in config order) and per user."""

    profiles: tuple[Profile, ...] = ()
    groups: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    users: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def __add__(self, other: Policy) -> Policy:
        """``other`` after this one: its profiles added, its groups and users winning."""
        return Policy(self.profiles + other.profiles, {**self.groups, **other.groups},
                      {**self.users, **other.users})


def _checked(kind: str, value: Any, complain: Callable[[str], Exception]) -> Any:
    def integer(item: Any, low: int) -> int:
        if isinstance(item, bool) or not isinstance(item, int) or item < low:
            raise complain(f"must be a whole number >= {low}, not {item!r}")
        return item

    def name(item: Any) -> str:
        if not isinstance(item, str) or not SAFE_NAME.match(item):
            raise complain(f"{item!r} is not a safe name (letters, digits and . _ + - only, "
                           "at most 64)")
        return item

    if kind in ("int0", "int1"):
        return integer(value, int(kind[-1]))
    if kind == "name":
        return name(value)
    if not isinstance(value, (list, dict)) or not value:
        raise complain("must be a non-empty " + ("table" if kind == "labels" else "list"))
    if kind == "ints" and isinstance(value, list):
        return [integer(item, 1) for item in value]
    if kind == "names" and isinstance(value, list):
        return [name(item) for item in value]
    if kind == "labels" and isinstance(value, dict):
        for key, label in value.items():
            name(key)
            if not isinstance(label, str):
                raise complain(f"the label of {key} must be a string")
        return dict(value)
    raise complain("must be a " + ("table of name = label" if kind == "labels" else "list"))


def _limits(table: tuple[Any, ...], raw: Any, complain: Complaint) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise complain(table, "", "must be a table of settings")
    limits = {}
    for key, value in raw.items():
        if key not in LIMIT_KINDS:
            raise complain(table, key, f"unknown; known settings: {', '.join(LIMIT_KINDS)}")
        limits[key] = _checked(LIMIT_KINDS[key], value,
                               lambda message, key=key: complain(table, key, message))
    return limits


def _profile(index: int, raw: Any, complain: Complaint) -> Profile:
    table = ("profile", index)
    if not isinstance(raw, Mapping):
        raise complain(table, "", "must be a table")
    for key in raw:
        if key not in _PROFILE_KEYS:
            raise complain(table, key, f"unknown; known keys: {', '.join(_PROFILE_KEYS)}")
    name = _checked("name", raw.get("name"), lambda m: complain(table, "name", m))
    label = raw.get("label", name)
    if not isinstance(label, str) or not label.strip() or len(label) > 100:
        raise complain(table, "label", "must be a string of 1 to 100 characters")
    groups = raw.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise complain(table, "groups", "must be a list of JupyterHub group names")
    values = {key: _checked(kind, raw[key], lambda m, key=key: complain(table, key, m))
              for key, kind in PROFILE_FIELDS.items() if key in raw}
    if not values:
        raise complain(table, "name", "fills no field; give e.g. cpus, memory_mb")
    return Profile(name, label.strip(), values, tuple(groups))


def parse_policy(profiles: Any, groups: Any, users: Any, complain: Complaint) -> Policy:
    """Checked profiles, group limits and user limits; ``complain`` names a bad value."""
    for table, value in ((("profile",), profiles), (("group",), groups),
                         (("user",), users)):
        expected = list if table == ("profile",) else Mapping
        if not isinstance(value, expected):
            raise complain(table, "", "must be " + ("a list of tables"
                                                    if expected is list else "a table"))
    parsed = tuple(_profile(index, raw, complain) for index, raw in enumerate(profiles))
    names = [profile.name for profile in parsed]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise complain(("profile", index), "name", f"{name} is used twice")
    return Policy(
        parsed,
        {str(g): _limits(("group", str(g)), raw, complain) for g, raw in groups.items()},
        {str(u): _limits(("user", str(u)), raw, complain) for u, raw in users.items()},
    )


def _dotted(table: tuple[Any, ...], key: str) -> str:
    head = f"{table[0]}[{table[1]}]" if len(table) == 2 and isinstance(table[1], int) \
        else ".".join(str(part) for part in table)
    return f"{head}.{key}" if key else head


def parse_file(path: str, data: Mapping[str, Any], text: str) -> Policy:
    """A profiles file's TOML: ``[[profile]]``, ``[group.NAME]``, ``[user.NAME]``."""
    def complain(table: tuple[Any, ...], key: str, message: str) -> TomlError:
        return error(path, locate(text, table, key or None), _dotted(table, key), message)

    for key in data:
        if key not in ("profile", "group", "user"):
            raise complain((), key, "unknown; the file holds [[profile]], [group.NAME] "
                           "and [user.NAME] tables")
    return parse_policy(data.get("profile", []), data.get("group", {}),
                        data.get("user", {}), complain)


_FILES: dict[str, CachedToml[Policy]] = {}


def read_file(path: str) -> Policy:
    """The profiles file's policy, read again when it changed; TomlError when bad, an
    empty policy when there is no such file."""
    if not path:
        return Policy()
    cached = _FILES.get(path)
    if cached is None:
        cached = _FILES[path] = CachedToml(path, lambda data, text: parse_file(path, data, text))
    return cached.get() or Policy()


def combined_limits(policy: Policy, groups: Iterable[str], user: str) -> dict[str, Any]:
    """The ResourceForm settings for a user in ``groups``, over the site-wide ones.

    Of several groups: the largest maxima, every choice (the first group's first),
    the first group's defaults, groups taken in the order the config names them.
    The user's own entry then replaces whatever it sets.
    """
    member = set(groups)
    combined: dict[str, Any] = {}
    for group, limits in policy.groups.items():
        if group not in member:
            continue
        for key, value in limits.items():
            if key not in combined:
                combined[key] = value
            elif key.startswith("max_"):
                combined[key] = max(combined[key], value)
            elif isinstance(value, list):
                combined[key] = combined[key] + [v for v in value if v not in combined[key]]
            elif isinstance(value, dict):
                earlier = combined[key]
                combined[key] = {**earlier,
                                 **{k: v for k, v in value.items() if k not in earlier}}
    combined.update(policy.users.get(user, {}))
    return combined


def visible_profiles(policy: Policy, groups: Iterable[str]) -> list[Profile]:
    """The profiles for everyone and those of the user's groups, in config order."""
    member = set(groups)
    return [p for p in policy.profiles if not p.groups or member.intersection(p.groups)]


def user_groups(spawner: Any) -> tuple[list[str], str]:
    """The JupyterHub group names and the name of the spawner's user."""
    user = getattr(spawner, "user", None)
    groups = getattr(user, "groups", None) or []
    return [str(getattr(g, "name", g)) for g in groups], str(getattr(user, "name", "") or "")


def policy_for(form: Any) -> Policy:
    """The policy of a ResourceForm: its traits, then its profiles_file."""
    def complain(table: tuple[Any, ...], key: str, message: str) -> ValueError:
        trait = {"profile": "profiles", "group": "group_limits", "user": "user_limits"}
        inner = "".join(f"[{part!r}]" for part in (*table[1:], *([key] if key else [])))
        return ValueError(f"c.ResourceForm.{trait[table[0]]}{inner}: {message}")

    policy = parse_policy(list(form.profiles), dict(form.group_limits),
                          dict(form.user_limits), complain)
    return policy + read_file(form.profiles_file)
