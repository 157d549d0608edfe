"""``[program:x]``, ``[eventlistener:x]`` and ``[program-default]``: sections that become processes.

A program section is read once for the settings all its processes share, then once per process for the
keys that may use ``%(process_num)d`` (name, command, environment, directory, log paths), which is the
order Supervisor reads them in, so the same expansions succeed and fail.
"""

from __future__ import annotations

import dataclasses
import signal
from dataclasses import dataclass

from supervisord import eventtypes
from supervisord.config import checks
from supervisord.config import values as v
from supervisord.config.context import LoadContext
from supervisord.config.errors import report
from supervisord.config.expand import ExpansionNames, environ_names
from supervisord.config.ini import IniDocument, IniValue
from supervisord.config.model import (
    AutoRestart,
    EventPoolConfig,
    LivenessConfig,
    ProcessConfig,
    ReadinessConfig,
    SupervisordConfig,
    SyslogConfig,
    WatchConfig,
)
from supervisord.config.operations import OPERATIONS_KEYS, read_hooks, read_limits, read_schedule
from supervisord.config.process_logs import STREAM_KEYS, stream_log_config
from supervisord.config.section import SectionReader, parse_section_name

PROGRAM_KEYS = STREAM_KEYS | frozenset(
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
PROGRAM_KEYS |= checks.KEYS
PROGRAM_KEYS |= OPERATIONS_KEYS  # cron, hooks, rlimits and cgroup limits (config/operations.py)
EVENTLISTENER_KEYS = (PROGRAM_KEYS - {"depends_on"}) | {"events", "buffer_size", "result_handler"}
EVENTLISTENER_KEYS -= checks.READINESS_KEYS | checks.LIVENESS_KEYS
DEFAULT_RESULT_HANDLER = "supervisor.dispatchers:default_handler"
_DEFAULT_STOPSIGNALS: tuple[int, ...] = (int(signal.SIGTERM),)
_NO_PAIRS: tuple[tuple[str, str], ...] = ()
_NO_NAMES: tuple[str, ...] = ()
# numprocs of one section at most. A process costs ~20 KB of daemon state (three actors) and, while it runs,
# about 6 descriptors (pidfd, 3 pipe ends, log files): 10,000 are ~200 MiB and ~60,000 descriptors, beyond
# most machines' defaults already (RLIMIT_NOFILE, and pid_max is 32,768 on many kernels). More in one
# section is a typo (numprocs = 100000), refused at load rather than found as a daemon that cannot fork.
MAX_NUMPROCS = 10_000
_NO_SIGNALS: tuple[int, ...] = ()


@dataclass
class ProgramSection:
    """A ``[program:x]``/``[eventlistener:x]`` section ready to be turned into processes."""

    name: str
    reader: SectionReader
    listener: bool


def program_sections(ctx: LoadContext, doc: IniDocument) -> dict[str, ProgramSection]:
    """Every program and listener section, with ``[program-default]`` keys filled into programs."""
    default = doc.get("program-default")
    defaults: dict[str, IniValue] = default.values if default is not None else {}
    if default is not None:
        ctx.warn_unknown_keys(SectionReader(default), PROGRAM_KEYS)
    programs: dict[str, ProgramSection] = {}
    for section in doc:
        kind, sep, suffix = section.name.partition(":")
        if not sep or kind not in ("program", "eventlistener"):
            continue
        name = parse_section_name(section, suffix)
        if name is None:
            continue
        listener = kind == "eventlistener"
        own = SectionReader(section)
        ctx.warn_unknown_keys(own, EVENTLISTENER_KEYS if listener else PROGRAM_KEYS)
        if name in programs:
            other = programs[name].reader.name
            report(
                own.error(
                    f"[{section.name}] and [{other}] define the same name '{name}' (expected unique names)"
                )
            )
            continue
        if listener:
            programs[name] = ProgramSection(name, own, True)
            continue
        inherited = {key: value for key, value in defaults.items() if key not in section.values}
        reader = SectionReader(
            section,
            values={**inherited, **section.values},
            origins={key: "program-default" for key in inherited},
        )
        programs[name] = ProgramSection(name, reader, False)
    return programs


def build_processes(
    ctx: LoadContext, program: ProgramSection, group_name: str, sup: SupervisordConfig
) -> list[ProcessConfig]:
    """Expand one program section into its ``numprocs`` processes."""
    r = program.reader
    listener = program.listener
    base = _program_names(ctx, program.name, group_name)
    raw_command = r.raw("command")
    if raw_command is None or not raw_command.value.strip():
        raise r.error(
            f"program section {r.name} does not specify a command (expected command = /path/to/program args)"
        )
    numprocs = r.parse("numprocs", _numprocs, base, 1)
    numprocs_start = r.parse("numprocs_start", v.int_at_least(0), base, 0)
    raw_name = r.raw("process_name")
    if numprocs > 1 and (raw_name is None or "%(process_num)" not in raw_name.value):
        report(
            r.error("%(process_num) must be present within process_name when numprocs > 1", "process_name")
        )
        numprocs = 1  # only reached while collecting errors: check the rest as one process
    stopasgroup = r.parse("stopasgroup", v.parse_bool, base, False)
    killasgroup = r.parse("killasgroup", v.parse_bool, base, stopasgroup)
    if stopasgroup and not killasgroup:
        report(r.error("Cannot set stopasgroup=true and killasgroup=false", "killasgroup"))
    redirect_stderr = r.parse("redirect_stderr", v.parse_bool, base, False)
    if listener and redirect_stderr:
        report(
            r.error(
                "redirect_stderr=true is not allowed for event listeners "
                "(expected false: stdout carries the listener protocol)",
                "redirect_stderr",
            )
        )
    user = r.checked_string("user", base, v.parse_user_spec)
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
        priority=r.parse("priority", v.parse_int, base, -1 if listener else 999),
        autostart=r.parse("autostart", v.parse_bool, base, True),
        autorestart=r.parse("autorestart", v.parse_autorestart, base, AutoRestart.UNEXPECTED),
        startsecs=r.parse("startsecs", v.parse_seconds, base, 1.0),
        startretries=r.parse("startretries", checks.parse_startretries, base, 3),
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
        watch=_watch(ctx, r, base),
        readiness=ReadinessConfig() if listener else checks.read_readiness(r, base),
        liveness=LivenessConfig() if listener else checks.read_liveness(r, base),
        backoff=checks.read_backoff(r, base),
        hooks=read_hooks(r, base),
        limits=read_limits(r, base),
        schedule=read_schedule(r, base),
        source_file=r.file,
        source_line=r.line,
    )
    facility = r.parse("syslog_facility", v.parse_syslog_facility, base, "user")
    stdout_priority = r.parse("syslog_stdout_priority", v.parse_syslog_priority, base, "info")
    stderr_priority = r.parse("syslog_stderr_priority", v.parse_syslog_priority, base, "err")
    # Per-process keys also see process_num/numprocs, and ENV_* includes [supervisord] environment.
    process_base = {**base, **environ_names(ctx.environ, sup.environment)}
    processes: list[ProcessConfig] = []
    for num in range(numprocs_start, numprocs_start + numprocs):
        names: dict[str, str | int] = {**process_base, "process_num": num, "numprocs": numprocs}
        first = num == numprocs_start
        if raw_name is None:
            name = v.parse_name(r.expand_default("%(program_name)s", names, "process_name"))
        else:
            name = r.parse("process_name", v.parse_name, names, "")
        env_files = _env_files(ctx, r, names)
        own_env = r.parse("environment", v.parse_environment, names, _NO_PAIRS)
        merged = dict(sup.environment)
        merged.update(env_files)
        merged.update(own_env)
        # command and log paths may also use the program's own variables.
        command_names: dict[str, str | int] = {**names, **environ_names(env_files, own_env)}
        expanded = r.expanded("command", command_names)  # None: a reported expansion error (collecting)
        command = (raw_command.value if expanded is None else expanded).strip()
        if not command:
            raise r.error("expected a command to run, got ''", "command")
        stdout = stream_log_config(ctx, r, "stdout", command_names, listener=listener, first=first)
        stderr = stream_log_config(ctx, r, "stderr", command_names, redirect=redirect_stderr, first=first)
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


