"""Load a Supervisor-style config file (plus its includes) into the typed model.

This is the only place that knows the INI layout: which sections exist, which keys each one reads, their
defaults, which ``%(name)s`` expansions each key gets, and how programs become process groups. The
result is a frozen :class:`~supervisord.config.model.Config`; any problem is a
:class:`~supervisord.config.errors.ConfigError` with the file and line of the offending key, and keys we
do not understand become warnings (a typo should be visible, but must not stop a working daemon).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from supervisord import eventtypes
from supervisord.config import values as v
from supervisord.config.errors import ConfigError
from supervisord.config.expand import ExpansionNames, environ_names, expand, host_node_name
from supervisord.config.ini import IniDocument, IniSection, IniValue, read_ini
from supervisord.config.model import (
    AutoRestart,
    Config,
    CtlConfig,
    EventPoolConfig,
    GroupConfig,
    GroupKind,
    InetHttpServerConfig,
    LogDestination,
    LogKind,
    ProcessConfig,
    StreamLogConfig,
    SupervisordConfig,
    SyslogConfig,
    UnixHttpServerConfig,
    WatchConfig,
)

T = TypeVar("T")


class SectionReader:
    """Typed access to one section's raw values.

    ``values`` may mix the section's own keys with inherited ones (``[program-default]``); ``origins``
    names the section each inherited key really came from, so errors and warnings point there.
    """

    def __init__(
        self,
        section: IniSection,
        *,
        values: Mapping[str, IniValue] | None = None,
        origins: Mapping[str, str] | None = None,
    ) -> None:
        self.name = section.name
        self.file = section.file
        self.line = section.line
        self.values: Mapping[str, IniValue] = section.values if values is None else values
        self.origins: Mapping[str, str] = origins or {}

    def raw(self, key: str) -> IniValue | None:
        return self.values.get(key)

    def has(self, key: str) -> bool:
        return key in self.values

    def here(self, key: str | None = None) -> str:
        """The directory of the file holding ``key`` (or the section header)."""
        value = self.values.get(key) if key else None
        return os.path.dirname(value.file if value else self.file)

    def error(self, message: str, key: str | None = None) -> ConfigError:
        """A ConfigError located at ``key`` if it was written, else at the section header."""
        value = self.values.get(key) if key else None
        if value is None:
            return ConfigError(message, file=self.file, line=self.line, section=self.name, key=key)
        section = self.origins.get(key, self.name) if key else self.name
        return ConfigError(message, file=value.file, line=value.line, section=section, key=key)

    def expanded(self, key: str, names: ExpansionNames) -> str | None:
        """The key's text with ``%(…)`` expanded, or None when the key is absent."""
        value = self.values.get(key)
        if value is None:
            return None
        full: dict[str, str | int] = dict(names)
        full["here"] = os.path.dirname(value.file)
        section = self.origins.get(key, self.name)
        return expand(value.value, full, file=value.file, line=value.line, section=section, key=key)

    def expand_default(self, text: str, names: ExpansionNames, key: str) -> str:
        """Expand a built-in default (e.g. ``%(program_name)s``) as if written in the section header."""
        full: dict[str, str | int] = dict(names)
        full["here"] = os.path.dirname(self.file)
        return expand(text, full, file=self.file, line=self.line, section=self.name, key=key)

    def parse(self, key: str, parser: Callable[[str], T], names: ExpansionNames, default: T) -> T:
        """Expand and parse ``key``; absent keys give ``default``; parser ValueErrors become ConfigErrors."""
        text = self.expanded(key, names)
        if text is None:
            return default
        try:
            return parser(text)
        except ValueError as exc:
            raise self.error(str(exc), key) from None

    def string(self, key: str, names: ExpansionNames, default: str | None = None) -> str | None:
        """An optional free-text value; an empty value counts as unset."""
        text = self.expanded(key, names)
        if text is None:
            return default
        text = text.strip()
        return text or None

    def unknown_key_warnings(self, known: frozenset[str] | set[str]) -> list[str]:
        """One worded warning per key this section type does not understand."""
        warnings = []
        for key, value in self.values.items():
            if key not in known:
                section = self.origins.get(key, self.name)
                warnings.append(f"{value.file}:{value.line}: [{section}] {key}: unknown key, ignored")
        return warnings

    def warning(self, key: str, message: str) -> str:
        """A worded warning located at ``key`` (or the section header when it was not written)."""
        value = self.values.get(key)
        section = self.origins.get(key, self.name)
        if value is None:
            return f"{self.file}:{self.line}: [{section}] {key}: {message}"
        return f"{value.file}:{value.line}: [{section}] {key}: {message}"


