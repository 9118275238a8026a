"""The site config: one TOML file, every key documented in docs/config.md.

Path: ``$JOBWRAPPER_CONFIG``, else ``/etc/jobwrapper/config.toml``; a missing file
means the defaults. Unknown keys and wrong types are errors that name the file,
the key and the line, so an admin's typo never silently turns into a default.

The schema below is the single source of truth: each key has a type, a default and
a help text (docs/config.md follows it).
"""

from __future__ import annotations

import copy
import ipaddress
import os
import re
import sys
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Optional

from jobwrapper.errors import ConfigError
from jobwrapper.pathtemplate import template_problem
from jobwrapper.protocol import SAFE_NAME

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python < 3.11 in older containers
    import tomli as tomllib

DEFAULT_PATH = "/etc/jobwrapper/config.toml"

# Types: "str", "int", "bool", "float", "list[str]", "list[int]", "table" (free-form
# table of str -> str), "table[list[str]]".
Spec = tuple[str, Any, str]  # (type, default, help), as SCHEMA lists each key


def setting(default: Any, kind: str, help: str) -> Any:
    """A key of a site config table: its default, its TOML type and its help text.
    The schema, the validation, docs/config.md's test and the code all read these."""
    metadata = {"kind": kind, "help": help}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class JobSettings:
    """[job]: what jobwrapper reads from the job's ads."""

    runtime_limit_attributes: list[str] = setting(
        ["MaxRuntime", "AllowedExecuteDuration"], "list[str]",
        "Job ad attributes holding the runtime limit in seconds; the first valid one wins.")
    container_attribute: str = setting("ContainerOS", "str",
                                       "Job ad attribute naming the container OS.")
    environment_attribute: str = setting("JupyterEnvironment", "str",
                                         "Job ad attribute naming the software environment.")
    default_environment: str = setting("stable", "str",
                                       "Environment used when the job names none.")
    extra_thread_variables: list[str] = setting(
        [], "list[str]",
        "Variables set to the job's cores in addition to HTCondor's default list.")
    fix_user_name: bool = setting(
        True, "bool",
        "Set USER and LOGNAME to the job's OsUser (interactive jobs say 'condor-user').")


@dataclass(frozen=True)
class LmodSettings:
    """[lmod]: where Lmod is and where its modules are."""

    lmod_cmd: str = setting(
        "", "str",
        "Path of Lmod's 'lmod' executable; empty: $LMOD_CMD, then the usual install paths.")
    modulepath: list[str] = setting(
        [], "list[str]", "Directories put in front of MODULEPATH before modules are loaded.")


@dataclass(frozen=True)
class KernelSettings:
    """[kernels]: which kernels JupyterLab offers."""

    offer: list[str] = setting(
        ["python", "root", "julia", "r"], "list[str]",
        "Built-in kernels to offer when their interpreter exists: python, root, julia, r.")
    extra_dirs: list[str] = setting(
        [], "list[str]",
        "Directories of site kernels (one sub-directory with a kernel.json each).")
    user_environments: bool = setting(
        True, "bool",
        "Offer each venv or conda environment in the user's ~/jupyter/envs that has "
        "ipykernel as a kernel (user-<name>); false: only the site's kernels.")


@dataclass(frozen=True)
class ServerSettings:
    """[server]: the notebook server in the job."""

    bind: str = setting(
        "loopback", "str",
        "'loopback' (127.0.0.1, reached through the tunnel) or 'direct' (the execute "
        "host's own address, classic batchspawner mode without connect-to-job); the "
        "hub's JOBWRAPPER_SERVER_BIND wins.")
    direct_address: str = setting(
        "", "str",
        "Direct mode: the IP address the hub reaches (multi-homed nodes); empty: what "
        "the machine ad's Machine resolves to.")
    mode: str = setting(
        "tcp", "str",
        "'tcp' or 'socket' (the server listens on a unix socket; see docs/socket-mode.md).")
    default_url: str = setting("/lab", "str", "Page opened after login.")
    notebook_dir: str = setting(
        "jupyter", "str",
        "Notebook root, relative to the scratch dir (the transferred ~/jupyter).")
    report_timeout: float = setting(
        300.0, "float",
        "Seconds to wait for the hub to accept the port; at least the hub's start_timeout.")
    terminal_shell: str = setting(
        "", "str",
        "The shell of JupyterLab's terminals (an absolute path); empty: the job's SHELL, "
        "else the user's login shell from the passwd database, else /bin/bash.")


