"""Everything between "the config is loaded" and "the runtime starts" that touches the OS process itself.

* resource limits (``minfds``/``minprocs``), raised in both modes so a daemon never starts under-provisioned;
* dropping to ``[supervisord] user`` once the listeners are bound (so privileged ports still work);
* ``-d``: detaching with python-daemon, in the order architecture.md §3 prescribes. The fork happens before
  gevent's hub or any thread exists (libev's epoll fd does not survive a fork), the listener sockets and a
  readiness pipe are the only descriptors carried across, ``signal_map={}`` leaves signal handling to the
  daemon, and the launching process waits on the pipe so its exit status says whether the daemon is
  really serving rather than merely forked.

The pidfile is written and removed by the daemon itself (``daemon.serve``); python-daemon's lockfile-based
pidfile is not used because it cannot tell a stale file from a live one (architecture.md §3).
"""

from __future__ import annotations

import os
import resource
import select
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from supervisord.config.model import Config, SupervisordConfig

READY_TIMEOUT = 60.0


class StartupError(Exception):
    """A reason not to start; the message is meant for the terminal."""


# --------------------------------------------------------------------------------------- resource limits


@dataclass(frozen=True)
class _Limit:
    resource: int
    setting: str
    what: str


_LIMITS = (
    _Limit(resource.RLIMIT_NOFILE, "minfds", "file descriptors"),
    _Limit(resource.RLIMIT_NPROC, "minprocs", "processes"),
)


def raise_rlimits(settings: SupervisordConfig) -> list[str]:
    """Lift the soft (and, as root, hard) limits to ``minfds``/``minprocs``; returns what was changed.

    A limit that cannot be raised is fatal, like in Supervisor: running with fewer descriptors than
    configured fails much later and far less clearly (``too many open files to spawn``).
    """
    changed = []
    for limit in _LIMITS:
        wanted = int(getattr(settings, limit.setting))
        soft, hard = resource.getrlimit(limit.resource)
        if soft == resource.RLIM_INFINITY or soft >= wanted:
            continue
        new_hard = hard if hard == resource.RLIM_INFINITY or hard >= wanted else wanted
        try:
            resource.setrlimit(limit.resource, (wanted, new_hard))
        except (ValueError, OSError):
            allowed = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
            raise StartupError(
                f"The minimum number of {limit.what} required to run this process is {wanted} as per the "
                f'"{limit.setting}" command-line argument or config file setting. The current environment '
                f"will only allow {allowed} {limit.what}. Either raise that limit in your environment "
                f"(ulimit, systemd LimitNOFILE=/LimitNPROC=) or lower the {limit.setting} setting."
            ) from None
        changed.append(f"raised the {limit.what} limit ({limit.setting}) from {soft} to {wanted}")
    return changed


FDS_PER_PROCESS = 6  # a running child costs its stdin, stdout and stderr pipes, its pidfd and two log files
FDS_RESERVED = 64  # the daemon's own: listening sockets, clients, epoll, eventfd, the main log


def descriptor_budget(config: Config) -> str | None:
    """A warning when running every autostart process at once needs more descriptors than we may open.

    A process costs descriptors only while it runs (its log files too), so only autostart ones count; the
    warning says what to raise before the spawns start failing with "too many open files".
    """
    count = sum(1 for group in config.groups for proc in group.processes if proc.autostart)
    need = FDS_RESERVED + FDS_PER_PROCESS * count
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or need <= soft:
        return None
    return (
        f"{count} autostart processes need about {need} file descriptors ({FDS_PER_PROCESS} each, plus "
        f"{FDS_RESERVED}) but only {soft} are allowed: raise minfds to at least {need}"
    )


# --------------------------------------------------------------------------------------- privileges


# What the daemon imports only on first use (to start leaner): -d, a listener pool, logfile=syslog, a
# non-RPC request, an unusual XML-RPC body, an http probe. tests/test_lean.py checks that a plain
# config loads none of them.
LAZY_IMPORTS = (
    "daemon",
    "requests",  # http probes (supervisord/probes.py); Nacos and the fleet import it with their modules
    "bottle",
    "logging.handlers",
    "xmlrpc.client",
    "prometheus_client",  # /metrics, on the first scrape (it imports http.server and friends)
    "prometheus_client.core",
    "prometheus_client.exposition",
)


def preload_runtime() -> None:
    """Resolve what gevent and the runtime import lazily while every file is still readable.

    After the switch to ``user`` the interpreter's own library may be unreadable (a pyenv under ``/root``),
    and gevent imports its loop, resolver, thread pool and ``pprint`` only when the hub is first created;
    resolving the settings imports them without creating the hub (which must wait until after the fork).
    Our own modules import some surfaces on first use, so every module of the daemon and web packages is
    imported here too (none starts anything at import time).
    """
    import importlib
    import pkgutil

    import gevent._config

    for name in ("loop", "format_context", "resolver", "threadpool", "fileobject"):
        try:
            getattr(gevent._config.config, name)
        except Exception:  # an unusable optional backend is gevent's business, not a reason to stop
            pass
    import gevent.pywsgi
    import gevent.socket
    import gevent.threadpool

    import supervisord
    import supervisord.actors
    import supervisord.runtime
    import supervisord.web

    for name in LAZY_IMPORTS:
        importlib.import_module(name)
    for package in (supervisord, supervisord.actors, supervisord.runtime, supervisord.web):
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if not module.ispkg and not module.name.endswith(".__main__"):  # __main__ would run main()
                importlib.import_module(module.name)
    from supervisord.web import gui

    gui.assets()  # the GUI's template and static files, read from the package like any module