# Checked at call time so tests (and packagers) can redirect the system-wide locations.
SYSTEM_CONFIG_PATHS: tuple[str, ...] = ("/etc/supervisord.conf", "/etc/supervisor/supervisord.conf")

SUPERVISORD_KEYS = frozenset(
    {
        "logfile",
        "logfile_maxbytes",
        "logfile_backups",
        "loglevel",
        "pidfile",
        "umask",
        "nodaemon",
        "silent",
        "minfds",
        "minprocs",
        "nocleanup",
        "childlogdir",
        "user",
        "directory",
        "strip_ansi",
        "identifier",
        "environment",
    }
)
UNIX_HTTP_KEYS = frozenset({"file", "chmod", "chown", "username", "password"})
INET_HTTP_KEYS = frozenset({"port", "username", "password", "nodename", "remotes"})  # last two: Go GUI
CTL_KEYS = frozenset({"serverurl", "username", "password", "prompt", "history_file"})
GROUP_KEYS = frozenset({"programs", "priority"})
INCLUDE_KEYS = frozenset({"files"})
_STREAM_KEYS = frozenset(
    f"{stream}_{suffix}"
    for stream in ("stdout", "stderr")
    for suffix in (
        "logfile",
        "logfile_maxbytes",
        "logfile_backups",
        "capture_maxbytes",
        "events_enabled",
        "syslog",
    )
)
PROGRAM_KEYS = _STREAM_KEYS | frozenset(
    {
        "command",
        "process_name",
        "numprocs",
        "numprocs_start",
        "priority",
        "autostart",
        "autorestart",
        "startsecs",
        "startretries",
        "exitcodes",
        "stopsignal",
        "stopwaitsecs",
        "stopasgroup",
        "killasgroup",
        "user",
        "redirect_stderr",
        "environment",
        "directory",
        "umask",
        "serverurl",
        # Go extensions
        "envfiles",
        "depends_on",
        "restartpause",
        "killwaitsecs",
        "restart_when_binary_changed",
        "restart_cmd_when_binary_changed",
        "restart_signal_when_binary_changed",
        "restart_directory_monitor",
        "restart_file_pattern",
        "restart_cmd_when_file_changed",
        "restart_signal_when_file_changed",
        "syslog_facility",
        "syslog_tag",
        "syslog_stdout_priority",
        "syslog_stderr_priority",
    }
)
EVENTLISTENER_KEYS = (PROGRAM_KEYS - {"depends_on"}) | {"events", "buffer_size", "result_handler"}
DEFAULT_RESULT_HANDLER = "supervisor.dispatchers:default_handler"
_DEFAULT_MAXBYTES = 50 * 1024 * 1024
_DEFAULT_STOPSIGNALS: tuple[int, ...] = (int(signal.SIGTERM),)
_DEFAULT_DESTINATIONS: tuple[LogDestination, ...] = (LogDestination(LogKind.AUTO),)
_NO_PAIRS: tuple[tuple[str, str], ...] = ()
_NO_NAMES: tuple[str, ...] = ()
_NO_SIGNALS: tuple[int, ...] = ()
_AUTH_ERROR = (
    "Section [{section}] contains incomplete authentication: If a username or a password is specified, "
    "both the username and password must be specified"
)


def candidate_paths(cwd: str, executable: str) -> list[str]:
    """Where to look for a config file without ``-c``, in order (the Go README's list)."""
    paths = [
        os.path.join(cwd, "supervisord.conf"),
        os.path.join(cwd, "etc", "supervisord.conf"),
        *SYSTEM_CONFIG_PATHS,
    ]
    exe_dir = _executable_dir(executable, cwd)
    if exe_dir is not None:
        paths.append(os.path.normpath(os.path.join(exe_dir, "..", "etc", "supervisord.conf")))
        paths.append(os.path.normpath(os.path.join(exe_dir, "..", "supervisord.conf")))
    return paths


def _executable_dir(executable: str, cwd: str) -> str | None:
    """The directory holding the running program; a bare name is looked up on PATH like the shell did."""
    if not executable:
        return None
    if os.sep not in executable:
        found = shutil.which(executable)
        if found is None:
            return None
        executable = found
    return os.path.dirname(os.path.abspath(os.path.join(cwd, executable)))


