"""Cgroup limits (``memory_max``, ``cpu_max``, ``pids_max``): a cgroup of its own for each process.

Layout: under the daemon's own cgroup in each hierarchy it uses (read from ``/proc/self/cgroup``), a subtree
``supervisord-<pid>-<starttime>`` (pid and start time: two daemons never collide, and a later daemon can tell
a dead predecessor's subtree from a live one) holding one cgroup per process, named by its namespec
``group:name`` (a name never holds ``:`` or ``/``). A process's cgroup lives as long as the process: when the
process ends (a stop, a crash, the daemon shutting down) everything left in the cgroup is killed and the
cgroup removed, so no escaped grandchild outlives it. The subtree goes at shutdown; a killed daemon's subtree
is cleaned (its processes killed) by the next daemon at start.

Two backends behind one interface (:class:`Backend`):

* :class:`V2` when the hierarchy root is cgroup2 (``memory.max``, ``cpu.max``, ``pids.max``, ``cgroup.kill``;
  stats from ``memory.current``, ``cpu.stat``, ``memory.events``). The v2 "no internal processes" rule: the
  daemon's cgroup can enable controllers for its children only once no process lives in it, so the daemon
  first moves itself into the leaf ``<own cgroup>/supervisord`` (what systemd's ``Delegate=yes`` expects).
* :class:`V1` for a legacy or hybrid host (``memory.limit_in_bytes``, ``cpu.cfs_quota_us`` and
  ``cpu.cfs_period_us``, ``pids.max``; stats from ``memory.usage_in_bytes``, ``cpuacct.usage``,
  ``memory.oom_control``). Membership and killing go through the hybrid's controller-less cgroup2 at
  ``unified`` when it is there (``cgroup.kill``, ``cgroup.events``), else the freezer: freeze, SIGKILL every
  pid, thaw, until empty.

Placement before exec: the spawn (``Popen``, no Python between fork and exec) starts the child as a tiny
shell gate (:func:`gate_argv`) that waits for a line on its stdin; the daemon writes the child's pid into
each ``cgroup.procs`` and only then writes that line, and the shell execs the program (same pid). Nothing
the program does happens outside its cgroup.

Anything that makes the limits impossible (no hierarchy, not writable, a controller missing) raises
:class:`CgroupError` with the reason; the spawn fails with it, never running a process without its limits.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from supervisord.config.model import LimitsConfig, ProcessConfig

CGROUP_ROOT = "/sys/fs/cgroup"
ROOT_ENV = "SUPERVISORD_CGROUP_ROOT"  # tests only: where to look for the cgroup filesystems
SUBTREE = re.compile(r"^supervisord-(\d+)-(\d+)$")
LEAF = "supervisord"  # v2: the daemon's own leaf, below its cgroup (the "no internal processes" rule)
EMPTY_WAIT = 2.0  # seconds to wait for a killed cgroup to empty before giving up on removing it
_NEEDS_ROOT = "cgroup limits need root or a cgroup delegated to the daemon"

# Runs as the child before the program: wait for the line the daemon writes on the child's stdin once it has
# placed the child (``read`` takes exactly that line: the program's stdin is untouched), then exec the
# program. Stdin closed without that line means the daemon could not place the child: exit 126, unrun.
_GATE = 'read -r _ || exit 126; exec "$@"'
SHELL = "/bin/sh"
# The same without a shell (a distroless image): the daemon's own interpreter, reading exactly one byte.
_PY_GATE = """
import os, sys
if os.read(0, 1) != b"\\n":
    sys.exit(126)
try:
    os.execv(sys.argv[1], sys.argv[1:])
except OSError as exc:
    sys.stderr.write("supervisord: cannot exec %s: %s\\n" % (sys.argv[1], exc))
    sys.exit(127)
