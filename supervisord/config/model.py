"""Typed, validated configuration: what the rest of the daemon reads.

The INI text is parsed once (see :mod:`supervisord.config.loader`) into these frozen dataclasses.
Nothing downstream ever sees a raw string map, so a typo in a key is a config error with a file and a
line, never a silent default at run time. Equality of these objects is what ``reread``/``update`` use to
decide whether a group changed, so every field that affects a process's behaviour lives here.

A process's own config (``ProcessConfig`` and what it holds) uses ``__slots__``: 1,000 programs make
1,000 of each, and a 37-field instance dict alone is ~1.5 KB. Their class attributes are slot
descriptors, not defaults: read a default from an instance (``SyslogConfig().facility``).
"""

from __future__ import annotations

import enum
import signal
from dataclasses import dataclass, field


class AutoRestart(enum.Enum):
    """When an exited RUNNING process is started again."""

    NEVER = "false"
    ALWAYS = "true"
    UNEXPECTED = "unexpected"


class LogKind(enum.Enum):
    """Where one destination of a child's output stream goes."""

    FILE = "file"  # an explicit path
    AUTO = "auto"  # a file created in childlogdir, removed at shutdown unless nocleanup
    NULL = "null"  # NONE, OFF or /dev/null: discard
    STDOUT = "stdout"  # the daemon's own stdout
    STDERR = "stderr"  # the daemon's own stderr
    SYSLOG = "syslog"  # local /dev/log, or a remote host when ``host`` is set


@dataclass(frozen=True, slots=True)
class LogDestination:
    """One target of a comma-separated ``stdout_logfile``/``stderr_logfile`` list."""

    kind: LogKind
    path: str | None = None  # FILE: absolute path
    host: str | None = None  # SYSLOG remote: host name or address
    port: int | None = None  # SYSLOG remote: port (udp 514, tcp 6514 by default)
    protocol: str = "udp"  # SYSLOG remote: "udp" or "tcp"


@dataclass(frozen=True, slots=True)
class StreamLogConfig:
    """Everything about one of a child's output channels (stdout or stderr)."""

    destinations: tuple[LogDestination, ...] = (LogDestination(LogKind.AUTO),)
    maxbytes: int = 50 * 1024 * 1024  # 0 = never rotate
    backups: int = 10  # 0 = keep no rotated copies
    capture_maxbytes: int = 0  # > 0 enables <!--XSUPERVISOR:BEGIN--> capture mode
    events_enabled: bool = False  # emit PROCESS_LOG_* events
    syslog: bool = False  # Supervisor's ``stdout_syslog``/``stderr_syslog``
    log_format: str = "raw"  # raw | timestamped | json (``stdout_log_format``)
    compress: bool = False  # rotated files become NAME.1.gz ... (``stdout_logfile_compress = gzip``)
    rotate_every: str | None = None  # "hourly" | "daily": rotate on the clock as well as at maxbytes

    @property
    def primary_file(self) -> LogDestination | None:
        """The first file-like destination: the one readLog/tail and ``logfile`` report."""
        for dest in self.destinations:
            if dest.kind in (LogKind.FILE, LogKind.AUTO):
                return dest
        return None


@dataclass(frozen=True, slots=True)
class SyslogConfig:
    """The Go project's syslog keys (names already validated, lower case)."""

    facility: str = "user"
    tag: str | None = None  # None: the process name
    stdout_priority: str = "info"
    stderr_priority: str = "err"


@dataclass(frozen=True, slots=True)
class WatchConfig:
    """The Go project's restart-on-change keys (run by the watcher actor)."""

    restart_when_binary_changed: bool = False
    restart_cmd_when_binary_changed: str | None = None
    restart_signal_when_binary_changed: tuple[int, ...] = ()
    restart_directory_monitor: str | None = None
    restart_file_pattern: str = "*"
    restart_cmd_when_file_changed: str | None = None
    restart_signal_when_file_changed: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Probe:
    """What a readiness or liveness check asks: ``http`` (a URL), ``tcp`` (``host:port``), ``script`` (a
    command, run without a shell) or, for readiness only, ``notify`` (the systemd notify protocol)."""

    kind: str
    target: str = ""

    def __str__(self) -> str:
        if self.kind == "notify":
            return "notify"
        if self.kind == "http":
            return self.target
        return f"{self.kind}://{self.target}"


@dataclass(frozen=True, slots=True)
class ReadinessConfig:
    """``readiness_check``: RUNNING means "ready", not "alive for startsecs" (startsecs is the deadline)."""

    probe: Probe | None = None  # None: Supervisor's startsecs rule
    period: float = 1.0  # seconds between polls of an http/tcp/script probe
    watchdog_sec: float = 0.0  # notify: restart when no WATCHDOG=1 came for this long (0: off)


