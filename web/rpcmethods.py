"""The ``supervisor.*`` XML-RPC methods: thin translations of each call into actor asks.

Handlers run on the hub (one greenlet per request). They only ``ask(..., block=False)`` and wait on the
returned hub-safe futures with a timeout; file reads go to the hub's thread pool. Deferred calls (a start or
stop with ``wait``) wait on the ``done`` future the process actor hands back, so the supervisor actor never
blocks on a process actor. Docstrings double as ``system.methodHelp`` text.
"""

from __future__ import annotations

import os
import pwd
import signal
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import gevent
import pykka

from supervisord import logread
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
from supervisord.config import operations
from supervisord.config.errors import ConfigError
from supervisord.config.model import GroupConfig, LogKind, ProcessConfig, StreamLogConfig
from supervisord.snapshot import ProcessSnapshot
from supervisord.states import RUNNING_STATES, SIGNALLABLE_STATES, ProcessState
from supervisord.web.faults import FAULTS, RPCError
from supervisord.web.processinfo import ProcessInfoCache
from supervisord.web.xmlrpc_codec import capped, xml_safe

if TYPE_CHECKING:
    from supervisord.daemon import Daemon
    from supervisord.web.xmlrpc import Dispatcher

API_VERSION = "3.0"
SUPERVISOR_VERSION = "4.3.0"
ASK_TIMEOUT = 15.0  # one ask to an actor; they answer in milliseconds unless wedged
WAIT_TIMEOUT = 3600.0  # a deferred start/stop (Supervisor has none; ours only guards against a lost wake-up)

Found = list[tuple[ProcessSnapshot | None, Any]]


def signal_number(value: Any) -> int:
    """``HUP``, ``SIGHUP``, ``1`` or 1 → 1; anything else is a ValueError (Supervisor's rule)."""
    try:
        num = int(value)
    except OverflowError:  # an infinite double
        raise ValueError(value) from None
    except (TypeError, ValueError):
        if not isinstance(value, str):
            raise ValueError(value) from None
        name = value.strip().upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        sig = getattr(signal.Signals, name, None)
        if sig is None:
            raise ValueError(value) from None
        num = int(sig)
    if num not in {int(s) for s in signal.Signals}:
        raise ValueError(value)
    return num


def _outcome_error(outcome: Outcome) -> RPCError:
    return RPCError(outcome.fault or "FAILED", outcome.text or None)


def _struct(snap: ProcessSnapshot, code: int = FAULTS["SUCCESS"], text: str = "OK") -> dict[str, Any]:
    return {"name": snap.name, "group": snap.group, "status": code, "description": text}