def find_config(cwd: str, executable: str) -> str | None:
    """The first existing file of :func:`candidate_paths`, or None."""
    for path in candidate_paths(cwd, executable):
        if os.path.isfile(path):
            return path
    return None


def load_config(path: str, *, environ: Mapping[str, str] | None = None, cwd: str | None = None) -> Config:
    """Parse ``path`` and its includes into a :class:`Config`.

    ``environ`` feeds ``%(ENV_X)s`` (default ``os.environ``); ``cwd`` is what relative log, pid and socket
    paths are resolved against (default the current directory), as Supervisor resolves them.
    """
    base = os.getcwd() if cwd is None else os.path.abspath(cwd)
    env = dict(os.environ if environ is None else environ)
    main = os.path.normpath(os.path.join(base, os.path.expanduser(path)))
    return _Loader(main, env, base).load()


def _int_min(minimum: int) -> Callable[[str], int]:
    return lambda text: v.parse_int(text, minimum=minimum)


def _parse_any_int(text: str) -> int:
    return v.parse_int(text)


@dataclass
class _Program:
    """A ``[program:x]``/``[eventlistener:x]`` section ready to be turned into processes."""

    name: str
    reader: SectionReader
    listener: bool


@dataclass
class _Loader:
    path: str
    environ: Mapping[str, str]
    cwd: str
    warnings: list[str] = field(default_factory=list)
    node: str = field(default_factory=host_node_name)
    dotenv_cache: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    # ----------------------------------------------------------------- top level

    def load(self) -> Config:
        doc = read_ini(self.path)
        included = self._merge_includes(doc)
        self._check_sections(doc)
        section = doc.get("supervisord")
        if section is None:
            raise ConfigError(
                ".ini file does not include supervisord section (expected a [supervisord] section)",
                file=self.path,
            )
        supervisord = self._supervisord(SectionReader(section))
        groups = self._groups(doc, supervisord)
        return Config(
            path=self.path,
            supervisord=supervisord,
            groups=groups,
            inet_http_server=self._inet_http_server(doc),
            unix_http_server=self._unix_http_server(doc),
            supervisorctl=self._supervisorctl(doc),
            included_files=included,
            warnings=tuple(dict.fromkeys(self.warnings)),
        )

    def _env_names(self) -> dict[str, str]:
        return environ_names(self.environ)

    def _merge_includes(self, doc: IniDocument) -> tuple[str, ...]:
        """Read ``[include] files`` globs (relative to the main file) and merge those files into ``doc``."""
        section = doc.get("include")
        if section is None:
            return ()
        reader = SectionReader(section)
        self.warnings.extend(reader.unknown_key_warnings(INCLUDE_KEYS))
        names = {"host_node_name": self.node, **self._env_names()}
        text = reader.expanded("files", names)
        if text is None or not text.strip():
            raise reader.error(
                "[include] section must define files (expected space-separated file globs)", "files"
            )
        base_dir = reader.here("files")
        included: list[str] = []
        for pattern in text.split():
            full = os.path.normpath(os.path.join(base_dir, os.path.expanduser(pattern)))
            matches = sorted(match for match in glob.glob(full) if os.path.isfile(match))
            if not matches:
                self.warnings.append(reader.warning("files", f'No file matches via include "{pattern}"'))
            for match in matches:
                absolute = os.path.abspath(match)
                if absolute != self.path and absolute not in included:
                    included.append(absolute)
        for file in included:
            for sub in read_ini(file):
                if sub.name == "include":
                    self.warnings.append(
                        f"{sub.file}:{sub.line}: [include] nested includes are not processed, ignored"
                    )
                    continue
                doc.merge_section(sub)
        return tuple(included)

    def _check_sections(self, doc: IniDocument) -> None:
        """Reject unsupported sections and warn about ones nothing reads."""
        plain = {
            "supervisord",
            "inet_http_server",
            "unix_http_server",
            "supervisorctl",
            "include",
            "program-default",
        }
        prefixed = {"program", "eventlistener", "group", "rpcinterface", "ctlplugin"}
        for section in doc:
            kind, sep, _ = section.name.partition(":")
            if section.name in plain or (sep and kind in prefixed):
                continue
            if sep and kind == "fcgi-program":
                raise ConfigError(
                    "fcgi-program sections are not supported (expected [program:x] instead)",
                    file=section.file,
                    line=section.line,
                    section=section.name,
                )
            self.warnings.append(f"{section.file}:{section.line}: [{section.name}] unknown section, ignored")

    # ----------------------------------------------------------------- [supervisord] and servers

    def _existing_parent(self, text: str) -> str:
        path = v.absolute_path(text, self.cwd)
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            raise ValueError(
                f"The directory named as part of the path {path} does not exist "
                "(expected an existing directory)"
            )
        return path

    def _existing_dir(self, text: str) -> str:
        path = v.absolute_path(text.strip(), self.cwd)
        if not os.path.isdir(path):
            raise ValueError(f"expected an existing directory, got '{text}'")
        return path

    def _daemon_logfile(self, text: str) -> str:
        body = text.strip()
        if body.lower() == "syslog":
            return "syslog"
        if body in ("/dev/stdout", "/dev/stderr", "/dev/null"):
            return body
        return self._existing_parent(body)

    def _supervisord(self, r: SectionReader) -> SupervisordConfig:
        self.warnings.extend(r.unknown_key_warnings(SUPERVISORD_KEYS))
        names = self._env_names()
        environment = r.parse(
            "environment", v.parse_environment, {**names, "host_node_name": self.node}, _NO_PAIRS
        )
        user = r.string("user", names)
        if user is not None:
            r.parse("user", v.parse_user_spec, names, "")
        directory = r.string("directory", names)
        if directory is not None:
            directory = r.parse("directory", self._existing_dir, names, directory)
        return SupervisordConfig(
            logfile=r.parse(
                "logfile", self._daemon_logfile, names, os.path.join(self.cwd, "supervisord.log")
            ),
            logfile_maxbytes=r.parse("logfile_maxbytes", v.parse_byte_size, names, _DEFAULT_MAXBYTES),
            logfile_backups=r.parse("logfile_backups", _int_min(0), names, 10),
            loglevel=r.parse("loglevel", v.parse_loglevel, names, "info"),
            pidfile=r.parse(
                "pidfile", self._existing_parent, names, os.path.join(self.cwd, "supervisord.pid")
            ),
            umask=r.parse("umask", v.parse_octal, names, 0o022),
            nodaemon=r.parse("nodaemon", v.parse_bool, names, False),
            silent=r.parse("silent", v.parse_bool, names, False),
            minfds=r.parse("minfds", _int_min(1), names, 1024),
            minprocs=r.parse("minprocs", _int_min(1), names, 200),
            nocleanup=r.parse("nocleanup", v.parse_bool, names, False),
            childlogdir=r.parse("childlogdir", self._existing_dir, names, tempfile.gettempdir()),
            user=user,
            directory=directory,
            strip_ansi=r.parse("strip_ansi", v.parse_bool, names, False),
            identifier=r.string("identifier", names, "supervisor") or "supervisor",
            environment=environment,
        )

    def _auth(self, r: SectionReader, names: ExpansionNames) -> tuple[str | None, str | None]:
        username = r.string("username", names)
        password = r.string("password", names)
        if (username is None) != (password is None):
            raise r.error(_AUTH_ERROR.format(section=r.name), "username" if password is None else "password")
        return username, password

    def _unix_http_server(self, doc: IniDocument) -> UnixHttpServerConfig | None:
        section = doc.get("unix_http_server")
        if section is None:
            return None
        r = SectionReader(section)
        self.warnings.extend(r.unknown_key_warnings(UNIX_HTTP_KEYS))
        names = self._env_names()
        file = r.string("file", names)
        if file is None:
            raise r.error(
                "section [unix_http_server] has no file value (expected file = /path/to/supervisor.sock)",
                "file",
            )
        path = r.parse("file", self._existing_parent, names, file)
        chown = r.string("chown", names)
        if chown is not None:
            r.parse("chown", v.parse_user_spec, names, "")
        username, password = self._auth(r, names)
        return UnixHttpServerConfig(
            file=path,
            chmod=r.parse("chmod", v.parse_octal, names, 0o700),
            chown=chown,
            username=username,
            password=password,
        )

    def _inet_http_server(self, doc: IniDocument) -> InetHttpServerConfig | None:
        section = doc.get("inet_http_server")
        if section is None:
            return None
        r = SectionReader(section)
        self.warnings.extend(r.unknown_key_warnings(INET_HTTP_KEYS))
        names = self._env_names()
        if r.string("port", names) is None:
            raise r.error("section [inet_http_server] has no port value (expected port = host:port)", "port")
        host, port = r.parse("port", v.parse_inet_port, names, ("", 0))
        username, password = self._auth(r, names)
        return InetHttpServerConfig(host=host, port=port, username=username, password=password)

    def _supervisorctl(self, doc: IniDocument) -> CtlConfig:
        section = doc.get("supervisorctl")
        if section is None:
            return CtlConfig()
        r = SectionReader(section)
        self.warnings.extend(r.unknown_key_warnings(CTL_KEYS))
        names = self._env_names()
        history = r.string("history_file", names)
        return CtlConfig(
            serverurl=r.string("serverurl", names, CtlConfig.serverurl) or CtlConfig.serverurl,
            username=r.string("username", names),
            password=r.string("password", names),
            prompt=r.string("prompt", names, CtlConfig.prompt) or CtlConfig.prompt,
            history_file=os.path.expanduser(history) if history else None,
        )

    # ----------------------------------------------------------------- groups and programs

    def _groups(self, doc: IniDocument, sup: SupervisordConfig) -> tuple[GroupConfig, ...]:
        programs = self._program_sections(doc)
        memberships = self._group_sections(doc, programs)
        grouped = {member for _, _, members, _ in memberships for member in members}
        groups: list[GroupConfig] = []
        seen: dict[str, str] = {}

        def claim(name: str, section: SectionReader) -> None:
            if name in seen:
                raise ConfigError(
                    f"duplicate group name '{name}' (already defined by [{seen[name]}]; "
                    "expected unique group names)",
                    file=section.file,
                    line=section.line,
                    section=section.name,
                )
            seen[name] = section.name

        for group_name, priority, members, reader in memberships:
            claim(group_name, reader)
            processes: list[ProcessConfig] = []
            for member in members:
                processes.extend(self._processes(programs[member], group_name, sup))
            self._check_unique_processes(group_name, processes, reader)
            processes.sort(key=lambda proc: proc.priority)
            groups.append(GroupConfig(group_name, GroupKind.GROUP, priority, tuple(processes)))
        for program in programs.values():
            if program.name in grouped and not program.listener:
                continue
            claim(program.name, program.reader)
            processes = self._processes(program, program.name, sup)
            self._check_unique_processes(program.name, processes, program.reader)
            pool = self._pool(program) if program.listener else None
            kind = GroupKind.EVENTLISTENER if program.listener else GroupKind.PROGRAM
            groups.append(GroupConfig(program.name, kind, processes[0].priority, tuple(processes), pool))
        self._check_depends_on(programs, groups)
        groups.sort(key=lambda group: (group.priority, group.name))
        return tuple(groups)

    def _program_sections(self, doc: IniDocument) -> dict[str, _Program]:
        """Every program and listener section, with ``[program-default]`` keys filled into programs."""
        default = doc.get("program-default")
        defaults: dict[str, IniValue] = default.values if default is not None else {}
        if default is not None:
            self.warnings.extend(SectionReader(default).unknown_key_warnings(PROGRAM_KEYS))
        programs: dict[str, _Program] = {}
        for section in doc:
            kind, sep, suffix = section.name.partition(":")
            if not sep or kind not in ("program", "eventlistener"):
                continue
            name = self._section_name(section, suffix)
            listener = kind == "eventlistener"
            own = SectionReader(section)
            self.warnings.extend(own.unknown_key_warnings(EVENTLISTENER_KEYS if listener else PROGRAM_KEYS))
            if name in programs:
                other = programs[name].reader.name
                raise ConfigError(
                    f"[{section.name}] and [{other}] define the same name '{name}' (expected unique names)",
                    file=section.file,
                    line=section.line,
                    section=section.name,
                )
            if listener:
                programs[name] = _Program(name, own, True)
                continue
            inherited = {key: value for key, value in defaults.items() if key not in section.values}
            reader = SectionReader(
                section,
                values={**inherited, **section.values},
                origins={key: "program-default" for key in inherited},
            )
            programs[name] = _Program(name, reader, False)
        return programs

    @staticmethod
    def _section_name(section: IniSection, suffix: str) -> str:
        try:
            return v.parse_name(suffix)
        except ValueError as exc:
            raise ConfigError(str(exc), file=section.file, line=section.line, section=section.name) from None

    def _group_sections(
        self, doc: IniDocument, programs: Mapping[str, _Program]
    ) -> list[tuple[str, int, tuple[str, ...], SectionReader]]:
        """``[group:g]`` sections as (name, priority, member programs, reader)."""
        result: list[tuple[str, int, tuple[str, ...], SectionReader]] = []
        names = {"host_node_name": self.node, **self._env_names()}
        for section in doc:
            kind, sep, suffix = section.name.partition(":")
            if not sep or kind != "group":
                continue
            name = self._section_name(section, suffix)
            r = SectionReader(section)
            self.warnings.extend(r.unknown_key_warnings(GROUP_KEYS))
            members = tuple(dict.fromkeys(r.parse("programs", v.parse_list, names, _NO_NAMES)))
            for member in members:
                program = programs.get(member)
                if program is None or program.listener:
                    value = r.raw("programs")
                    known = ", ".join(sorted(p.name for p in programs.values() if not p.listener)) or "(none)"
                    raise ConfigError(
                        f"[group:{name}] names unknown program {member} (expected one of: {known})",
                        file=value.file if value else section.file,
                        line=value.line if value else section.line,
                    )
            priority = r.parse("priority", _parse_any_int, names, 999)
            result.append((name, priority, members, r))
        return result

    @staticmethod
    def _check_unique_processes(group: str, processes: Sequence[ProcessConfig], r: SectionReader) -> None:
        seen: set[str] = set()
        for proc in processes:
            if proc.name in seen:
                raise ConfigError(
                    f"duplicate process name '{proc.name}' in group '{group}' "
                    "(expected unique process names)",
                    file=r.file,
                    line=r.line,
                    section=r.name,
                )
            seen.add(proc.name)

    def _check_depends_on(self, programs: Mapping[str, _Program], groups: Sequence[GroupConfig]) -> None:
        """Every ``depends_on`` target must be a program, and the graph must be acyclic."""
        edges: dict[str, tuple[str, ...]] = {}
        for group in groups:
            for proc in group.processes:
                edges.setdefault(proc.program_name, proc.depends_on)
        for name, targets in edges.items():
            for target in targets:
                program = programs.get(target)
                if program is None or program.listener:
                    raise programs[name].reader.error(
                        f"expected names of [program:x] sections, got unknown program '{target}'",
                        "depends_on",
                    )
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        path: list[str] = []

        def visit(node: str) -> None:
            state[node] = 1
            path.append(node)
            for target in edges.get(node, ()):
                if state.get(target) == 1:
                    cycle = [*path[path.index(target) :], target]
                    raise programs[node].reader.error(
                        f"dependency cycle: {' -> '.join(cycle)} (expected depends_on without cycles)",
                        "depends_on",
                    )
                if target not in state:
                    visit(target)
            path.pop()
            state[node] = 2

        for name in edges:
            if name not in state:
                visit(name)

    def _pool(self, program: _Program) -> EventPoolConfig:
        r = program.reader
        names = self._program_names(program.name, program.name)
        text = r.expanded("events", names)
        events = v.parse_list(text or "")
        if not events:
            raise r.error(f'[eventlistener:{program.name}] section requires an "events" line', "events")
        upper: list[str] = []
        for event in events:
            if not eventtypes.is_known(event):
                raise r.error(
                    f"Unknown event type {event} in [eventlistener:{program.name}] events "
                    f"(expected one of: {', '.join(eventtypes.ALL_EVENT_TYPES)})",
                    "events",
                )
            upper.append(event.upper())
        buffer_size = r.parse("buffer_size", _parse_any_int, names, 10)
        if buffer_size < 1:
            raise r.error(
                f"[eventlistener:{program.name}] section sets invalid buffer_size ({buffer_size}) "
                "(expected an integer >= 1)",
                "buffer_size",
            )
        handler = r.string("result_handler", names, DEFAULT_RESULT_HANDLER) or DEFAULT_RESULT_HANDLER
        if handler != DEFAULT_RESULT_HANDLER:
            self.warnings.append(
                r.warning(
                    "result_handler", f"only {DEFAULT_RESULT_HANDLER} is supported; '{handler}' ignored"
                )
            )
            handler = DEFAULT_RESULT_HANDLER
        return EventPoolConfig(
            events=tuple(dict.fromkeys(upper)), buffer_size=buffer_size, result_handler=handler
        )

    def _program_names(self, program_name: str, group_name: str) -> dict[str, str | int]:
        """Names for program keys read once per section (Supervisor: before the per-process loop)."""
        return {
            "program_name": program_name,
            "group_name": group_name,
            "host_node_name": self.node,
            **self._env_names(),
        }

    def _processes(self, program: _Program, group_name: str, sup: SupervisordConfig) -> list[ProcessConfig]:
        """Expand one program section into its ``numprocs`` processes."""
        r = program.reader
        listener = program.listener
        base = self._program_names(program.name, group_name)
        raw_command = r.raw("command")
        if raw_command is None or not raw_command.value.strip():
            raise r.error(
                f"program section {r.name} does not specify a command "
                "(expected command = /path/to/program args)"
            )
        numprocs = r.parse("numprocs", _int_min(1), base, 1)
        numprocs_start = r.parse("numprocs_start", _int_min(0), base, 0)
        raw_name = r.raw("process_name")
        if numprocs > 1 and (raw_name is None or "%(process_num)" not in raw_name.value):
            raise r.error(
                "%(process_num) must be present within process_name when numprocs > 1", "process_name"
            )
        stopasgroup = r.parse("stopasgroup", v.parse_bool, base, False)
        killasgroup = r.parse("killasgroup", v.parse_bool, base, stopasgroup)
        if stopasgroup and not killasgroup:
            raise r.error("Cannot set stopasgroup=true and killasgroup=false", "killasgroup")
        redirect_stderr = r.parse("redirect_stderr", v.parse_bool, base, False)
        if listener and redirect_stderr:
            raise r.error(
                "redirect_stderr=true is not allowed for event listeners "
                "(expected false: stdout carries the listener protocol)",
                "redirect_stderr",
            )
        user = r.string("user", base)
        if user is not None:
            r.parse("user", v.parse_user_spec, base, "")
        serverurl = r.string("serverurl", base)
        if serverurl is not None and serverurl.upper() == "AUTO":
            serverurl = None
        depends_on: tuple[str, ...] = () if listener else r.parse("depends_on", v.parse_list, base, _NO_NAMES)
        # Everything read once per section; the loop below fills in the per-process fields.
        template = ProcessConfig(
            name=program.name,
            group=group_name,
            program_name=program.name,
            command="",
            numprocs=numprocs,
            priority=r.parse("priority", _parse_any_int, base, -1 if listener else 999),
            autostart=r.parse("autostart", v.parse_bool, base, True),
            autorestart=r.parse("autorestart", v.parse_autorestart, base, AutoRestart.UNEXPECTED),
            startsecs=r.parse("startsecs", v.parse_seconds, base, 1.0),
            startretries=r.parse("startretries", _int_min(0), base, 3),
            exitcodes=r.parse("exitcodes", v.parse_exitcodes, base, frozenset({0})),
            stopsignals=r.parse("stopsignal", v.parse_signal_list, base, _DEFAULT_STOPSIGNALS),
            stopwaitsecs=r.parse("stopwaitsecs", v.parse_seconds, base, 10.0),
            killwaitsecs=r.parse("killwaitsecs", v.parse_seconds, base, 2.0),
            stopasgroup=stopasgroup,
            killasgroup=killasgroup,
            restartpause=r.parse("restartpause", v.parse_seconds, base, 0.0),
            user=user,
            umask=r.parse("umask", v.parse_octal, base, None),
            redirect_stderr=redirect_stderr,
            serverurl=serverurl,
            depends_on=depends_on,
            watch=self._watch(r, base),
            source_file=r.file,
            source_line=r.line,
        )
        facility = r.parse("syslog_facility", v.parse_syslog_facility, base, SyslogConfig.facility)
        stdout_priority = r.parse("syslog_stdout_priority", v.parse_syslog_priority, base, "info")
        stderr_priority = r.parse("syslog_stderr_priority", v.parse_syslog_priority, base, "err")
        # Per-process keys also see process_num/numprocs, and ENV_* includes [supervisord] environment.
        process_base = {**base, **environ_names(self.environ, sup.environment)}
        processes: list[ProcessConfig] = []
        for num in range(numprocs_start, numprocs_start + numprocs):
            names: dict[str, str | int] = {**process_base, "process_num": num, "numprocs": numprocs}
            first = num == numprocs_start
            if raw_name is None:
                name = v.parse_name(r.expand_default("%(program_name)s", names, "process_name"))
            else:
                name = r.parse("process_name", v.parse_name, names, "")
            env_files = self._env_files(r, names)
            own_env = r.parse("environment", v.parse_environment, names, _NO_PAIRS)
            merged = dict(sup.environment)
            merged.update(env_files)
            merged.update(own_env)
            # command and log paths may also use the program's own variables.
            command_names: dict[str, str | int] = {**names, **environ_names(env_files, own_env)}
            command = (r.expanded("command", command_names) or "").strip()
            if not command:
                raise r.error("expected a command to run, got ''", "command")
            stdout = self._stream(r, "stdout", command_names, listener=listener, first=first)
            stderr = self._stream(r, "stderr", command_names, redirect=redirect_stderr, first=first)
            syslog = SyslogConfig(
                facility=facility,
                tag=r.string("syslog_tag", names),
                stdout_priority=stdout_priority,
                stderr_priority=stderr_priority,
            )
            processes.append(
                dataclasses.replace(
                    template,
                    name=name,
                    command=command,
                    process_num=num,
                    directory=r.string("directory", names),
                    stdout=stdout,
                    stderr=stderr,
                    environment=tuple(merged.items()),
                    syslog=syslog,
                )
            )
        return processes

    def _env_files(self, r: SectionReader, names: ExpansionNames) -> tuple[tuple[str, str], ...]:
        """``envFiles``: dotenv files relative to the directory of the file that names them, read now."""
        text = r.expanded("envfiles", names)
        if text is None:
            return ()
        base_dir = r.here("envfiles")
        pairs: list[tuple[str, str]] = []
        for item in v.parse_list(text):
            path = v.absolute_path(item, base_dir)
            if path not in self.dotenv_cache:
                try:
                    self.dotenv_cache[path] = v.read_dotenv(path)
                except ValueError as exc:
                    raise r.error(str(exc), "envfiles") from None
            pairs.extend(self.dotenv_cache[path])
        return tuple(pairs)

    def _stream(
        self,
        r: SectionReader,
        stream: str,
        names: ExpansionNames,
        *,
        listener: bool = False,
        redirect: bool = False,
        first: bool = True,
    ) -> StreamLogConfig:
        """One output channel's log settings (``stdout_*`` or ``stderr_*``)."""
        key = f"{stream}_logfile"
        destinations = r.parse(
            key, lambda text: v.parse_log_destinations(text, self.cwd), names, _DEFAULT_DESTINATIONS
        )
        for dest in destinations:
            if dest.kind is LogKind.FILE and dest.path and not os.path.isdir(os.path.dirname(dest.path)):
                raise r.error(
                    f"The directory named as part of the path {dest.path} does not exist "
                    "(expected an existing directory)",
                    key,
                )
        maxbytes = r.parse(f"{stream}_logfile_maxbytes", v.parse_byte_size, names, _DEFAULT_MAXBYTES)
        capture = r.parse(f"{stream}_capture_maxbytes", v.parse_byte_size, names, 0)
        if redirect:
            if r.has(key) and first:
                self.warnings.append(r.warning(key, "ignored because redirect_stderr=true"))
            destinations = (LogDestination(LogKind.NULL),)
        if listener and capture:
            if first:
                self.warnings.append(
                    r.warning(
                        f"{stream}_capture_maxbytes", "ignored for event listeners (stdout is the protocol)"
                    )
                )
            capture = 0
        if first and maxbytes == 0 and any(dest.kind is LogKind.AUTO for dest in destinations):
            self.warnings.append(
                r.warning(
                    f"{stream}_logfile_maxbytes",
                    f"AUTO {key} with maxbytes=0 is never rotated and may fill the disk",
                )
            )
        return StreamLogConfig(
            destinations=destinations,
            maxbytes=maxbytes,
            backups=r.parse(f"{stream}_logfile_backups", _int_min(0), names, 10),
            capture_maxbytes=capture,
            events_enabled=r.parse(f"{stream}_events_enabled", v.parse_bool, names, False),
            syslog=r.parse(f"{stream}_syslog", v.parse_bool, names, False),
        )

    def _watch(self, r: SectionReader, names: ExpansionNames) -> WatchConfig:
        """The Go project's restart-on-change keys."""
        monitor = r.string("restart_directory_monitor", names)
        return WatchConfig(
            restart_when_binary_changed=r.parse("restart_when_binary_changed", v.parse_bool, names, False),
            restart_cmd_when_binary_changed=r.string("restart_cmd_when_binary_changed", names),
            restart_signal_when_binary_changed=r.parse(
                "restart_signal_when_binary_changed", v.parse_signal_list, names, _NO_SIGNALS
            ),
            restart_directory_monitor=v.absolute_path(monitor, self.cwd) if monitor else None,
            restart_file_pattern=r.string("restart_file_pattern", names, "*") or "*",
            restart_cmd_when_file_changed=r.string("restart_cmd_when_file_changed", names),
            restart_signal_when_file_changed=r.parse(
                "restart_signal_when_file_changed", v.parse_signal_list, names, _NO_SIGNALS
            ),
        )