@dataclass(frozen=True, slots=True)
class LivenessConfig:
    """The Go project's ``liveness_check_*`` keys (defaults as there)."""

    probe: Probe | None = None  # None: no health check
    initial_delay: float = 60.0
    period: float = 60.0
    timeout: float = 30.0
    success_threshold: int = 1
    failure_threshold: int = 3
    success_action: str | None = None  # a command run when the check passes again
    failure_action: str = "restart"  # "restart", "stop", or a command


@dataclass(frozen=True, slots=True)
class BackoffConfig:
    """The delay before retry n (n = 1, 2, ...) of a failed start.

    Without ``factor`` it is Supervisor's linear ramp ``initial * n`` (1 s, 2 s, 3 s), else the exponential
    ``initial * factor ** (n - 1)``; either is capped at ``max`` and spread by ``jitter`` (a fraction).
    """

    initial: float = 1.0
    factor: float | None = None
    max: float = float("inf")
    jitter: float = 0.0
    reset_after: float = 0.0  # > 0: the count only starts again once a process stayed up this long


@dataclass(frozen=True, slots=True)
class HookConfig:
    """Commands run around a process's start and stop (no shell; the program's user, env and directory)."""

    pre_start: str | None = None  # a failure (non-zero, timeout) fails the start
    post_start: str | None = None  # after RUNNING
    pre_stop: str | None = None  # before the first stop signal
    post_stop: str | None = None  # after STOPPED/EXITED
    timeout: float = 60.0  # a hook still running after this is killed (and counts as failed)

    @property
    def any(self) -> bool:
        return any((self.pre_start, self.post_start, self.pre_stop, self.post_stop))


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """Per-process resource limits: rlimits set in the child, cgroup v2 limits on a cgroup per process."""

    rlimits: tuple[tuple[str, int], ...] = ()  # ("nofile", 4096); -1 = unlimited; soft = hard
    memory_max: int | None = None  # bytes (cgroup memory.max)
    cpu_max: str | None = None  # cgroup cpu.max text: "QUOTA PERIOD" in microseconds, e.g. "50000 100000"
    pids_max: int | None = None

    @property
    def cgroup(self) -> bool:
        return self.memory_max is not None or self.cpu_max is not None or self.pids_max is not None


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """The Go project's ``cron``: start the program at these times when it is not running."""

    cron: str | None = None  # 5 or 6 fields (6: seconds first... see values.parse_cron)
    timezone: str | None = None  # an IANA name; None = the daemon's local time