@dataclass(frozen=True)
class ShutdownSettings:
    """[shutdown]: ending before the runtime limit, and after SIGTERM."""

    warn_minutes: list[int] = setting(
        [15, 5], "list[int]", "Minutes before the runtime limit at which users are warned.")
    end_before_limit_seconds: int = setting(
        120, "int",
        "The job ends itself this long before the runtime limit, so its files go back.")
    grace_seconds: int = setting(
        8, "int", "After SIGTERM: seconds the server gets before everything left is killed.")
    warn_seconds: list[int] = setting(
        [], "list[int]",
        "Extra warning times in seconds before the runtime limit (for short test jobs).")


@dataclass(frozen=True)
class IdleSettings:
    """[idle]: kernels culled and the server ended after a time without activity."""

    kernel_minutes: int = setting(
        0, "int",
        "Kernels idle this long are shut down (jupyter-server's culler); 0: never.")
    kernel_check_seconds: int = setting(
        300, "int", "How often idle kernels are looked for (MappingKernelManager.cull_interval).")
    cull_connected: bool = setting(
        False, "bool", "Cull idle kernels even while a browser tab is connected to them.")
    server_minutes: int = setting(
        0, "int",
        "The server ends itself (as on SIGTERM, ~/jupyter comes back) after this long "
        "without activity; 0: never. The hub's JOBWRAPPER_IDLE_MINUTES wins.")
    server_seconds: int = setting(
        0, "int", "Instead of server_minutes: seconds (short test jobs); 0: not used.")
    warn_minutes: list[int] = setting(
        [10], "list[int]", "Minutes before the idle end at which users are warned.")
    warn_seconds: list[int] = setting(
        [], "list[int]", "Extra warning times in seconds before the idle end (short tests).")
    check_seconds: int = setting(
        30, "int", "How often the server checks for activity (at most this late).")


@dataclass(frozen=True)
class RuntimeSettings:
    """[runtime]: a running session asking for more time (docs/shutdown.md)."""

    check_seconds: int = setting(
        300, "int",
        "How often the job re-reads its runtime limit from HTCondor (condor_chirp "
        "get_job_attr), so that a limit raised with condor_qedit -forward is followed; 0: "
        "only after a request from JupyterLab.")
    chirp: str = setting(
        "", "str",
        "The condor_chirp program (an absolute path); empty: condor_chirp on PATH, else "
        "/usr/libexec/condor/condor_chirp.")


@dataclass(frozen=True)
class DesktopSettings:
    """[desktop]: the X11 desktop in the browser (xpra)."""

    enabled: bool = setting(True, "bool",
                            "Offer the xpra desktop in the launcher when xpra exists.")
    start: list[str] = setting(
        ["xterm"], "list[str]",
        "Command started in the desktop (argv list); more from the desktop's start menu.")
    title: str = setting("Desktop", "str", "Launcher title of the desktop.")
    timeout: int = setting(60, "int", "Seconds the proxy waits for xpra to answer.")
    dbus_session: bool = setting(
        False, "bool",
        "Run the start command inside a private D-Bus session (dbus-run-session, when "
        "installed; its socket in the desktop's 0700 directory), for X11 programs that "
        "need a session bus.")


