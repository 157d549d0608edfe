"""Turning a :class:`ProcessConfig` into a running child, and Supervisor's spawn-error wording.

The child is created with ``subprocess.Popen`` (``_posixsubprocess``: vfork/exec in C, no Python between fork
and exec, so a signal can never land in a half-started child) with its own process group, so terminal
signals do not reach it and ``stopasgroup`` can address ``-pid``. ``Popen`` only returns once exec has
succeeded; an exec failure comes back as an exception, never as a mystery exit code.
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import stat
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from supervisord.config.model import ProcessConfig
from supervisord.runtime import limits

if TYPE_CHECKING:
    from supervisord.runtime.cgroups import ProcessCgroup

DEFAULT_PATH = "/bin:/usr/bin:/usr/local/bin"


class SpawnError(Exception):
    """The child could not be started; ``str()`` is Supervisor's spawnerr text."""

    fault = "SPAWN_ERROR"


class CommandNotFound(SpawnError):
    fault = "NO_FILE"


class CommandNotExecutable(SpawnError):
    fault = "NOT_EXECUTABLE"


def parse_command(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SpawnError(f"can't parse command {command!r}: {exc}") from None
    if not argv:
        raise SpawnError("command is empty")
    return argv


def command_candidates(program: str, config: ProcessConfig, environ: Mapping[str, str]) -> list[str]:
    """Where argv[0] is looked for, in order: itself (against ``directory``) or each PATH entry.

    The binary watcher watches the same places, so it sees what the next spawn would run.
    """
    if "/" in program:
        return [program if os.path.isabs(program) else os.path.join(config.directory or "", program)]
    path = environ.get("PATH", DEFAULT_PATH)
    return [os.path.join(d, program) for d in path.split(os.pathsep) if d]


def resolve_command(config: ProcessConfig, environ: Mapping[str, str]) -> list[str]:
    """The argv to exec, with argv[0] made absolute the way Supervisor finds it (PATH of the child env)."""
    argv = parse_command(config.command)
    program = argv[0]
    candidates = command_candidates(program, config, environ)
    found = None
    for candidate in candidates:
        try:
            st = os.stat(candidate)
        except (OSError, ValueError):  # ValueError: a NUL byte in the name
            continue
        found = (candidate, st)
        break
    if found is None:
        raise CommandNotFound(f"can't find command {program!r}")
    filename, st = found
    if stat.S_ISDIR(st.st_mode):
        raise CommandNotExecutable(f"command at {filename!r} is a directory")
    if not (stat.S_IMODE(st.st_mode) & 0o111):
        raise CommandNotExecutable(f"command at {filename!r} is not executable")
    if not os.access(filename, os.X_OK):
        raise CommandNotExecutable(f"no permission to run command {program!r}")
    argv[0] = filename
    return argv


@dataclass(frozen=True)
class Credentials:
    uid: int
    gid: int
    groups: tuple[int, ...]
    name: str
    home: str


def resolve_user(spec: str) -> Credentials:
    """``user`` or ``user:group``, by name or number, with the user's supplementary groups."""
    user, _, group = spec.partition(":")
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except (KeyError, ValueError):
        raise SpawnError(f"Invalid user name {user}") from None
    gid = entry.pw_gid
    if group:
        try:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise SpawnError(f"Invalid group name {group}") from None
    groups = tuple(sorted({g.gr_gid for g in grp.getgrall() if entry.pw_name in g.gr_mem} | {gid}))
    return Credentials(entry.pw_uid, gid, groups, entry.pw_name, entry.pw_dir)


def child_environment(
    config: ProcessConfig, base: Mapping[str, str], serverurl: str | None
) -> dict[str, str]:
    """os.environ < SUPERVISOR_* < the program's merged environment (Supervisor's order)."""
    env = dict(base)
    env["SUPERVISOR_ENABLED"] = "1"
    url = config.serverurl or serverurl
    if url:
        env["SUPERVISOR_SERVER_URL"] = url
    env["SUPERVISOR_PROCESS_NAME"] = config.name
    env["SUPERVISOR_GROUP_NAME"] = config.group
    env.update(config.environment)
    return env


class ManagedPids:
    """The pids the daemon's actors own, so a PID-1 reaper never steals their exit status.

    ``spawning()`` is held across fork/exec and registration; the reaper holds the same lock while it picks
    zombies, so it can never see a child of ours before we know its pid.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._pids: set[int] = set()
        # Told of every spawn and reap while a run is on (the child journal: what to stop after a crash).
        self.on_spawn: Callable[[int, ProcessConfig], None] | None = None
        self.on_reap: Callable[[int], None] | None = None

    def add(self, pid: int) -> None:
        self._pids.add(pid)

    def spawned(self, pid: int, config: ProcessConfig) -> None:
        if self.on_spawn is not None:
            self.on_spawn(pid, config)

    def discard(self, pid: int) -> None:
        with self.lock:
            self._pids.discard(pid)
        if self.on_reap is not None:
            self.on_reap(pid)

    def __contains__(self, pid: object) -> bool:
        return pid in self._pids


@dataclass
class Child:
    """A started child: the Popen, our end of its stdin, and the read ends the I/O loop will own."""

    popen: subprocess.Popen[bytes]
    pidfd: int
    stdin_fd: int | None
    stdout_fd: int
    stderr_fd: int | None
    cgroup: ProcessCgroup | None = None  # its own cgroup (memory_max, cpu_max, pids_max), ended with it


def spawn(
    config: ProcessConfig,
    argv: list[str],
    env: Mapping[str, str],
    credentials: Credentials | None,
    pids: ManagedPids,
) -> Child:
    """Fork/exec the child with fresh pipes; raise SpawnError with Supervisor's wording on failure."""
    uid = credentials.uid if credentials is not None else os.getuid()
    refused = limits.check_rlimits(config.limits, uid)
    if refused:
        raise SpawnError(refused)
    if not config.limits.cgroup:
        return _spawn(config, limits.wrap_argv(config.limits, argv), env, credentials, pids, argv[0])
    from supervisord.runtime import cgroups

    try:
        cgroup = cgroups.create(config)
    except cgroups.CgroupError as exc:
        raise SpawnError(str(exc)) from None
    # The child waits at a gate (a line on its stdin) until the daemon has placed it in its cgroup.
    gated = cgroups.gate_argv(limits.wrap_argv(config.limits, argv))
    try:
        child = _spawn(config, gated, env, credentials, pids, argv[0])
    except BaseException:
        cgroup.finish()
        raise
    assert child.stdin_fd is not None
    try:
        cgroup.place(child.popen.pid)
        os.write(child.stdin_fd, b"\n")  # an empty pipe takes one byte at once
    except (cgroups.CgroupError, OSError) as exc:
        _close([child.stdin_fd, child.pidfd, child.stdout_fd, child.stderr_fd])  # the gate exits 126
        child.popen.wait()
        pids.discard(child.popen.pid)
        cgroup.finish()
        raise SpawnError(str(exc)) from None
    child.cgroup = cgroup
    return child


def _spawn(
    config: ProcessConfig,
    argv: list[str],
    env: Mapping[str, str],
    credentials: Credentials | None,
    pids: ManagedPids,
    program: str,
) -> Child:
    """Popen ``argv`` (the program, or a wrapper or gate that execs ``program``) with fresh pipes."""
    fds: list[int] = []
    try:
        in_r, in_w = os.pipe2(os.O_CLOEXEC)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        fds += [in_r, in_w, out_r, out_w]
        err_r = err_w = None
        if not config.redirect_stderr:
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            fds += [err_r, err_w]
        switch = credentials is not None and credentials.uid != os.getuid()
        user = credentials.uid if switch and credentials else None
        group = credentials.gid if switch and credentials else None
        extra_groups = list(credentials.groups) if switch and credentials else None
        with pids.lock:
            popen = subprocess.Popen(
                argv,
                stdin=in_r,
                stdout=out_w,
                stderr=subprocess.STDOUT if err_w is None else err_w,
                env=dict(env),
                cwd=config.directory or None,
                umask=-1 if config.umask is None else config.umask,
                process_group=0,
                close_fds=True,
                restore_signals=True,
                user=user,
                group=group,
                extra_groups=extra_groups,
            )
            pids.add(popen.pid)
        try:
            pidfd = os.pidfd_open(popen.pid)
        except OSError:  # out of descriptors: a child we could not watch must not run unsupervised
            popen.kill()
            popen.wait()
            pids.discard(popen.pid)
            raise
    except PermissionError as exc:
        _close(fds)
        raise SpawnError(f"no permission to run command {program!r}: {exc.strerror}") from None
    except FileNotFoundError as exc:
        _close(fds)
        target = exc.filename or program
        if config.directory and target == config.directory:
            raise SpawnError(f"couldn't chdir to {config.directory}: ENOENT") from None
        raise CommandNotFound(f"can't find command {program!r}") from None
    except OSError as exc:
        _close(fds)
        if exc.errno == 24:  # EMFILE
            raise SpawnError(f"too many open files to spawn {config.name!r}") from None
        if exc.errno == 11:  # EAGAIN
            raise SpawnError(f"Too many processes in process table to spawn {config.name!r}") from None
        raise SpawnError(f"unknown error making dispatchers for {config.name!r}: {exc}") from None
    except subprocess.SubprocessError as exc:
        _close(fds)
        raise SpawnError(str(exc)) from None
    except Exception as exc:  # e.g. ValueError for a NUL byte in an argument: still a spawn error
        _close(fds)
        raise SpawnError(
            f"unknown error during spawn of {config.name!r}: {type(exc).__name__}: {exc}"
        ) from None
    _close([in_r, out_w] + ([err_w] if err_w is not None else []))
    pids.spawned(popen.pid, config)
    return Child(popen, pidfd, in_w, out_r, err_r)


def _close(fds: Iterable[int | None]) -> None:
    for fd in fds:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def start_side_command(
    command: str, config: ProcessConfig, env: Mapping[str, str], pids: ManagedPids
) -> subprocess.Popen[bytes]:
    """Start a command that belongs to a program without being it: a hook, a check script, a watch's command.

    No shell; the program's user, directory, umask and environment; a session of its own (so a timeout can
    kill its whole group); stdin from /dev/null, stdout and stderr on one pipe. The pid is registered in
    ``pids`` under its lock, so the orphan reaper can never take its exit status. Raises
    :class:`SpawnError` (a bad command or user), ``OSError`` or ``subprocess.SubprocessError``.
    """
    argv = parse_command(command)
    credentials = resolve_user(config.user) if config.user else None
    switch = credentials is not None and credentials.uid != os.getuid()
    with pids.lock:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=config.directory or None,
            umask=-1 if config.umask is None else config.umask,
            start_new_session=True,
            user=credentials.uid if switch and credentials else None,
            group=credentials.gid if switch and credentials else None,
            extra_groups=list(credentials.groups) if switch and credentials else None,
        )
        pids.add(popen.pid)
    return popen