def drop_privileges(user: str | None) -> None:
    """Become ``user`` (``name``, ``uid`` or ``name:group``) for good; a no-op when it is already us."""
    if not user:
        return
    from supervisord.runtime.spawn import SpawnError, resolve_user

    try:
        creds = resolve_user(user)
    except SpawnError as exc:
        raise StartupError(str(exc)) from None
    if os.getuid() != 0:
        if creds.uid == os.getuid():
            return
        raise StartupError(
            f"Can't drop privilege as nonroot user (user={user} needs supervisord run as root)"
        )
    try:
        os.setgroups(list(creds.groups))
        os.setgid(creds.gid)
        os.setuid(creds.uid)
    except OSError as exc:
        raise StartupError(f"Could not switch to user {user}: {exc}") from None


# --------------------------------------------------------------------------------------- pidfile


def _pid_is_supervisord(pid: int) -> bool:
    """True if ``pid`` is alive and, where /proc tells, looks like a supervisord (not a recycled pid)."""
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by someone else
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except OSError:
        return True  # no /proc: trust the liveness check
    return b"supervisor" in cmdline


def check_pidfile(path: str) -> None:
    """Refuse to start if ``path`` names a live supervisord; remove it if it names a dead one."""
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StartupError(f"could not read pidfile {path}: {exc}") from None
    pid = int(text) if text.isdigit() else 0
    if _pid_is_supervisord(pid):
        raise StartupError(f"supervisord is already running with pid {pid} (pidfile {path})")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StartupError(f"could not remove stale pidfile {path}: {exc}") from None


# --------------------------------------------------------------------------------------- detaching


class Readiness:
    """The daemon's end of the readiness pipe: say "serving" or "failed" exactly once."""

    def __init__(self, fd: int) -> None:
        self.fd: int | None = fd

    def _send(self, message: str) -> None:
        if self.fd is None:
            return
        try:
            os.write(self.fd, message.encode("utf-8", "replace"))
        except OSError:
            pass  # the launcher is gone; nobody is waiting for the verdict
        finally:
            os.close(self.fd)
            self.fd = None

    def ready(self) -> None:
        self._send(f"OK {os.getpid()}\n")

    def failed(self, message: str) -> None:
        self._send(f"ERROR {message}\n")


def wait_for_verdict(fd: int, timeout: float = READY_TIMEOUT) -> tuple[bool, str]:
    """Read the pipe until EOF or the deadline; (True, pid) on "OK", else (False, why)."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, f"the daemon did not report that it is serving within {timeout:g}s"
        readable, _, _ = select.select([fd], [], [], left)
        if not readable:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
        if data.endswith(b"\n"):
            break
    text = data.decode("utf-8", "replace").strip()
    if text.startswith("OK"):
        return True, text[2:].strip()
    if text.startswith("ERROR"):
        return False, text[5:].strip()
    return False, "the daemon exited before it was ready (see the main log)"


def detach(
    run: Callable[[Readiness], int],
    *,
    keep_fds: Iterable[int],
    umask: int,
    directory: str | None,
    report: Callable[[str], object],
) -> int:
    """Run ``run`` in a detached daemon; in the launching process return 0 once it reports ready, else 1.

    ``run`` receives the :class:`Readiness` to signal once the HTTP servers accept requests; an exception
    escaping it is reported through the pipe too. ``report`` prints the launcher's error message.
    """
    import daemon as python_daemon  # only -d needs it; before the fork, so a failure reaches the terminal

    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child:
        os.close(write_fd)
        try:
            ok, detail = wait_for_verdict(read_fd)
        finally:
            os.close(read_fd)
            _reap(child)
        if not ok:
            report(detail)
            return 1
        return 0
    os.close(read_fd)
    readiness = Readiness(write_fd)
    try:
        context = python_daemon.DaemonContext(
            working_directory=directory or os.getcwd(),
            umask=umask,
            detach_process=True,
            files_preserve=[write_fd, *keep_fds],
            signal_map={},
            prevent_core=False,
        )
        context.open()
    except BaseException as exc:  # still the intermediate process: tell the launcher and vanish
        readiness.failed(f"could not daemonize: {exc}")
        os._exit(1)
    try:
        rc = run(readiness)
    except BaseException as exc:
        readiness.failed(f"{type(exc).__name__}: {exc}")
        raise
    readiness.failed("the daemon stopped before it was ready")  # no-op once ready() was sent
    return rc


def _reap(pid: int) -> None:
    """Collect the intermediate child (python-daemon's first fork exits at once)."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