@dataclass(frozen=True, slots=True)
class ProcessConfig:
    """One process after ``numprocs`` expansion: everything needed to spawn, watch and stop it."""

    name: str  # process name (after process_name expansion)
    group: str  # group name: the program name, or the [group:x] that adopted it
    program_name: str  # the section's name after ``program:``
    command: str  # expanded, not yet split (a bad quote is a spawn error, as in Supervisor)
    process_num: int = 0
    numprocs: int = 1
    priority: int = 999
    autostart: bool = True
    autorestart: AutoRestart = AutoRestart.UNEXPECTED
    startsecs: float = 1
    startretries: int = 3  # -1: forever
    exitcodes: frozenset[int] = frozenset({0})
    stopsignals: tuple[int, ...] = (int(signal.SIGTERM),)  # sent in turn, stopwaitsecs apart
    stopwaitsecs: float = 10
    killwaitsecs: float = 2  # Go extension: wait after a SIGKILL before sending it again (min 1 s)
    stopasgroup: bool = False
    killasgroup: bool = False
    restartpause: float = 0  # Go extension: wait this long after a stop before an automatic restart
    user: str | None = None  # "user" or "user:group"
    directory: str | None = None
    umask: int | None = None
    redirect_stderr: bool = False
    stdout: StreamLogConfig = field(default_factory=StreamLogConfig)
    stderr: StreamLogConfig = field(default_factory=StreamLogConfig)
    # Program-specific variables only, already merged as [supervisord] environment < envFiles <
    # environment= (later wins); the daemon's os.environ is applied under these at spawn time.
    environment: tuple[tuple[str, str], ...] = ()
    serverurl: str | None = None  # None = AUTO
    depends_on: tuple[str, ...] = ()  # program names
    syslog: SyslogConfig = field(default_factory=SyslogConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    readiness: ReadinessConfig = field(default_factory=ReadinessConfig)
    liveness: LivenessConfig = field(default_factory=LivenessConfig)
    backoff: BackoffConfig = field(default_factory=BackoffConfig)
    hooks: HookConfig = field(default_factory=HookConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    source_file: str = ""  # where the section was defined, for messages
    source_line: int = 0

    @property
    def namespec(self) -> str:
        """``group:name``, or just ``name`` when they are equal (Supervisor's display rule)."""
        return self.name if self.name == self.group else f"{self.group}:{self.name}"


class GroupKind(enum.Enum):
    PROGRAM = "program"  # a [program:x] with its own group
    GROUP = "group"  # a [group:x] adopting programs
    EVENTLISTENER = "eventlistener"  # a listener pool


@dataclass(frozen=True)
class EventPoolConfig:
    """Listener-pool settings of an ``[eventlistener:x]`` group."""

    events: tuple[str, ...]  # upper-case event type names, validated
    buffer_size: int = 10
    result_handler: str = "supervisor.dispatchers:default_handler"


@dataclass(frozen=True)
class GroupConfig:
    """A process group: the unit of add/remove/update and of start/stop ordering."""

    name: str
    kind: GroupKind
    priority: int
    processes: tuple[ProcessConfig, ...]
    pool: EventPoolConfig | None = None  # set only for EVENTLISTENER groups


@dataclass(frozen=True)
class InetHttpServerConfig:
    host: str  # "" means all interfaces
    port: int
    username: str | None = None
    password: str | None = None  # plain text or "{SHA}" + hex sha1
    metrics_auth: bool = True  # False: GET /metrics answers without credentials (for scrapers)
    request_maxbytes: int = 10 * 1024 * 1024  # larger bodies get 413 (0: no cap)
    header_timeout: float = 60.0  # seconds a new connection has to send its request head (0: no limit)
    idle_timeout: float = (
        1800.0  # seconds a kept-alive connection may wait for its next request (0: no limit)
    )


@dataclass(frozen=True)
class UnixHttpServerConfig:
    file: str  # absolute path
    chmod: int = 0o700
    chown: str | None = None  # "user" or "user:group"
    username: str | None = None
    password: str | None = None
    request_maxbytes: int = 10 * 1024 * 1024
    header_timeout: float = 60.0
    idle_timeout: float = 1800.0


@dataclass(frozen=True)
class CtlConfig:
    """``[supervisorctl]``: what clients use to find the daemon."""

    serverurl: str = "http://localhost:9001"
    username: str | None = None
    password: str | None = None
    prompt: str = "supervisor"
    history_file: str | None = None


@dataclass(frozen=True)
class SupervisordConfig:
    """``[supervisord]``: the daemon's own settings."""

    logfile: str = "supervisord.log"  # absolute after loading; "/dev/stdout" and "syslog" allowed
    logfile_maxbytes: int = 50 * 1024 * 1024
    logfile_backups: int = 10
    loglevel: str = "info"  # one of critical error warn info debug trace blather (aliases mapped)
    pidfile: str = "supervisord.pid"  # absolute after loading
    umask: int = 0o022
    nodaemon: bool = False
    silent: bool = False
    minfds: int = 1024
    minprocs: int = 200
    nocleanup: bool = False
    childlogdir: str = "/tmp"
    user: str | None = None
    directory: str | None = None
    strip_ansi: bool = False
    identifier: str = "supervisor"
    environment: tuple[tuple[str, str], ...] = ()
    config_watch: bool = False  # reread + update when a loaded config file changes
    watch_debounce: float = 1.0  # seconds a burst of file changes must settle before one action
    watch_polling: bool = False  # poll instead of inotify (network file systems)
    watch_poll_interval: float = 2.0


@dataclass(frozen=True)
class FleetConfig:
    """``[fleet]``: membership of a fleet through etcd v3 (supervisord/fleet/)."""

    etcd: tuple[str, ...]  # endpoints, scheme://host:port
    name: str  # this node's name in the fleet (default: the identifier)
    ttl: int = 10  # seconds the node's lease outlives its last keepalive
    prefix: str = "/supervisord"
    username: str | None = None  # etcd's own user (etcd auth), never the API's
    password: str | None = None
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    shared_programs: bool = False  # merge the programs under <prefix>/shared/ into this node's config
    url: str = ""  # the API URL other nodes call (default from [inet_http_server])
    offline_keep: int = 300  # seconds a node stays listed as OFFLINE once its lease ended, then forgotten


@dataclass(frozen=True)
class Config:
    """A whole parsed configuration file (with its includes)."""

    path: str  # absolute path of the main file
    supervisord: SupervisordConfig
    groups: tuple[GroupConfig, ...]  # in (priority, name) order
    inet_http_server: InetHttpServerConfig | None = None
    unix_http_server: UnixHttpServerConfig | None = None
    supervisorctl: CtlConfig = field(default_factory=CtlConfig)
    included_files: tuple[str, ...] = ()
    include_patterns: tuple[str, ...] = ()  # [include] files globs, absolute (config_watch sees new files)
    warnings: tuple[str, ...] = ()  # unknown keys and other non-fatal findings, already worded
    fleet: FleetConfig | None = None

    def group(self, name: str) -> GroupConfig | None:
        for group in self.groups:
            if group.name == name:
                return group
        return None
