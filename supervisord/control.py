"""The transport-neutral control service: find, start and stop in order, wait, collect.

Every surface goes through :class:`Control` (one per daemon run): XML-RPC (:mod:`supervisord.web.rpcmethods`,
which only converts arguments and shapes answers), REST, the GUI, SSE snapshots, metrics and config_watch.
It raises :mod:`supervisord.faults` domain errors; each surface words them its own way. It runs on the gevent
hub: asks go out with ``block=False`` and are waited on through hub-safe futures, and file work goes to the
hub's thread pool, so a waiting call parks only its own greenlet.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gevent
import pykka

from supervisord import API_VERSION, faults, logread, namespec
from supervisord import SUPERVISOR_COMPAT_VERSION as SUPERVISOR_VERSION
from supervisord.actors.messages import (
    AddGroup,
    ClearLogs,
    FindProcesses,
    GetConfigInfo,
    GetSnapshot,
    GetSnapshots,
    Outcome,
    ProcessesInOrder,
    RemoveGroup,
    Reread,
    SignalProcess,
    Start,
    Stop,
    WriteStdin,
)
from supervisord.config.model import GroupConfig
from supervisord.runtime.gather import Gather
from supervisord.snapshot import ProcessSnapshot
from supervisord.states import RUNNING_STATES, SIGNALLABLE_STATES, ProcessState

if TYPE_CHECKING:
    from supervisord.daemon import Daemon

__all__ = ["API_VERSION", "SUPERVISOR_VERSION", "Control", "Result", "LogSlice", "Changes", "signal_number"]

ASK_TIMEOUT = 15.0  # one ask to an actor; they answer in milliseconds unless wedged
WAIT_TIMEOUT = 3600.0  # a deferred start/stop (only guards against a lost wake-up)
LOG_READ_MAX = 1024 * 1024  # one log read never returns more than this

Found = list[tuple[ProcessSnapshot, Any]]


@dataclass(frozen=True)
class Result:
    """What happened to one process of a many-process request (Supervisor's status struct)."""

    name: str
    group: str
    code: int
    text: str

    @property
    def ok(self) -> bool:
        return self.code == faults.FAULTS["SUCCESS"]

    @property
    def fault(self) -> str:
        return self.text.partition(":")[0]


@dataclass(frozen=True)
class LogSlice:
    """A piece of a log file: ``data`` starts at ``offset``; ``size`` is the file's size when read."""

    data: bytes
    offset: int
    size: int

    @property
    def next_offset(self) -> int:
        return self.offset + len(self.data)


@dataclass(frozen=True)
class Changes:
    """A reread's group names, each sorted."""

    added: list[str]
    changed: list[str]
    removed: list[str]


def signal_number(value: object) -> int:
    """``HUP``, ``SIGHUP``, ``1`` or 1 → 1; anything else is :class:`~supervisord.faults.BadSignal`."""
    try:
        num: int = int(value)  # type: ignore[call-overload]
    except OverflowError:  # an infinite double
        raise faults.BadSignal(value) from None
    except (TypeError, ValueError):
        if not isinstance(value, str):
            raise faults.BadSignal(value) from None
        name = value.strip().upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        sig = getattr(signal.Signals, name, None)
        if sig is None:
            raise faults.BadSignal(value) from None
        num = int(sig)
    if num not in {int(s) for s in signal.Signals}:
        raise faults.BadSignal(value)
    return num


def _success(snap: ProcessSnapshot) -> Result:
    return Result(snap.name, snap.group, faults.FAULTS["SUCCESS"], "OK")


def _failure(snap: ProcessSnapshot, err: faults.Fault) -> Result:
    return Result(snap.name, snap.group, err.code, err.text)


def _result(snap: ProcessSnapshot, outcome: Outcome) -> Result:
    if outcome.ok:
        return _success(snap)
    return _failure(snap, faults.fault(outcome.fault, outcome.text or None))


def _raise_for(outcome: Outcome) -> None:
    if not outcome.ok:
        raise faults.fault(outcome.fault, outcome.text or None)


REMOTE_BATCH = 32  # sendRemoteCommEvent events handed to the bus per message (see Control.remote_comm)


class Control:
    """One per daemon run; shared by every surface."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.leaving = False
        self.started = time.time()
        self._remote_events: list[Any] = []  # sendRemoteCommEvent's events of this hub turn, for the bus

    # -- plumbing --

    @property
    def supervisor(self) -> Any:
        """The supervisor actor; the servers start a moment before it exists."""
        deadline = time.monotonic() + ASK_TIMEOUT
        while self.daemon.supervisor is None:
            if time.monotonic() > deadline:
                raise faults.ShutdownState()
            gevent.sleep(0.01)
        return self.daemon.supervisor

    @staticmethod
    def post(ref: Any, message: Any) -> Any:
        """Send an ask without waiting (None: the actor is gone)."""
        try:
            return ref.ask(message, block=False)
        except pykka.ActorDeadError:
            return None

    @staticmethod
    def answer(future: Any, timeout: float = ASK_TIMEOUT) -> Any:
        if future is None:
            raise faults.ShutdownState()
        try:
            reply = future.get(timeout=timeout)
            if isinstance(reply, pykka.Future):  # the actor answers later (e.g. once processes exist)
                reply = reply.get(timeout=timeout)
            return reply
        except pykka.Timeout:
            raise faults.Failed("timed out waiting for the daemon") from None
        except pykka.ActorDeadError:
            raise faults.ShutdownState() from None

    def ask(self, ref: Any, message: Any) -> Any:
        return self.answer(self.post(ref, message))

    def _wait(self, future: Any, name: str, stopping: bool) -> Outcome:
        """A deferred start/stop; a stop logs "waiting for x to stop" every 2 s, as Supervisor does."""
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            if stopping and getattr(future, "_result", None) is None:
                self.daemon.logger.info("waiting for %s to stop", name)
            try:
                result: Outcome = future.get(timeout=2.0)
                return result
            except pykka.Timeout:
                if time.monotonic() > deadline:
                    raise faults.Failed("timed out waiting for the process") from None

    @staticmethod
    def offload(fn: Callable[..., Any], *args: Any) -> Any:
        """Blocking file work on the hub's thread pool (the hub itself must never block on disk).

        An exception comes back as a value and is raised here: gevent's pool prints every exception a task
        raises as a traceback on stderr, so each NO_FILE or bad config would write one.
        """

        def task() -> tuple[bool, Any]:
            try:
                return True, fn(*args)
            except Exception as exc:
                return False, exc

        ok, value = gevent.get_hub().threadpool.apply(task)
        if not ok:
            raise value
        return value

    def stopping(self) -> bool:
        return self.leaving or self.daemon.stop_event.is_set()

    def gate(self) -> None:
        """Every request that acts on the daemon fails with SHUTDOWN_STATE once it is stopping."""
        if self.stopping():
            raise faults.ShutdownState()

    # -- reading --

    def snapshots(self) -> list[ProcessSnapshot]:
        """Every process, ordered by group then name (one ask, however many processes)."""
        snaps: list[ProcessSnapshot] = self.ask(self.supervisor, GetSnapshots())
        return list(snaps)

    def find(self, spec: str) -> Found:
        """The processes ``spec`` names (one, or a whole group); :class:`BadName` when none."""
        parsed = namespec.parse(spec)
        if not parsed.group or (parsed.name is not None and not parsed.name):
            raise faults.BadName(spec)
        found = self.ask(self.supervisor, FindProcesses(spec))
        if isinstance(found, Outcome):
            raise faults.BadName(spec)
        out: Found = []
        for snap, ref in found:
            out.append((snap if snap is not None else self.ask(ref, GetSnapshot()), ref))
        return out

    def one(self, spec: str) -> tuple[ProcessSnapshot, Any]:
        """The single process ``spec`` names (a group spec is a BAD_NAME here)."""
        if namespec.parse(spec).is_group:
            raise faults.BadName(spec)
        return self.find(spec)[0]

    def process(self, spec: str) -> ProcessSnapshot:
        """The process's current snapshot, from its own actor (never older than any reply it sent)."""
        _, ref = self.one(spec)
        snap: ProcessSnapshot = self.ask(ref, GetSnapshot())
        return snap

    def in_order(self, group: str | None = None) -> Found:
        """Processes in Supervisor's start order (all, or one group's)."""
        found = self.ask(self.supervisor, ProcessesInOrder(group))
        if isinstance(found, Outcome):
            raise faults.BadName(group)
        return [(snap, ref) for snap, ref in found if snap is not None]

    def select(self, specs: Iterable[str]) -> Found:
        """Every process named by ``specs`` in start order, each once; unknown names are BAD_NAME."""
        wanted: set[tuple[str, str]] = set()
        for spec in specs:
            wanted.update((snap.group, snap.name) for snap, _ in self.find(spec))
        return [(s, r) for s, r in self.in_order() if (s.group, s.name) in wanted]

    # -- one process --

    def start(self, spec: str, wait: bool = True) -> None:
        self.gate()
        _, ref = self.one(spec)
        outcome = self.ask(ref, Start(wait=wait))
        _raise_for(outcome)
        if outcome.done is not None:
            _raise_for(self._wait(outcome.done, spec, stopping=False))

    def stop(self, spec: str, wait: bool = True) -> None:
        self.gate()
        snap, ref = self.one(spec)
        outcome = self.ask(ref, Stop(wait=wait))
        _raise_for(outcome)
        if outcome.done is not None:
            _raise_for(self._wait(outcome.done, snap.name, stopping=True))

    def restart(self, spec: str) -> None:
        """Stop it if it runs (waiting), then start it (waiting): ``supervisorctl restart``."""
        try:
            self.stop(spec)
        except faults.NotRunning:
            pass
        self.start(spec)

    def signal(self, spec: str, sig: object) -> None:
        self.gate()
        _, ref = self.one(spec)
        _raise_for(self.ask(ref, SignalProcess(signal_number(sig))))

    def write_stdin(self, spec: str, data: bytes) -> None:
        self.gate()
        _, ref = self.one(spec)
        _raise_for(self.ask(ref, WriteStdin(data)))

    def clear_logs(self, spec: str) -> None:
        self.gate()
        _, ref = self.one(spec)
        outcome = self.ask(ref, ClearLogs())
        if not outcome.ok:
            raise faults.Failed(spec)

    # -- many processes --

    def start_many(self, found: Found, wait: bool = True) -> list[Result]:
        """Start each process not yet running, in the given order, one ask after another (fork order)."""
        self.gate()
        chosen = [(s, r) for s, r in found if s.state not in RUNNING_STATES]
        return self._collect(((s, self.post(r, Start(wait=wait))) for s, r in chosen), stopping=False)

    def stop_many(self, found: Found, wait: bool = True) -> list[Result]:
        """Stop each running process: every stop is told at once, and the replies are gathered in one go.

        Supervisor's order: each process is signalled (in the given order, on the actors' own time), those
        that stopped at once answer first, the rest as they finish. "waiting for x to stop" is logged every
        2 s for each one still stopping. (Supervisor also logs it at its first look, right after its loop of
        kills, which catches the last few of a stop of many; ours would catch nearly all of them.)
        """
        self.gate()
        chosen = [(s, r) for s, r in found if s.state in RUNNING_STATES]
        gather = Gather(len(chosen))
        for index, (_, ref) in enumerate(chosen):
            try:
                ref.tell(Stop(wait=wait, slot=gather.slot(index)))
            except pykka.ActorDeadError:
                gather.fail(index, Outcome("SHUTDOWN_STATE"))
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            try:
                gather.done.get(timeout=2.0)
                break
            except pykka.Timeout:
                pass
            for index in gather.waiting():
                self.daemon.logger.info("waiting for %s to stop", chosen[index][0].name)
            for index in gather.pending():  # an actor that died never answers: never wait for ever
                if not chosen[index][1].is_alive():
                    gather.fail(index, Outcome("SHUTDOWN_STATE"))
            if time.monotonic() > deadline:
                for index in gather.pending():
                    gather.fail(index, Outcome("FAILED", "timed out waiting for the process"))
        return [_result(chosen[index][0], outcome) for index, outcome in gather.results()]

    def signal_many(self, found: Found, sig: object) -> list[Result]:
        """Signal each signallable process; a bad signal is a BAD_SIGNAL result for each (as Supervisor)."""
        self.gate()
        chosen = [(s, r) for s, r in found if s.state in SIGNALLABLE_STATES]
        try:
            signum = signal_number(sig)
        except faults.BadSignal as err:
            return [_failure(s, err) for s, _ in chosen]
        posted = [(s, self.post(r, SignalProcess(signum))) for s, r in chosen]
        return self._collect(iter(posted), stopping=False)

    def rolling_restart(self, group: str) -> list[Result]:
        """Restart a group one process at a time, in start order, without taking the group down.

        Each process is stopped and started like ``restart`` (the start waits for RUNNING, which with a
        ``readiness_check`` means ready); the next one begins only then. The first process that does not
        come back ends the roll: its result carries the reason, and every later one says it was left alone.
        """
        self.gate()
        found = self.in_order(group)
        if not found:
            raise faults.BadName(group)
        results: list[Result] = []
        failed: str | None = None
        for snap, _ in found:
            if failed is not None:
                text = f"FAILED: not restarted (the rolling restart stopped at {failed})"
                results.append(Result(snap.name, snap.group, faults.FAULTS["FAILED"], text))
                continue
            try:
                self.restart(snap.namespec)
                now = self.process(snap.namespec)
                if now.state is not ProcessState.RUNNING:
                    raise faults.AbnormalTermination(f"{snap.namespec} is {now.state.name}")
            except faults.Fault as err:
                failed = snap.namespec
                self.daemon.logger.warning("rolling restart of %s stopped at %s: %s", group, failed, err.text)
                results.append(_failure(snap, err))
            else:
                results.append(_success(snap))
        if failed is None:
            self.daemon.logger.info("rolling restart of %s done (%d processes)", group, len(results))
        return results

    def _collect(self, posted: Iterable[tuple[ProcessSnapshot, Any]], stopping: bool) -> list[Result]:
        """Supervisor's "allfunc": immediate answers first, deferred ones as they finish."""
        results: list[Result] = []
        pending: list[tuple[ProcessSnapshot, Any]] = []
        for snap, future in posted:
            try:
                outcome = self.answer(future)
                _raise_for(outcome)
            except faults.Fault as err:
                results.append(_failure(snap, err))
                continue
            if outcome.done is not None:
                pending.append((snap, outcome.done))
            else:
                results.append(_success(snap))

        def finish(snap: ProcessSnapshot, done: Any) -> None:
            try:
                _raise_for(self._wait(done, snap.name, stopping))
            except faults.Fault as err:
                results.append(_failure(snap, err))
            else:
                results.append(_success(snap))

        gevent.joinall([gevent.spawn(finish, snap, done) for snap, done in pending])
        return results

    def clear_all_logs(self) -> list[Result]:
        """Empty every process's logs, one after another, in start order."""
        self.gate()
        results = []
        for snap, ref in self.in_order():
            try:
                ok = self.ask(ref, ClearLogs()).ok
            except faults.Fault:
                ok = False
            results.append(_success(snap) if ok else _failure(snap, faults.Failed(snap.namespec)))
        return results

    # -- logs --

    @property
    def main_logfile(self) -> str | None:
        return self.daemon.config.supervisord.logfile

    def process_logfile(self, spec: str, channel: str) -> str | None:
        """The path of a process's ``stdout`` or ``stderr`` log, or None (no NO_FILE here: callers decide)."""
        snap, _ = self.one(spec)
        return (snap.stdout_logfile if channel == "stdout" else snap.stderr_logfile) or None

    def read_file(self, path: str | None, offset: int, length: int) -> bytes:
        """Supervisor's readLog rules (a negative offset counts from the end; length 0 reads to the end)."""
        try:
            data: bytes = self.offload(logread.read_slice, path, offset, length)
        except logread.NoFile as exc:
            raise faults.NoFile(exc.args[0] if exc.args else None) from None
        except logread.LogReadError as exc:
            raise faults.fault(exc.fault) from None
        return data

    def tail_file(self, path: str | None, offset: int, length: int) -> tuple[bytes, int, bool]:
        """Supervisor's tailProcessLog rules: (data, next offset, overflow); a missing file reads empty."""
        found: tuple[bytes, int, bool] = self.offload(logread.tail_slice, path, offset, length)
        return found

    def clear_main_log(self) -> None:
        """Empty the main log file and reopen it."""
        self.gate()
        path = self.main_logfile
        if not path or not os.path.exists(path):
            raise faults.NoFile()

        def clear() -> None:
            from supervisord import mainlog

            os.truncate(path, 0)
            mainlog.reopen()

        try:
            self.offload(clear)
        except OSError:
            raise faults.Failed() from None
        self.daemon.logger.info("reopening log file")

    def logfile(self, spec: str, channel: str) -> str:
        """The path of a process's ``stdout`` or ``stderr`` log; NO_FILE when it has none."""
        if channel not in ("stdout", "stderr"):
            raise faults.BadArguments(channel)
        snap, _ = self.one(spec)
        path = snap.stdout_logfile if channel == "stdout" else snap.stderr_logfile
        if not path:
            raise faults.NoFile(f"{spec} has no {channel} log")
        return path

    def read_log(self, spec: str, channel: str, offset: int | None, length: int) -> LogSlice:
        """``length`` bytes from ``offset``, or the last ``length`` bytes when ``offset`` is None.

        Never more than :data:`LOG_READ_MAX`, never the whole of a big file.
        """
        if length < 0 or (offset is not None and offset < 0):
            raise faults.BadArguments("offset and length must not be negative")
        length = min(length, LOG_READ_MAX)
        path = self.logfile(spec, channel)
        try:
            found: LogSlice = self.offload(_read_slice, path, offset, length)
        except FileNotFoundError:
            raise faults.NoFile(path) from None
        except OSError as exc:
            raise faults.Failed(exc.strerror) from None
        return found

    # -- configuration and the daemon --

    def reread(self) -> Changes:
        self.gate()
        try:
            config = self.offload(self.daemon.reload_config)
        except Exception as exc:  # a config error of any kind is the client's to read
            raise faults.CantReread(exc) from None
        added, changed, removed = self.ask(self.supervisor, Reread(config))
        return Changes(list(added), list(changed), list(removed))

    def config_info(self) -> tuple[list[tuple[GroupConfig, bool]], dict[tuple[str, str], ProcessSnapshot]]:
        """The last-read configuration's groups (each with whether it is in use) and the current snapshots."""
        groups: list[tuple[GroupConfig, bool]] = self.ask(self.supervisor, GetConfigInfo())
        snaps = {(s.group, s.name): s for s in self.snapshots()}
        return groups, snaps

    def add_group(self, name: str) -> None:
        self.gate()
        _raise_for(self.ask(self.supervisor, AddGroup(name)))

    def remove_group(self, name: str) -> None:
        self.gate()
        _raise_for(self.ask(self.supervisor, RemoveGroup(name)))

    def update(self) -> Changes:
        """Reread, then apply it as ``supervisorctl update`` does: stop and remove, re-add, add."""
        changes = self.reread()
        for name in changes.removed:
            results = self.stop_many(self.in_order(name))
            if any(not r.ok for r in results):
                raise faults.StillRunning(name)
            self.remove_group(name)
        for name in changes.changed:
            self.stop_many(self.in_order(name))
            self.remove_group(name)
            self.add_group(name)
        for name in changes.added:
            self.add_group(name)
        return changes

    def leave(self, mood: str) -> None:
        """Shut down or restart the daemon once the current response is on its way."""
        self.gate()
        self.leaving = True
        gevent.spawn_later(0.05, self.daemon.request, mood)

    def event_drops(self) -> dict[str, int]:
        """Events each listener pool has dropped on overflow of its ``buffer_size`` (for ``/metrics``)."""
        ctx = self.daemon.ctx
        return dict(ctx.event_drops) if ctx is not None else {}

    def remote_comm(self, type: str, data: str) -> None:
        """Emit a REMOTE_COMMUNICATION event (no gate: Supervisor accepts it while stopping too).

        The events of one hub turn (a multicall) go to the bus in order, :data:`REMOTE_BATCH` per message
        and the rest once the handler yields: a message per event woke a worker per event, which then
        fought the hub for the GIL; one message per multicall held every event back until the whole
        multicall was handled, so under a flood a listener sat idle while its pool's buffer overflowed.
        """
        from supervisord import events
        from supervisord.runtime.hubsafe import on_hub

        event = events.remote_communication(type, data)
        if not on_hub():
            self._publish((event,))
            return
        if not self._remote_events:
            gevent.get_hub().loop.run_callback(self._publish_remote)
        self._remote_events.append(event)
        if len(self._remote_events) >= REMOTE_BATCH:
            self._publish_remote()

    def _publish_remote(self) -> None:
        batch, self._remote_events = tuple(self._remote_events), []
        if batch:
            self._publish(batch)

    def _publish(self, batch: tuple[Any, ...]) -> None:
        from supervisord.actors.eventbus import Publish

        bus = self.daemon.ctx.eventbus if self.daemon.ctx is not None else None
        if bus is not None:
            try:
                bus.tell(Publish(batch))
            except pykka.ActorDeadError:
                pass

    @property
    def identifier(self) -> str:
        return self.daemon.config.supervisord.identifier

    def node(self) -> dict[str, Any]:
        """The daemon's own figures (psutil; CPU percent since the previous call, never a blocking sample)."""
        import psutil

        me = _own_process()
        with me.oneshot():
            mem = me.memory_info()
            cpu = me.cpu_times()
            percent = me.cpu_percent(interval=None)
        vm = psutil.virtual_memory()
        return {
            "name": self.identifier,
            "status": "ONLINE",
            "pid": os.getpid(),
            "version": SUPERVISOR_VERSION,
            "api_version": API_VERSION,
            "config_file": self.daemon.config.path,
            "started": int(self.started),
            "uptime_seconds": int(time.time() - self.started),
            "cpu_percent": percent,
            "cpu_seconds": cpu.user + cpu.system,
            "rss_bytes": mem.rss,
            "mem_total": vm.total,
            "mem_used": vm.total - vm.available,
            "mem_used_percent": vm.percent,
        }


_me: Any = None


def _own_process() -> Any:
    global _me
    import psutil

    if _me is None or _me.pid != os.getpid():
        _me = psutil.Process()
    return _me


def _read_slice(path: str, offset: int | None, length: int) -> LogSlice:
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        start = max(0, size - length) if offset is None else min(offset, size)
        fh.seek(start)
        return LogSlice(fh.read(length), start, size)