class SupervisorAPI:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.infos = ProcessInfoCache()
        self.leaving = False  # shutdown/restart accepted; the request to the daemon is on its way

    # -- plumbing --

    @property
    def supervisor(self) -> Any:
        """The supervisor actor; the servers start a moment before it exists (Supervisor's log order)."""
        deadline = gevent.get_hub().loop.now() + ASK_TIMEOUT
        while self.daemon.supervisor is None:
            if gevent.get_hub().loop.now() > deadline:
                raise RPCError("SHUTDOWN_STATE")
            gevent.sleep(0.01)
        return self.daemon.supervisor

    def ask(self, ref: Any, message: Any, timeout: float = ASK_TIMEOUT) -> Any:
        return self.answer(self.post(ref, message), timeout)

    @staticmethod
    def post(ref: Any, message: Any) -> Any:
        """Send an ask without waiting for it (None: the actor is gone).

        Why: an "all" call posts to every process before collecting any answer, so 200 actors work in
        parallel on the pool instead of one hub-to-worker round trip after another.
        """
        try:
            return ref.ask(message, block=False)
        except pykka.ActorDeadError:
            return None

    @staticmethod
    def answer(future: Any, timeout: float = ASK_TIMEOUT) -> Any:
        """The reply to a :meth:`post`, with the faults a failed ask means to a client."""
        if future is None:
            raise RPCError("SHUTDOWN_STATE")
        try:
            reply = future.get(timeout=timeout)
            if isinstance(reply, pykka.Future):  # the actor answers later (e.g. once processes exist)
                reply = reply.get(timeout=timeout)
            return reply
        except pykka.Timeout:
            raise RPCError("FAILED", "timed out waiting for the daemon") from None
        except pykka.ActorDeadError:
            raise RPCError("SHUTDOWN_STATE") from None

    def wait(self, future: Any, timeout: float = WAIT_TIMEOUT) -> Outcome:
        try:
            result: Outcome = future.get(timeout=timeout)
        except pykka.Timeout:
            raise RPCError("FAILED", "timed out waiting for the process") from None
        return result

    def wait_stopped(self, name: str, future: Any) -> Outcome:
        """Wait for a stop, logging "waiting for x to stop" every 2 s meanwhile, as Supervisor does."""
        deadline = gevent.get_hub().loop.now() + WAIT_TIMEOUT
        while True:
            if getattr(future, "_result", None) is None:
                self.daemon.logger.info("waiting for %s to stop", name)
            try:
                result: Outcome = future.get(timeout=2.0)
                return result
            except pykka.Timeout:
                if gevent.get_hub().loop.now() > deadline:
                    raise RPCError("FAILED", "timed out waiting for the process") from None

    def stopping(self) -> bool:
        return self.leaving or self.daemon.stop_event.is_set()

    def gate(self, name: str) -> None:
        """Every supervisor.* call but sendRemoteCommEvent fails with SHUTDOWN_STATE while stopping."""
        if name.startswith("supervisor.") and name != "supervisor.sendRemoteCommEvent" and self.stopping():
            raise RPCError("SHUTDOWN_STATE")

    def find(self, namespec: str) -> Found:
        found = self.ask(self.supervisor, FindProcesses(namespec))
        if isinstance(found, Outcome):
            raise RPCError("BAD_NAME", namespec)
        return list(found)

    def one(self, namespec: str) -> tuple[ProcessSnapshot, Any]:
        """The single process ``namespec`` names (a group spec is a BAD_NAME here)."""
        _, sep, proc = namespec.partition(":")
        if sep and proc in ("", "*"):
            raise RPCError("BAD_NAME", namespec)
        snap, ref = self.find(namespec)[0]
        if snap is None:
            snap = self.ask(ref, GetSnapshot())
        return snap, ref

    def in_order(self, group: str | None = None) -> Found:
        found = self.ask(self.supervisor, ProcessesInOrder(group))
        if isinstance(found, Outcome):
            raise RPCError("BAD_NAME", group)
        return list(found)

    @staticmethod
    def is_group_spec(namespec: str) -> str | None:
        group, sep, proc = namespec.partition(":")
        return group if sep and proc in ("", "*") else None

    def offload(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run blocking file work on the hub's thread pool (the hub itself must never block on disk).

        An exception comes back as a value and is raised here: gevent's pool prints every exception a task
        raises as a traceback on stderr, so each NO_FILE or BAD_ARGUMENTS wrote one.
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

    # -- registration --

    def register(self, d: Dispatcher) -> None:
        s = "supervisor."
        table: list[tuple[list[str], Callable[..., Any], list[str]]] = [
            (["getAPIVersion", "getVersion"], self.getAPIVersion, ["string"]),
            (["getSupervisorVersion"], self.getSupervisorVersion, ["string"]),
            (["getIdentification"], self.getIdentification, ["string"]),
            (["getState"], self.getState, ["struct"]),
            (["getPID"], self.getPID, ["int"]),
            (["readLog", "readMainLog"], self.readLog, ["string", "int", "int"]),
            (["clearLog"], self.clearLog, ["boolean"]),
            (["shutdown"], self.shutdown, ["boolean"]),
            (["restart"], self.restart, ["boolean"]),
            (["reloadConfig"], self.reloadConfig, ["array"]),
            (["addProcessGroup"], self.addProcessGroup, ["boolean", "string"]),
            (["removeProcessGroup"], self.removeProcessGroup, ["boolean", "string"]),
            (["startProcess"], self.startProcess, ["boolean", "string", "boolean"]),
            (["startProcessGroup"], self.startProcessGroup, ["array", "string", "boolean"]),
            (["startAllProcesses"], self.startAllProcesses, ["array", "boolean"]),
            (["stopProcess"], self.stopProcess, ["boolean", "string", "boolean"]),
            (["stopProcessGroup"], self.stopProcessGroup, ["array", "string", "boolean"]),
            (["stopAllProcesses"], self.stopAllProcesses, ["array", "boolean"]),
            (["signalProcess"], self.signalProcess, ["boolean", "string", "string"]),
            (["signalProcessGroup"], self.signalProcessGroup, ["array", "string", "string"]),
            (["signalAllProcesses"], self.signalAllProcesses, ["array", "string"]),
            (["getAllConfigInfo"], self.getAllConfigInfo, ["array"]),
            (["getProcessInfo"], self.getProcessInfo, ["struct", "string"]),
            (["getAllProcessInfo"], self.getAllProcessInfo, ["array"]),
            (
                ["readProcessStdoutLog", "readProcessLog"],
                self.readProcessStdoutLog,
                ["string", "string", "int", "int"],
            ),
            (["readProcessStderrLog"], self.readProcessStderrLog, ["string", "string", "int", "int"]),
            (
                ["tailProcessStdoutLog", "tailProcessLog"],
                self.tailProcessStdoutLog,
                ["array", "string", "int", "int"],
            ),
            (["tailProcessStderrLog"], self.tailProcessStderrLog, ["array", "string", "int", "int"]),
            (["clearProcessLogs", "clearProcessLog"], self.clearProcessLogs, ["boolean", "string"]),
            (["clearAllProcessLogs"], self.clearAllProcessLogs, ["array"]),
            (["sendProcessStdin"], self.sendProcessStdin, ["boolean", "string", "string"]),
            (["sendRemoteCommEvent"], self.sendRemoteCommEvent, ["boolean", "string", "string"]),
        ]
        for names, fn, sig in table:
            for name in names:
                d.register(s + name, fn, sig)

    # -- status and control --

    def getAPIVersion(self) -> str:
        """Return the version of the RPC API used by supervisord."""
        return API_VERSION

    def getSupervisorVersion(self) -> str:
        """Return the version of the supervisor package this daemon is compatible with."""
        return SUPERVISOR_VERSION

    def getIdentification(self) -> str:
        """Return the identifier string of this supervisord (``identifier`` in [supervisord])."""
        return self.daemon.config.supervisord.identifier

    def getState(self) -> dict[str, Any]:
        """Return the daemon's state as a struct {statecode, statename}."""
        return {"statecode": 1, "statename": "RUNNING"}

    def getPID(self) -> int:
        """Return the pid of supervisord."""
        return os.getpid()

    def _leave(self, mood: str) -> bool:
        if self.stopping():
            raise RPCError("SHUTDOWN_STATE")
        self.leaving = True
        # Request the stop only once this response is on its way: the HTTP servers stop with the runtime.
        gevent.spawn_later(0.05, self.daemon.request, mood)
        return True

    def shutdown(self) -> bool:
        """Shut down supervisord (stops every process first). Returns at once."""
        return self._leave("shutdown")

    def restart(self) -> bool:
        """Stop every process, re-read the configuration and start again in the same process."""
        return self._leave("restart")

    # -- main log --

    def readLog(self, offset: int, length: int) -> str:
        """Read ``length`` bytes of the main log from ``offset`` (see the offset rules in the docs)."""
        path = self.daemon.config.supervisord.logfile
        return xml_safe(self._read(path, offset, length))

    def _read(self, path: str | None, offset: Any, length: Any) -> bytes:
        offset, length = self._ints(offset, length)
        try:
            data: bytes = self.offload(logread.read_slice, path, offset, length)
        except logread.NoFile as exc:
            raise RPCError("NO_FILE", exc.args[0] if exc.args else None) from None
        except logread.LogReadError as exc:
            raise RPCError(exc.fault) from None
        return data

    @staticmethod
    def _ints(*values: Any) -> tuple[int, ...]:
        """Offsets and lengths as ints; beyond 64 bits (or infinite) they are BAD_ARGUMENTS, not a crash."""
        try:
            ints = tuple(int(v) for v in values)
        except OverflowError:
            raise RPCError("BAD_ARGUMENTS") from None
        except (TypeError, ValueError):
            raise RPCError("INCORRECT_PARAMETERS") from None
        if any(not -(2**63) <= i < 2**63 for i in ints):
            raise RPCError("BAD_ARGUMENTS")
        return ints

    def clearLog(self) -> bool:
        """Empty the main log file and reopen it."""
        path = self.daemon.config.supervisord.logfile
        if not path or not os.path.exists(path):
            raise RPCError("NO_FILE")

        def clear() -> None:
            from supervisord import mainlog

            os.truncate(path, 0)
            mainlog.reopen()

        try:
            self.offload(clear)
        except OSError:
            raise RPCError("FAILED") from None
        self.daemon.logger.info("reopening log file")
        return True

    # -- configuration --

    def reloadConfig(self) -> list[list[list[str]]]:
        """Re-read the configuration file and report [[added, changed, removed]] group names.

        Nothing is applied: addProcessGroup/removeProcessGroup do that (``supervisorctl update``).
        """
        try:
            config = self.offload(self.daemon.reload_config)
        except ConfigError as exc:
            raise RPCError("CANT_REREAD", exc) from None
        except Exception as exc:
            raise RPCError("CANT_REREAD", exc) from None
        added, changed, removed = self.ask(self.supervisor, Reread(config))
        return [[list(added), list(changed), list(removed)]]

    def addProcessGroup(self, name: str) -> bool:
        """Start the group ``name`` from the last-read configuration."""
        outcome = self.ask(self.supervisor, AddGroup(str(name)))
        if not outcome.ok:
            raise _outcome_error(outcome)
        return True

    def removeProcessGroup(self, name: str) -> bool:
        """Forget the group ``name``; every process in it must be stopped."""
        outcome = self.ask(self.supervisor, RemoveGroup(str(name)))
        if not outcome.ok:
            raise _outcome_error(outcome)
        return True

    def getAllConfigInfo(self) -> list[dict[str, Any]]:
        """Return one config struct per process of the last-read configuration, sorted by name."""
        groups: list[tuple[GroupConfig, bool]] = self.ask(self.supervisor, GetConfigInfo())
        snaps = {(s.group, s.name): s for s in self.ask(self.supervisor, GetSnapshots())}
        out = []
        for group, inuse in groups:
            for proc in group.processes:
                snap = snaps.get((group.name, proc.name)) if inuse else None
                out.append(_config_info(group, proc, inuse, snap))
        out.sort(key=lambda d: d["name"])
        return out

    # -- process info --

    def getProcessInfo(self, name: str) -> dict[str, Any]:
        """Return the info struct of the process ``name``."""
        snap, _ = self.one(str(name))
        return snap.info()

    def getAllProcessInfo(self) -> list[Any]:
        """Return the info struct of every process, ordered by group name then process name."""
        return self.infos.structs(self.ask(self.supervisor, GetSnapshots()), time.time())

    # -- start / stop / signal --

    def startProcess(self, name: str, wait: bool = True) -> Any:
        """Start a process (``group:*`` starts the group); with ``wait``, return once it is RUNNING."""
        group = self.is_group_spec(str(name))
        if group is not None:
            return self.startProcessGroup(group, wait)
        _, ref = self.one(str(name))
        outcome = self.ask(ref, Start(wait=bool(wait)))
        if not outcome.ok:
            raise _outcome_error(outcome)
        if outcome.done is not None:
            final = self.wait(outcome.done)
            if not final.ok:
                raise _outcome_error(final)
        return True

    def startProcessGroup(self, name: str, wait: bool = True) -> list[dict[str, Any]]:
        """Start every process of a group, in priority order; return one result struct per process."""
        return self._run_all(self.in_order(str(name)), _startable, lambda: Start(wait=bool(wait)))

    def startAllProcesses(self, wait: bool = True) -> list[dict[str, Any]]:
        """Start every process, groups by priority; return one result struct per process."""
        return self._run_all(self.in_order(), _startable, lambda: Start(wait=bool(wait)))

    def stopProcess(self, name: str, wait: bool = True) -> Any:
        """Stop a process (``group:*`` stops the group); with ``wait``, return once it has stopped."""
        group = self.is_group_spec(str(name))
        if group is not None:
            return self.stopProcessGroup(group, wait)
        snap, ref = self.one(str(name))
        outcome = self.ask(ref, Stop(wait=bool(wait)))
        if not outcome.ok:
            raise _outcome_error(outcome)
        if outcome.done is not None:
            final = self.wait_stopped(snap.name, outcome.done)
            if not final.ok:
                raise _outcome_error(final)
        return True

    def stopProcessGroup(self, name: str, wait: bool = True) -> list[dict[str, Any]]:
        """Stop every process of a group; return one result struct per process, in completion order."""
        return self._run_all(self.in_order(str(name)), _running, lambda: Stop(wait=bool(wait)))

    def stopAllProcesses(self, wait: bool = True) -> list[dict[str, Any]]:
        """Stop every process; return one result struct per process, in completion order."""
        return self._run_all(self.in_order(), _running, lambda: Stop(wait=bool(wait)))

    def signalProcess(self, name: str, signal: Any) -> Any:
        """Send ``signal`` (a name like HUP/SIGHUP or a number) to a process (``group:*``: the group)."""
        group = self.is_group_spec(str(name))
        if group is not None:
            return self.signalProcessGroup(group, signal)
        _, ref = self.one(str(name))
        try:
            signum = signal_number(signal)
        except ValueError:
            raise RPCError("BAD_SIGNAL", signal) from None
        outcome = self.ask(ref, SignalProcess(signum))
        if not outcome.ok:
            raise _outcome_error(outcome)
        return True

    def signalProcessGroup(self, name: str, signal: Any) -> list[dict[str, Any]]:
        """Send ``signal`` to every signallable process of a group."""
        return self._signal_all(self.in_order(str(name)), signal)

    def signalAllProcesses(self, signal: Any) -> list[dict[str, Any]]:
        """Send ``signal`` to every signallable process."""
        return self._signal_all(self.in_order(), signal)

    def _signal_all(self, found: Found, sig: Any) -> list[dict[str, Any]]:
        try:
            signum = signal_number(sig)
        except ValueError:
            bad = RPCError("BAD_SIGNAL", sig)
            return [_struct(s, bad.code, bad.text) for s, _ in found if s and s.state in SIGNALLABLE_STATES]
        return self._run_all(found, lambda st: st in SIGNALLABLE_STATES, lambda: SignalProcess(signum))

    def _post_all(
        self, chosen: list[tuple[ProcessSnapshot, Any]], message: Callable[[], Any]
    ) -> Iterator[tuple[ProcessSnapshot, Any]]:
        """Each process's ask, in order. Stops and signals are all posted before any answer is read, so
        the actors work in parallel; starts go one at a time, because the fork order is visible (pids, the
        log) and Supervisor's is priority order."""
        if isinstance(message(), Start):
            for snap, ref in chosen:
                yield snap, self.post(ref, message())
            return
        yield from [(snap, self.post(ref, message())) for snap, ref in chosen]

    def _run_all(
        self, found: Found, predicate: Callable[[ProcessState], bool], message: Callable[[], Any]
    ) -> list[dict[str, Any]]:
        """Supervisor's "allfunc": act on each matching process; deferred results arrive as they finish."""
        results: list[dict[str, Any]] = []
        pending: list[tuple[ProcessSnapshot, Any]] = []
        chosen = [(snap, ref) for snap, ref in found if snap is not None and predicate(snap.state)]
        for snap, future in self._post_all(chosen, message):
            try:
                outcome = self.answer(future)
            except RPCError as exc:
                results.append(_struct(snap, exc.code, exc.text))
                continue
            if not outcome.ok:
                err = _outcome_error(outcome)
                results.append(_struct(snap, err.code, err.text))
            elif outcome.done is not None:
                pending.append((snap, outcome.done))
            else:
                results.append(_struct(snap))

        stops = isinstance(message(), Stop)

        def finish(snap: ProcessSnapshot, done: Any) -> None:
            try:
                final = self.wait_stopped(snap.name, done) if stops else self.wait(done)
            except RPCError as exc:
                results.append(_struct(snap, exc.code, exc.text))
                return
            if final.ok:
                results.append(_struct(snap))
            else:
                err = _outcome_error(final)
                results.append(_struct(snap, err.code, err.text))

        gevent.joinall([gevent.spawn(finish, snap, done) for snap, done in pending])
        return results

    # -- process logs --

    def _logfile(self, name: Any, channel: str) -> str:
        snap, _ = self.one(str(name))
        return snap.stdout_logfile if channel == "stdout" else snap.stderr_logfile

    def readProcessStdoutLog(self, name: str, offset: int, length: int) -> str:
        """Read ``length`` bytes of a process's stdout log from ``offset``."""
        return xml_safe(self._read(self._logfile(name, "stdout") or None, offset, length))

    def readProcessStderrLog(self, name: str, offset: int, length: int) -> str:
        """Read ``length`` bytes of a process's stderr log from ``offset``."""
        return xml_safe(self._read(self._logfile(name, "stderr") or None, offset, length))

    def _tail(self, name: Any, offset: Any, length: Any, channel: str) -> list[Any]:
        path = self._logfile(name, channel)
        offset, length = self._ints(offset, length)
        data, new_offset, overflow = self.offload(logread.tail_slice, path or None, offset, length)
        return [xml_safe(data), capped(new_offset), bool(overflow)]

    def tailProcessStdoutLog(self, name: str, offset: int, length: int) -> list[Any]:
        """Return [text, next offset, overflow]: the last ``length`` bytes unless caught up at ``offset``."""
        return self._tail(name, offset, length, "stdout")

    def tailProcessStderrLog(self, name: str, offset: int, length: int) -> list[Any]:
        """Return [text, next offset, overflow] for the stderr log (see tailProcessStdoutLog)."""
        return self._tail(name, offset, length, "stderr")

    def clearProcessLogs(self, name: str) -> bool:
        """Empty the stdout and stderr logs of a process."""
        _, ref = self.one(str(name))
        outcome = self.ask(ref, ClearLogs())
        if not outcome.ok:
            raise RPCError("FAILED", str(name))
        return True

    def clearAllProcessLogs(self) -> list[dict[str, Any]]:
        """Empty every process's logs; one result struct per process."""
        results = []
        for snap, ref in self.in_order():
            if snap is None:
                continue
            try:
                outcome = self.ask(ref, ClearLogs())
                ok = outcome.ok
            except RPCError:
                ok = False
            if ok:
                results.append(_struct(snap))
            else:
                results.append(_struct(snap, FAULTS["FAILED"], f"FAILED: {snap.namespec}"))
        return results

    # -- stdin and events --

    def sendProcessStdin(self, name: str, chars: Any) -> bool:
        """Write ``chars`` (a string, or base64 bytes) to a process's stdin."""
        if isinstance(chars, str):
            data = chars.encode("utf-8")
        elif isinstance(chars, (bytes, bytearray)):
            data = bytes(chars)
        else:
            raise RPCError("INCORRECT_PARAMETERS", chars)
        _, ref = self.one(str(name))
        outcome = self.ask(ref, WriteStdin(data))
        if not outcome.ok:
            raise _outcome_error(outcome)
        return True

    def sendRemoteCommEvent(self, type: str, data: str) -> bool:
        """Emit a REMOTE_COMMUNICATION event with this ``type`` and body ``data``."""
        bus = self.daemon.ctx.extra.get("eventbus") if self.daemon.ctx is not None else None
        if bus is not None:
            from supervisord import events

            try:
                bus.tell(events.remote_communication(str(type), str(data)))
            except pykka.ActorDeadError:
                pass
        return True


def _startable(state: ProcessState) -> bool:
    return state not in RUNNING_STATES


def _running(state: ProcessState) -> bool:
    return state in RUNNING_STATES


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _logfile_value(stream: StreamLogConfig, actual: str) -> str:
    primary = stream.primary_file
    if primary is None:
        return "none"
    if primary.kind is LogKind.AUTO:
        return actual or "auto"
    return primary.path or "none"


def _uid(user: str | None) -> int | str:
    if not user:
        return "none"
    name = user.partition(":")[0]
    try:
        return pwd.getpwuid(int(name)).pw_uid if name.isdigit() else pwd.getpwnam(name).pw_uid
    except (KeyError, ValueError):
        return "none"


def _config_info(
    group: GroupConfig, proc: ProcessConfig, inuse: bool, snap: ProcessSnapshot | None
) -> dict[str, Any]:
    """Supervisor's getAllConfigInfo struct; None reads 'none' and AUTO 'auto', as over the wire there."""
    stderr_actual = snap.stderr_logfile if snap else ""
    stdout_actual = snap.stdout_logfile if snap else ""
    info: dict[str, Any] = {
        "autostart": proc.autostart,
        "directory": proc.directory or "none",
        "uid": _uid(proc.user),
        "command": proc.command,
        "exitcodes": sorted(proc.exitcodes),
        "group": group.name,
        "group_prio": group.priority,
        "inuse": inuse,
        "killasgroup": proc.killasgroup,
        "name": proc.name,
        "process_prio": proc.priority,
        "redirect_stderr": proc.redirect_stderr,
        "startretries": proc.startretries,
        "startsecs": _num(proc.startsecs),
        "stdout_capture_maxbytes": capped(proc.stdout.capture_maxbytes),
        "stdout_events_enabled": proc.stdout.events_enabled,
        "stdout_logfile": _logfile_value(proc.stdout, stdout_actual),
        "stdout_logfile_backups": proc.stdout.backups,
        "stdout_logfile_maxbytes": capped(proc.stdout.maxbytes),
        "stdout_syslog": proc.stdout.syslog,
        "stopsignal": int(proc.stopsignals[0]) if proc.stopsignals else int(signal.SIGTERM),
        "stopwaitsecs": _num(proc.stopwaitsecs),
        "stderr_capture_maxbytes": capped(proc.stderr.capture_maxbytes),
        "stderr_events_enabled": proc.stderr.events_enabled,
        "stderr_logfile": "none" if proc.redirect_stderr else _logfile_value(proc.stderr, stderr_actual),
        "stderr_logfile_backups": proc.stderr.backups,
        "stderr_logfile_maxbytes": capped(proc.stderr.maxbytes),
        "stderr_syslog": proc.stderr.syslog,
        "serverurl": proc.serverurl or "auto",
    }
    info.update(operations.config_info(proc))  # cron, hooks, limits, log formats: only when set
    return info