@dataclass(frozen=True)
class CodeServerSettings:
    """[code_server]: VS Code in the browser (code-server; docs/vscode.md)."""

    enabled: bool = setting(True, "bool",
                            "Offer VS Code in the launcher when code-server is installed.")
    path: str = setting(
        "", "str", "The code-server executable (an absolute path); empty: code-server on PATH.")
    title: str = setting("VS Code", "str", "Launcher title of VS Code.")
    timeout: int = setting(
        120, "int", "Seconds the proxy waits for code-server to answer (its first start reads "
        "300 MB).")
    extra_args: list[str] = setting(
        [], "list[str]",
        "More code-server options after jobwrapper's (e.g. --locale=de); options for the "
        "socket, authentication, certificates and directories are refused.")
    user_data_dir: str = setting(
        "", "str",
        "code-server's settings and state (~ and $VARIABLES expanded); empty: in the job's "
        "private dir, gone with the job.")
    extensions_dir: str = setting(
        "", "str",
        "Where VS Code extensions are installed (~ and $VARIABLES expanded); empty: in the "
        "job's private dir, gone with the job.")


@dataclass(frozen=True)
class LoginSettings:
    """[login]: site specifics of the job's environment and its login shells."""

    data_dir_variable: str = setting(
        "", "str",
        "Variable set to the user's data directory (e.g. DATA); empty: none. Needs "
        "data_dir_pattern.")
    data_dir_pattern: str = setting(
        "", "str",
        "The user's data directory, e.g. /data/{initial}/{user}; placeholders {user}, "
        "{initial}, {group}, {home}, {container}. Set only when the directory exists.")
    rc_pattern: str = setting(
        "", "str",
        "A file that interactive sh-family login shells source, e.g. "
        "{home}/.bashrc.d/{container}; only if it is the user's and not writable by "
        "others. Empty: none.")
    csh_rc_pattern: str = setting(
        "", "str",
        "The same for tcsh/csh login shells, e.g. {home}/.cshrc.d/{container}.")
    timezone: str = setting(
        "host", "str",
        "TZ for the job: 'host' (the zone /etc/localtime or /etc/timezone names), a zone "
        "name (Europe/Berlin), or '' (not set). Set only when it is a valid zone here and "
        "TZ is not set already.")


@dataclass(frozen=True)
class JupyterLabSettings:
    """[jupyterlab]: JupyterLab's extensions and defaults."""

    disabled_extensions: dict[str, list[str]] = setting(
        {}, "table[list[str]]",
        "Container OS -> JupyterLab extensions to disable in it ('*' for every OS).")
    news: str = setting(
        "never", "str",
        "JupyterLab's 'official Jupyter news' (fetchNews): 'never' (no request, no "
        "question), 'ask' (JupyterLab asks each user) or 'always'.")


@dataclass(frozen=True)
class SlurmSettings:
    """[slurm]: what jobwrapper reads in a Slurm job (docs/slurm.md)."""

    container_variable: str = setting(
        "JOBWRAPPER_CONTAINER", "str",
        "Variable naming the container OS in a Slurm job (the hub's spawner sets it).")
    environment_variable: str = setting(
        "JOBWRAPPER_ENVIRONMENT", "str",
        "Variable naming the software environment in a Slurm job.")
    temp_variables: list[str] = setting(
        ["SLURM_TMPDIR", "TMPDIR"], "list[str]",
        "Variables naming the job's local temp dir, first set one wins (else /tmp); "
        "the private dir is made inside it, per user and job.")
    time_limit: bool = setting(
        True, "bool",
        "Ask squeue for the job's time limit when the environment does not hold it "
        "(SLURM_JOB_END_TIME); one call of about 10 ms per command.")
    squeue: str = setting("squeue", "str", "The squeue command (name or absolute path).")