def build_pool(ctx: LoadContext, program: ProgramSection) -> EventPoolConfig:
    """An event listener's subscriptions and buffer (the keys only ``[eventlistener:x]`` has)."""
    r = program.reader
    names = _program_names(ctx, program.name, program.name)
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
    buffer_size = r.parse("buffer_size", v.parse_int, names, 10)
    if buffer_size < 1:
        raise r.error(
            f"[eventlistener:{program.name}] section sets invalid buffer_size ({buffer_size}) "
            "(expected an integer >= 1)",
            "buffer_size",
        )
    handler = r.string("result_handler", names, DEFAULT_RESULT_HANDLER) or DEFAULT_RESULT_HANDLER
    if handler != DEFAULT_RESULT_HANDLER:
        ctx.warnings.append(
            r.warning("result_handler", f"only {DEFAULT_RESULT_HANDLER} is supported; '{handler}' ignored")
        )
        handler = DEFAULT_RESULT_HANDLER
    return EventPoolConfig(
        events=tuple(dict.fromkeys(upper)), buffer_size=buffer_size, result_handler=handler
    )


def _program_names(ctx: LoadContext, program_name: str, group_name: str) -> dict[str, str | int]:
    """Names for program keys read once per section (Supervisor: before the per-process loop)."""
    return {"program_name": program_name, "group_name": group_name, **ctx.node_names()}