"""


class CgroupError(Exception):
    """Cgroup limits cannot be applied here; ``str()`` says why (a spawn error's text)."""


@dataclass(frozen=True)
class Usage:
    """What a process's cgroup has used: memory now, CPU so far, processes killed by its memory limit."""

    memory_bytes: int | None
    cpu_seconds: float | None
    oom_kills: int


def gate_argv(argv: list[str]) -> list[str]:
    """The command line that waits for one line on stdin and then execs ``argv``.

    A shell costs about a millisecond; without one, the daemon's interpreter (like the rlimits wrapper).
    """
    if os.access(SHELL, os.X_OK):
        return [SHELL, "-c", _GATE, "supervisord-gate", *argv]
    return [sys.executable, "-I", "-S", "-c", _PY_GATE, *argv]


def _put(path: str, text: str) -> None:
    """One write to an existing cgroup file (never created: a missing file is an error, not a new file)."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _write(path: str, text: str) -> None:
    try:
        _put(path, text)
    except OSError as exc:
        raise CgroupError(f"cannot write {text.strip()!r} to {path}: {exc.strerror}") from None


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def _keyed(path: str, key: str) -> int | None:
    """The value of ``key`` in a flat-keyed file (``memory.events``, ``cpu.stat``…); None if absent."""
    try:
        for line in _read(path).splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        return None
    return None


def _number(path: str) -> int | None:
    try:
        return int(_read(path))
    except (OSError, ValueError):
        return None


def _mkdir(path: str) -> bool:
    """Make one cgroup directory; False if it was already there."""
    try:
        os.mkdir(path)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        raise CgroupError(f"cannot create cgroup {path}: {exc.strerror} ({_NEEDS_ROOT})") from None


def _pids(procs: str) -> list[int]:
    try:
        return [int(p) for p in _read(procs).split()]
    except (OSError, ValueError):
        return []


class Backend:
    """One cgroup version's files. ``rel`` is a cgroup's path below the daemon's own cgroup(s)."""

    kind = ""

    def bases(self) -> list[str]:
        """The daemon's own cgroup directory in each hierarchy used."""
        raise NotImplementedError

    def prepare(self, subtree: str) -> None:
        """Make the daemon's subtree (once), ready to hold the processes' cgroups."""
        raise NotImplementedError

    def check(self, limits: LimitsConfig) -> None:
        """Raise :class:`CgroupError` if a controller these limits need is not there."""
        raise NotImplementedError

    def write_limits(self, rel: str, limits: LimitsConfig) -> None:
        raise NotImplementedError

    def usage(self, rel: str) -> Usage:
        raise NotImplementedError

    def kill(self, rel: str) -> None:
        """SIGKILL everything in the cgroup (asynchronous: see :meth:`populated`)."""
        raise NotImplementedError

    def populated(self, rel: str) -> bool:
        raise NotImplementedError

    def dirs(self, rel: str) -> list[str]:
        return [os.path.join(base, rel) for base in self.bases()]

    def path(self, rel: str) -> str:
        """The directory shown for a cgroup (the one holding its memory stats)."""
        return self.dirs(rel)[0]

    def make(self, rel: str, limits: LimitsConfig) -> bool:
        """Create the cgroup in every hierarchy and write its limits; False if it already existed."""
        fresh = [_mkdir(d) for d in self.dirs(rel)]
        self.write_limits(rel, limits)
        return all(fresh)

    def place(self, rel: str, pid: int) -> None:
        for d in self.dirs(rel):
            _write(os.path.join(d, "cgroup.procs"), str(pid))

    def remove(self, rel: str) -> None:
        """rmdir in every hierarchy (an empty cgroup); raises :class:`CgroupError` if one is still busy.

        Every hierarchy is tried even when one fails, and EBUSY is retried for a moment: a v1 hierarchy
        can still list a task the cgroup2 already counts as gone. A half-removed cgroup would otherwise be
        left behind for every later start to trip over.
        """
        errors: list[str] = []
        for d in self.dirs(rel):
            error: list[str] = []

            def gone(d: str = d, error: list[str] = error) -> bool:
                try:
                    os.rmdir(d)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    if exc.errno == errno.EBUSY:
                        return False
                    error.append(f"cannot remove cgroup {d}: {exc.strerror}")
                return True

            if not _until(gone, EMPTY_WAIT):
                error.append(f"cannot remove cgroup {d}: {os.strerror(errno.EBUSY)}")
            errors += error
        if errors:
            raise CgroupError("; ".join(errors))

    def children(self, subtree: str) -> set[str]:
        """Names of the cgroups in ``subtree`` (in any hierarchy)."""
        names: set[str] = set()
        for d in self.dirs(subtree):
            try:
                names.update(e.name for e in os.scandir(d) if e.is_dir(follow_symlinks=False))
            except OSError:
                pass
        return names

    def _kill_each(self, procs: str, freeze: Callable[[bool], None] | None) -> None:
        """SIGKILL every pid in ``procs`` (frozen meanwhile when ``freeze`` is given, so none can fork)."""
        if freeze is not None:
            freeze(True)
        try:
            for pid in _pids(procs):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        finally:
            if freeze is not None:
                freeze(False)  # a frozen task dies only once thawed


class V2(Backend):
    """Pure cgroup v2: the limits, membership and kill all in one directory per cgroup."""

    kind = "v2"
    CONTROLLERS = ("memory", "cpu", "pids")

    def __init__(self, base: str, is_root: bool) -> None:
        self.base = base  # the cgroup the daemon started in
        self.is_root = is_root
        self.enabled: set[str] = set()
        self.subtree = ""

    def bases(self) -> list[str]:
        return [self.base]

    def _available(self) -> set[str]:
        try:
            return set(_read(os.path.join(self.base, "cgroup.controllers")).split())
        except OSError as exc:
            raise CgroupError(f"cannot read {self.base}/cgroup.controllers: {exc.strerror}") from None

    def prepare(self, subtree: str) -> None:
        wanted = [c for c in self.CONTROLLERS if c in self._available()]
        control = os.path.join(self.base, "cgroup.subtree_control")
        try:
            enabled = set(_read(control).split())
        except OSError as exc:
            raise CgroupError(f"cannot read {control}: {exc.strerror}") from None
        if wanted and not set(wanted) <= enabled:
            if not self.is_root:  # no internal processes: the daemon (and what it started) move to a leaf
                leaf = os.path.join(self.base, LEAF)
                _mkdir(leaf)
                _write(os.path.join(leaf, "cgroup.procs"), str(os.getpid()))
                for pid in _pids(os.path.join(self.base, "cgroup.procs")):
                    if _descends_from_me(pid):
                        try:
                            _write(os.path.join(leaf, "cgroup.procs"), str(pid))
                        except CgroupError:
                            pass  # it exited meanwhile; anything else shows as EBUSY below
            try:
                _put(control, " ".join("+" + c for c in wanted))
            except OSError as exc:
                why = exc.strerror
                if exc.errno == errno.EBUSY:
                    why = "other processes live in that cgroup (run the daemon in a cgroup of its own)"
                raise CgroupError(
                    f"cannot enable the {', '.join(wanted)} controllers in {control}: {why}"
                ) from None
        top = os.path.join(self.base, subtree)
        _mkdir(top)
        if wanted:
            _write(os.path.join(top, "cgroup.subtree_control"), " ".join("+" + c for c in wanted))
        self.enabled = set(wanted)
        self.subtree = subtree

    def check(self, limits: LimitsConfig) -> None:
        for controller, on in _needed(limits):
            if on and controller not in self.enabled:
                raise CgroupError(
                    f"the cgroup v2 {controller} controller is not available to the daemon "
                    f"(not in {self.base}/cgroup.controllers: not delegated)"
                )

    def write_limits(self, rel: str, limits: LimitsConfig) -> None:
        d = os.path.join(self.base, rel)
        if limits.memory_max is not None:
            _write(os.path.join(d, "memory.max"), str(limits.memory_max))
        if limits.cpu_max is not None:
            _write(os.path.join(d, "cpu.max"), limits.cpu_max)
        if limits.pids_max is not None:
            _write(os.path.join(d, "pids.max"), str(limits.pids_max))

    def usage(self, rel: str) -> Usage:
        d = os.path.join(self.base, rel)
        usec = _keyed(os.path.join(d, "cpu.stat"), "usage_usec")
        return Usage(
            _number(os.path.join(d, "memory.current")),
            None if usec is None else usec / 1e6,
            _keyed(os.path.join(d, "memory.events"), "oom_kill") or 0,
        )

    def kill(self, rel: str) -> None:
        d = os.path.join(self.base, rel)
        if os.path.exists(os.path.join(d, "cgroup.kill")):
            _write(os.path.join(d, "cgroup.kill"), "1")
            return

        def freeze(on: bool) -> None:  # kernels before 5.14: cgroup.freeze, then kill each
            _write(os.path.join(d, "cgroup.freeze"), "1" if on else "0")
            if on:
                _until(lambda: _keyed(os.path.join(d, "cgroup.events"), "frozen") == 1, 1.0)

        self._kill_each(os.path.join(d, "cgroup.procs"), freeze)

    def populated(self, rel: str) -> bool:
        return _keyed(os.path.join(self.base, rel, "cgroup.events"), "populated") != 0


class V1(Backend):
    """Legacy or hybrid: one directory per controller hierarchy, plus the controller-less cgroup2 if any."""

    kind = "v1"

    def __init__(self, controllers: dict[str, str], unified: str | None) -> None:
        self.controllers = controllers  # "memory" -> the daemon's cgroup dir in that hierarchy
        self.unified = unified  # the daemon's cgroup dir in the hybrid's cgroup2, or None
        seen: dict[str, str] = {}
        for base in [*controllers.values(), *([unified] if unified else [])]:
            seen.setdefault(os.path.realpath(base), base)  # cpu and cpuacct may be one hierarchy
        self._bases = list(seen.values())

    def bases(self) -> list[str]:
        return self._bases

    def prepare(self, subtree: str) -> None:
        for base in self._bases:
            _mkdir(os.path.join(base, subtree))

    def check(self, limits: LimitsConfig) -> None:
        for controller, on in _needed(limits):
            if on and controller not in self.controllers:
                raise CgroupError(f"the cgroup v1 {controller} controller is not mounted (or not usable)")

    def _dir(self, controller: str, rel: str) -> str | None:
        base = self.controllers.get(controller)
        return None if base is None else os.path.join(base, rel)

    def path(self, rel: str) -> str:
        return self._dir("memory", rel) or self.dirs(rel)[0]

    def write_limits(self, rel: str, limits: LimitsConfig) -> None:
        memory, cpu, pids = (self._dir(c, rel) for c in ("memory", "cpu", "pids"))
        if limits.memory_max is not None and memory:
            _write(os.path.join(memory, "memory.limit_in_bytes"), str(limits.memory_max))
        if limits.cpu_max is not None and cpu:
            quota, _, period = limits.cpu_max.partition(" ")
            _write(os.path.join(cpu, "cpu.cfs_period_us"), period or "100000")
            _write(os.path.join(cpu, "cpu.cfs_quota_us"), "-1" if quota == "max" else quota)
        if limits.pids_max is not None and pids:
            _write(os.path.join(pids, "pids.max"), str(limits.pids_max))

    def usage(self, rel: str) -> Usage:
        memory, cpuacct = self._dir("memory", rel), self._dir("cpuacct", rel)
        nsec = _number(os.path.join(cpuacct, "cpuacct.usage")) if cpuacct else None
        return Usage(
            _number(os.path.join(memory, "memory.usage_in_bytes")) if memory else None,
            None if nsec is None else nsec / 1e9,
            (_keyed(os.path.join(memory, "memory.oom_control"), "oom_kill") or 0) if memory else 0,
        )

    def kill(self, rel: str) -> None:
        if self.unified is not None:
            kill = os.path.join(self.unified, rel, "cgroup.kill")
            if os.path.exists(kill):
                _write(kill, "1")
                return
        freezer = self._dir("freezer", rel)
        if freezer is None or not os.path.isdir(freezer):  # no freezer, or a half-removed leftover
            for d in self.dirs(rel):
                self._kill_each(os.path.join(d, "cgroup.procs"), None)
            return

        def freeze(on: bool) -> None:
            state = os.path.join(freezer, "freezer.state")
            _write(state, "FROZEN" if on else "THAWED")
            if on:
                _until(lambda: _read(state).strip() == "FROZEN", 1.0)

        self._kill_each(os.path.join(freezer, "cgroup.procs"), freeze)

    def populated(self, rel: str) -> bool:
        if self.unified is not None:
            flag = _keyed(os.path.join(self.unified, rel, "cgroup.events"), "populated")
            if flag is not None:  # None: not there (a leftover removed from some hierarchies only)
                return flag != 0
        return any(_pids(os.path.join(d, "cgroup.procs")) for d in self.dirs(rel))


def _descends_from_me(pid: int) -> bool:
    """Whether ``pid`` is a descendant of the daemon (its programs, hooks, their children)."""
    me = os.getpid()
    for _ in range(64):
        try:
            data = _read(f"/proc/{pid}/stat")
            pid = int(data[data.rfind(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if pid == me:
            return True
        if pid <= 1:
            return False
    return False


def _needed(limits: LimitsConfig) -> Iterator[tuple[str, bool]]:
    yield "memory", limits.memory_max is not None
    yield "cpu", limits.cpu_max is not None
    yield "pids", limits.pids_max is not None


def _until(done: Callable[[], bool], timeout: float) -> bool:
    """Poll ``done`` every millisecond (cgroup state changes take microseconds) until true or timeout."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def own_cgroups() -> dict[str, str]:
    """The daemon's cgroup path per v1 controller, and ``""`` for its cgroup2 path."""
    out: dict[str, str] = {}
    try:
        lines = _read("/proc/self/cgroup").splitlines()
    except OSError:
        return out
    for line in lines:
        _id, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        for name in controllers.split(",") if controllers else [""]:
            out[name] = path
    return out


def discover(root: str | None = None) -> Backend:
    """The backend for this host's cgroups at ``root`` (no side effects); :class:`CgroupError` if none."""
    root = root or os.environ.get(ROOT_ENV) or CGROUP_ROOT
    own = own_cgroups()

    def below(mount: str, path: str) -> str:
        if ".." in path.split("/"):  # our cgroup is outside this cgroup namespace's view
            raise CgroupError(f"the daemon's cgroup {path} is not visible under {mount}")
        return os.path.join(mount, path.lstrip("/"))

    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        path = own.get("", "/")
        return V2(below(root, path), path.strip("/") == "")
    mounts = {name: os.path.join(root, name) for name in ("memory", "cpu", "cpuacct", "pids", "freezer")}
    try:  # co-mounted hierarchies without the usual symlinks: "cpu,cpuacct"
        for entry in os.scandir(root):
            for name in entry.name.split(",") if "," in entry.name else []:
                if name in mounts and not os.path.exists(mounts[name]):
                    mounts[name] = entry.path
    except OSError:
        pass
    controllers: dict[str, str] = {}
    for name, mount in mounts.items():
        if name in own and os.path.exists(os.path.join(mount, "cgroup.procs")):
            controllers[name] = below(mount, own[name])
    unified = os.path.join(root, "unified")
    hybrid = "" in own and os.path.exists(os.path.join(unified, "cgroup.controllers"))
    if not controllers:
        raise CgroupError(f"no cgroup filesystem at {root} (neither cgroup v2 nor v1 controllers mounted)")
    return V1(controllers, below(unified, own[""]) if hybrid else None)


def subtree_name(pid: int) -> str:
    from supervisord.runtime.leftovers import proc_starttime

    return f"supervisord-{pid}-{proc_starttime(pid) or 0}"


@dataclass(frozen=True)
class ProcessCgroup:
    """One process's cgroup: place the child in it, read its usage, and end it with the process."""

    backend: Backend
    rel: str  # "<subtree>/<group>:<name>"
    memory_max: int | None = None
    oom_base: int = 0  # oom_kill count when created (non-zero only for a reused cgroup)

    @property
    def path(self) -> str:
        return self.backend.path(self.rel)

    def place(self, pid: int) -> None:
        self.backend.place(self.rel, pid)

    def usage(self) -> Usage:
        used = self.backend.usage(self.rel)
        return Usage(used.memory_bytes, used.cpu_seconds, max(0, used.oom_kills - self.oom_base))

    def finish(self) -> tuple[int, str]:
        """Kill what is left, wait for it to go, remove the cgroup: (its memory limit's kills, error)."""
        oom = self.usage().oom_kills
        try:
            _end(self.backend, self.rel)
        except CgroupError as exc:
            return oom, str(exc)
        return oom, ""


def _end(backend: Backend, rel: str) -> None:
    if backend.populated(rel):
        backend.kill(rel)
        if not _until(lambda: not backend.populated(rel), EMPTY_WAIT):
            raise CgroupError(f"processes in cgroup {backend.path(rel)} survived SIGKILL for {EMPTY_WAIT} s")
    backend.remove(rel)


def exit_note(cgroup: ProcessCgroup, status: int, oom_kills: int) -> str:
    """What an exit says about the memory limit: killed by it, or some of its processes were ("": neither)."""
    if not oom_kills:
        return ""
    limit = f"memory_max={cgroup.memory_max}" if cgroup.memory_max is not None else "memory limit"
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return f"killed by its cgroup's memory limit ({limit})"
    return f"{oom_kills} process(es) in its cgroup killed by its memory limit ({limit})"


class Cgroups:
    """The daemon's subtree in each hierarchy, made on the first process that needs it."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.subtree = subtree_name(os.getpid())
        self.lock = threading.Lock()  # spawns run on any actor worker
        self.prepared = False

    def create(self, config: ProcessConfig) -> ProcessCgroup:
        limits = config.limits
        rel = f"{self.subtree}/{config.group}:{config.name}"
        with self.lock:
            if not self.prepared:
                self.backend.prepare(self.subtree)
                self.prepared = True
            self.backend.check(limits)
            try:
                fresh = self.backend.make(rel, limits)
            except CgroupError:
                try:
                    self.backend.remove(rel)
                except CgroupError:
                    pass
                raise
        base = 0 if fresh else self.backend.usage(rel).oom_kills
        return ProcessCgroup(self.backend, rel, limits.memory_max, base)

    def close(self) -> list[str]:
        """Kill and remove every process cgroup and the subtree (at shutdown); the errors, if any."""
        with self.lock:
            if not self.prepared:
                return []
            self.prepared = False
            return _remove_subtree(self.backend, self.subtree)


def _remove_subtree(backend: Backend, subtree: str) -> list[str]:
    errors = []
    for name in sorted(backend.children(subtree)):
        try:
            _end(backend, f"{subtree}/{name}")
        except CgroupError as exc:
            errors.append(str(exc))
    try:
        backend.remove(subtree)
    except CgroupError as exc:
        errors.append(str(exc))
    return errors


_manager: Cgroups | None = None
_manager_lock = threading.Lock()


def create(config: ProcessConfig) -> ProcessCgroup:
    """The cgroup for one spawn of ``config``, made now with its limits; :class:`CgroupError` if not."""
    global _manager
    with _manager_lock:
        if _manager is None:
            _manager = Cgroups(discover())  # a failed discovery is retried by the next spawn
        manager = _manager
    return manager.create(config)


def close() -> list[str]:
    """Remove this daemon's subtree (at exit); the errors met, if any."""
    with _manager_lock:
        manager = _manager
    return manager.close() if manager is not None else []


def clean_leftovers() -> list[str]:
    """Kill and remove the subtrees of daemons that are gone; one line per subtree removed or error.

    A subtree is stale when its pid no longer runs with the start time in its name. Hosts without
    cgroups have nothing to clean: that is not an error.
    """
    from supervisord.runtime.leftovers import proc_starttime

    try:
        backend = discover()
    except CgroupError:
        return []
    stale: set[str] = set()
    for base in backend.bases():
        try:
            names = [e.name for e in os.scandir(base) if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for name in names:
            m = SUBTREE.match(name)
            if m and proc_starttime(int(m.group(1))) != int(m.group(2)):
                stale.add(name)
    lines = []
    for name in sorted(stale):
        errors = _remove_subtree(backend, name)
        lines += errors or [f"removed cgroup subtree {name} left by a supervisord that is gone"]
    return lines


def read_usage(cgroups: list[ProcessCgroup]) -> list[Usage | None]:
    """Usage of each cgroup (None for one already gone): small sysfs reads, for a thread pool, not the hub."""
    out: list[Usage | None] = []
    for cgroup in cgroups:
        try:
            out.append(cgroup.usage())
        except OSError:
            out.append(None)
    return out