@dataclass(frozen=True)
class DaskSettings:
    """[dask]: Dask workers as HTCondor jobs from a notebook (docs/dask.md)."""

    container_os: str = setting(
        "", "str", "ContainerOS of the worker jobs; empty: the notebook job's own.")
    environment: str = setting(
        "", "str", "Software environment of the worker jobs; empty: the notebook job's own.")
    cores: int = setting(1, "int", "CPUs per worker job (request_cpus; the worker's threads).")
    memory_mb: int = setting(
        2048, "int",
        "Memory per worker job in MB (request_memory); the worker's own limit is 90 % of it.")
    disk_mb: int = setting(1024, "int", "Disk per worker job in MB (request_disk).")
    max_workers: int = setting(
        50, "int", "The most worker jobs one cluster may ask for (cluster(workers=N), scale).")
    death_timeout: int = setting(
        60, "int",
        "Seconds a worker waits for its scheduler (at start, and after losing it, as when "
        "the kernel ends) before its job ends.")
    python: str = setting(
        "python3", "str",
        "The workers' Python (a name found on the environment's PATH, or an absolute path); "
        "it needs the notebook's dask and distributed versions.")
    jobwrapper: str = setting(
        "", "str",
        "jobwrapper in the worker's container (an absolute path), the workers' launcher "
        "(jobwrapper run --); empty: the notebook's own jobwrapper.")
    condor_bin: str = setting(
        "", "str", "Directory of condor_submit and condor_rm (absolute); empty: PATH.")
    interface: str = setting(
        "", "str",
        "Network interface of the scheduler and the workers (e.g. eth0); empty: Dask's choice.")
    tls: bool = setting(
        True, "bool",
        "Scheduler, workers and client talk TLS with a certificate made for each cluster; "
        "false: plain TCP that anyone reaching the scheduler's port can use to run code.")
    submit_extra: dict[str, str] = setting(
        {}, "table",
        "Extra submit description commands for the worker jobs (e.g. "
        "'+AccountingGroup' = '\"group_u\"'), after jobwrapper's own.")


# The typed tables, by section name; the free-form sections validate elsewhere.
TABLES: dict[str, type] = {
    "job": JobSettings, "lmod": LmodSettings, "kernels": KernelSettings,
    "server": ServerSettings, "shutdown": ShutdownSettings, "desktop": DesktopSettings,
    "code_server": CodeServerSettings,
    "idle": IdleSettings, "runtime": RuntimeSettings,
    "jupyterlab": JupyterLabSettings, "slurm": SlurmSettings,
    "dask": DaskSettings, "login": LoginSettings,
}


def _schema_of(table: type) -> dict[str, Spec]:
    return {
        each.name: (each.metadata["kind"],
                    each.default_factory() if each.default is MISSING  # type: ignore[misc]
                    else each.default, each.metadata["help"])
        for each in fields(table)
    }


SCHEMA: dict[str, dict[str, Spec]] = {
    **{name: _schema_of(table) for name, table in TABLES.items()},
    "proxies": {},  # [proxies.NAME] tables: extra jupyter-server-proxy entries (see server.py)
    "environments": {},  # [environments.NAME.os.OS] tables (see below)
    "health": {},  # validated by jobwrapper.health
}

NEWS_CHOICES = ("never", "ask", "always")  # jupyterlab.news
# login.timezone: a tz database name (Europe/Berlin, Etc/UTC, America/Argentina/Salta).
TIMEZONE_NAME = re.compile(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+){0,3}\Z")

ENVIRONMENT_OS_SCHEMA: dict[str, Spec] = {
    "modules": ("list[str]", [], "Lmod modules to load, in order."),
    "venv": ("str", "", "Path of the virtualenv (on CVMFS) to activate."),
    "description": ("str", "", "Shown in JupyterLab and in the hub's form."),
}

PROXY_SCHEMA: dict[str, Spec] = {
    "command": ("list[str]", [], "Command; {port} or {unix_socket} is replaced."),
    "title": ("str", "", "Launcher title."),
    "unix_socket": ("bool", True, "Listen on a unix socket in a 0700 directory (recommended)."),
    "timeout": ("int", 30, "Seconds the proxy waits for the service to come up."),
    "environment": ("table", {}, "Extra environment variables."),
}