def _env_files(ctx: LoadContext, r: SectionReader, names: ExpansionNames) -> tuple[tuple[str, str], ...]:
    """``envFiles``: dotenv files relative to the directory of the file that names them, read now."""
    text = r.expanded("envfiles", names)
    if text is None:
        return ()
    base_dir = r.here("envfiles")
    pairs: list[tuple[str, str]] = []
    for item in v.parse_list(text):
        path = v.absolute_path(item, base_dir)
        if path not in ctx.dotenv_cache:
            try:
                ctx.dotenv_cache[path] = v.read_dotenv(path)
            except ValueError as exc:
                report(r.error(str(exc), "envfiles"))
                ctx.dotenv_cache[path] = ()
        pairs.extend(ctx.dotenv_cache[path])
    return tuple(pairs)


def _watch(ctx: LoadContext, r: SectionReader, names: ExpansionNames) -> WatchConfig:
    """The Go project's restart-on-change keys."""
    monitor = r.string("restart_directory_monitor", names)
    return WatchConfig(
        restart_when_binary_changed=r.parse("restart_when_binary_changed", v.parse_bool, names, False),
        restart_cmd_when_binary_changed=r.string("restart_cmd_when_binary_changed", names),
        restart_signal_when_binary_changed=r.parse(
            "restart_signal_when_binary_changed", v.parse_signal_list, names, _NO_SIGNALS
        ),
        restart_directory_monitor=v.absolute_path(monitor, ctx.cwd) if monitor else None,
        restart_file_pattern=r.string("restart_file_pattern", names, "*") or "*",
        restart_cmd_when_file_changed=r.string("restart_cmd_when_file_changed", names),
        restart_signal_when_file_changed=r.parse(
            "restart_signal_when_file_changed", v.parse_signal_list, names, _NO_SIGNALS
        ),
    )


def _numprocs(text: str) -> int:
    number = v.parse_int(text, minimum=1)
    if number > MAX_NUMPROCS:
        raise ValueError(
            f"expected at most {MAX_NUMPROCS:,} processes (each costs descriptors and memory), got '{text}'"
        )
    return number