@dataclass(frozen=True)
class EnvironmentSpec:
    """What one environment means for one container OS."""

    modules: tuple[str, ...] = ()
    venv: str = ""
    description: str = ""


@dataclass(frozen=True)
class SiteConfig:
    """The validated site config; ``sections`` holds every schema key with its value."""

    path: str = ""
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    environments: dict[str, dict[str, EnvironmentSpec]] = field(default_factory=dict)
    proxies: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    # The typed tables (the file's values over the defaults): config.server.bind, ...
    job: JobSettings = field(default_factory=JobSettings)
    lmod: LmodSettings = field(default_factory=LmodSettings)
    kernels: KernelSettings = field(default_factory=KernelSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    shutdown: ShutdownSettings = field(default_factory=ShutdownSettings)
    desktop: DesktopSettings = field(default_factory=DesktopSettings)
    code_server: CodeServerSettings = field(default_factory=CodeServerSettings)
    idle: IdleSettings = field(default_factory=IdleSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    jupyterlab: JupyterLabSettings = field(default_factory=JupyterLabSettings)
    slurm: SlurmSettings = field(default_factory=SlurmSettings)
    dask: DaskSettings = field(default_factory=DaskSettings)
    login: LoginSettings = field(default_factory=LoginSettings)

    def get(self, section: str, key: str) -> Any:
        """A key's value by name (for tools that walk the schema); code reads the typed
        tables: ``config.server.bind``."""
        return getattr(getattr(self, section), key)

    def environment(self, name: str, container_os: Optional[str]) -> Optional[EnvironmentSpec]:
        """The spec of environment ``name`` for ``container_os`` (or its 'default')."""
        per_os = self.environments.get(name)
        if per_os is None:
            return None
        if container_os and container_os in per_os:
            return per_os[container_os]
        return per_os.get("default")


def _key_line(text: str, table: str, key: str) -> int:
    """The line setting ``key`` in ``[table]``, or opening ``[table.key]``; 0 if not found."""
    current = ""
    own_header = f"{table}.{key}" if table else key
    header = re.compile(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    assignment = re.compile(rf'\s*"?{re.escape(key)}"?\s*=')
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            current = match.group(1).replace('"', "").replace(" ", "")
            if current == own_header:
                return number
            continue
        if current == table and assignment.match(line):
            return number
    for number, line in enumerate(text.splitlines(), start=1):
        if re.search(rf"\b{re.escape(key)}\b", line):
            return number
    return 0


def _type_ok(kind: str, value: Any) -> bool:
    def is_str_list(items: Any) -> bool:
        return isinstance(items, list) and all(isinstance(i, str) for i in items)

    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "list[str]":
        return is_str_list(value)
    if kind == "list[int]":
        return isinstance(value, list) and all(
            isinstance(i, int) and not isinstance(i, bool) for i in value
        )
    if kind == "table":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if kind == "table[list[str]]":
        return isinstance(value, dict) and all(is_str_list(v) for v in value.values())
    raise AssertionError(kind)


_TYPE_WORDS = {
    "str": "a string",
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "list[str]": "a list of strings",
    "list[int]": "a list of integers",
    "table": "a table of strings",
    "table[list[str]]": "a table of string lists",
}


class _Checker:
    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path, text

    def fail(self, table: str, key: str, problem: str) -> ConfigError:
        dotted = f"{table}.{key}" if table else key
        line = _key_line(self.text, table, key)
        where = f"{self.path}:{line}" if line else self.path
        return ConfigError(f"{where}: {dotted}: {problem}")

    def table(self, table: str, values: Any, schema: dict[str, Spec]) -> dict[str, Any]:
        if not isinstance(values, dict):
            parent, _, key = table.rpartition(".")
            raise self.fail(parent, key, "must be a table ([...] section)")
        checked: dict[str, Any] = {}
        for key, value in values.items():
            if key not in schema:
                known = ", ".join(sorted(schema)) or "none"
                raise self.fail(table, key, f"unknown key; known keys here: {known}")
            kind = schema[key][0]
            if not _type_ok(kind, value):
                raise self.fail(table, key, f"must be {_TYPE_WORDS[kind]}")
            checked[key] = value
        return checked

    def table_of_tables(self, table: str, values: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(values, dict):
            parent, _, key = table.rpartition(".")
            raise self.fail(parent, key, "must be a table ([...] section)")
        for name, value in values.items():
            if not isinstance(value, dict):
                raise self.fail(table, name, f"must be a table ([{table}.{name}])")
        return values

    def table_of_any(self, table: str, values: Any) -> dict[str, Any]:
        if not isinstance(values, dict):
            raise self.fail("", table, "must be a table ([...] section)")
        return dict(values)


def parse_config(text: str, path: str) -> SiteConfig:
    """Validate the TOML text of a site config; raises ConfigError (one line)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    checker = _Checker(path, text)
    sections: dict[str, dict[str, Any]] = {}
    environments: dict[str, dict[str, EnvironmentSpec]] = {}
    proxies: dict[str, dict[str, Any]] = {}
    for section, values in raw.items():
        if section not in SCHEMA:
            raise checker.fail("", section, f"unknown section; known: {', '.join(sorted(SCHEMA))}")
        if section == "environments":
            environments = _environments(checker, values)
        elif section == "proxies":
            proxies = {
                name: checker.table(f"proxies.{name}", table, PROXY_SCHEMA)
                for name, table in checker.table_of_tables("proxies", values).items()
            }
        elif section == "health":
            sections[section] = checker.table_of_any(section, values)
        else:
            sections[section] = checker.table(section, values, SCHEMA[section])
    _check_choices(checker, sections)
    _check_dask(checker, sections.get("dask", {}))
    tables = {name: table(**sections.get(name, {})) for name, table in TABLES.items()}
    return SiteConfig(path, sections, environments, proxies, raw, **tables)


def _environments(checker: _Checker, values: Any) -> dict[str, dict[str, EnvironmentSpec]]:
    result: dict[str, dict[str, EnvironmentSpec]] = {}
    for name, env_table in checker.table_of_tables("environments", values).items():
        _check_name(checker, "environments", name)
        env_keys = env_table
        if set(env_keys) - {"os"}:
            extra = sorted(set(env_keys) - {"os"})[0]
            raise checker.fail(f"environments.{name}", extra, "unknown key; known keys here: os")
        per_os: dict[str, EnvironmentSpec] = {}
        os_tables = checker.table_of_tables(f"environments.{name}.os", env_keys.get("os", {}))
        for os_name, spec in os_tables.items():
            _check_name(checker, f"environments.{name}.os", os_name)
            checked = checker.table(f"environments.{name}.os.{os_name}", spec,
                                    ENVIRONMENT_OS_SCHEMA)
            per_os[os_name] = EnvironmentSpec(
                modules=tuple(checked.get("modules", ())),
                venv=checked.get("venv", ""),
                description=checked.get("description", ""),
            )
        result[name] = per_os
    return result


_SAFE_NAME = SAFE_NAME  # protocol.py: the one safe-name rule


def _check_name(checker: _Checker, table: str, name: str) -> None:
    if not _SAFE_NAME.match(name):
        raise checker.fail(table, name, "names may use letters, digits and . _ + - only")


def _check_choices(checker: _Checker, sections: dict[str, dict[str, Any]]) -> None:
    server = sections.get("server", {})
    for key, allowed in (("bind", ("loopback", "direct")), ("mode", ("tcp", "socket"))):
        if key in server and server[key] not in allowed:
            raise checker.fail("server", key, f"must be one of: {', '.join(allowed)}")
    address = server.get("direct_address")
    if address:
        problem = _direct_address_problem(address)
        if problem:
            raise checker.fail("server", "direct_address", problem)
    shell = server.get("terminal_shell")
    if shell and not shell.startswith("/"):
        raise checker.fail("server", "terminal_shell", "must be an absolute path (/bin/bash)")
    news = sections.get("jupyterlab", {}).get("news")
    if news is not None and news not in NEWS_CHOICES:
        raise checker.fail("jupyterlab", "news", f"must be one of: {', '.join(NEWS_CHOICES)}")
    for key in ("extra_thread_variables",):
        for name in sections.get("job", {}).get(key, []):
            if not re.match(r"[A-Za-z_][A-Za-z0-9_]*\Z", name):
                raise checker.fail("job", key, f"{name!r} is not a variable name")
    _check_login(checker, sections.get("login", {}))


def _check_login(checker: _Checker, login: dict[str, Any]) -> None:
    for key in ("data_dir_pattern", "rc_pattern", "csh_rc_pattern"):
        problem = template_problem(login[key]) if login.get(key) else None
        if problem:
            raise checker.fail("login", key, problem)
    variable, pattern = login.get("data_dir_variable", ""), login.get("data_dir_pattern", "")
    if variable and not re.match(r"[A-Za-z_][A-Za-z0-9_]*\Z", variable):
        raise checker.fail("login", "data_dir_variable", f"{variable!r} is not a variable name")
    if bool(variable) != bool(pattern):
        missing = "data_dir_pattern" if variable else "data_dir_variable"
        raise checker.fail("login", "data_dir_variable" if variable else "data_dir_pattern",
                           f"needs login.{missing} too")
    zone = login.get("timezone", "host")
    if zone not in ("host", "") and not TIMEZONE_NAME.match(zone):
        raise checker.fail("login", "timezone", f"{zone!r} is not 'host', '' or a zone name "
                                                "like Europe/Berlin")


_SUBMIT_COMMAND = re.compile(r"(\+|MY\.)?[A-Za-z_][A-Za-z0-9_.]*\Z")


def _check_dask(checker: _Checker, dask: dict[str, Any]) -> None:
    """[dask]: sizes are positive, paths absolute, names plain, extra commands one line."""
    for key in ("cores", "memory_mb", "disk_mb", "max_workers", "death_timeout"):
        if key in dask and dask[key] < 1:
            raise checker.fail("dask", key, "must be at least 1")
    for key in ("jobwrapper", "condor_bin"):
        if dask.get(key) and not dask[key].startswith("/"):
            raise checker.fail("dask", key, "must be an absolute path (or empty)")
    for key in ("container_os", "environment"):
        if dask.get(key) and not _SAFE_NAME.match(dask[key]):
            raise checker.fail("dask", key, "names may use letters, digits and . _ + - only")
    if "python" in dask and not re.match(r"[A-Za-z0-9_./+-]+\Z", dask["python"]):
        raise checker.fail("dask", "python", "must be a program name or an absolute path")
    for name, value in dask.get("submit_extra", {}).items():
        if not _SUBMIT_COMMAND.match(name) or "\n" in value or "\r" in value:
            raise checker.fail("dask", "submit_extra",
                               f"{name!r}: a submit command name and a one-line value")


def _direct_address_problem(value: str) -> Optional[str]:
    """Why ``value`` cannot be server.direct_address, or None."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address (e.g. 10.1.2.3 or fd00::2)"
    if address.is_unspecified:
        return (f"{value} is the unspecified address (all interfaces); name the address "
                "the hub reaches")
    return None


def config_path(environ: Optional[dict[str, str]] = None) -> str:
    """Where the site config is read from."""
    environ = os.environ if environ is None else environ
    return environ.get("JOBWRAPPER_CONFIG") or DEFAULT_PATH


def load_config(path: Optional[str] = None) -> SiteConfig:
    """Read the site config; a missing file at the default path means the defaults."""
    path = path or config_path()
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        if path == DEFAULT_PATH:
            return SiteConfig()
        raise ConfigError(
            f"{path}: the site config named by JOBWRAPPER_CONFIG does not exist"
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the site config ({error.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; a site config is a TOML file") from None
    return parse_config(text, path)
