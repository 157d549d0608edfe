"""The ``supervisor.*`` XML-RPC methods: a thin adapter over :class:`~supervisord.control.Control`.

Each method converts its XML-RPC arguments, calls the control service (which asks the actors, orders,
waits and collects, exactly as for REST and the GUI) and shapes the answer as Supervisor does; a
:mod:`supervisord.faults` error becomes the fault of the same name in :mod:`supervisord.web.xmlrpc`.
Docstrings double as ``system.methodHelp`` text.
"""

from __future__ import annotations

import os
import pwd
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from supervisord import API_VERSION, faults, namespec
from supervisord import SUPERVISOR_COMPAT_VERSION as SUPERVISOR_VERSION
from supervisord.config import operations
from supervisord.config.checks import check_info
from supervisord.config.model import GroupConfig, LogKind, ProcessConfig, StreamLogConfig
from supervisord.control import Control, Result
from supervisord.snapshot import ProcessSnapshot
from supervisord.web.processinfo import ProcessInfoCache
from supervisord.web.xmlrpc_codec import capped, xml_safe

if TYPE_CHECKING:
    from supervisord.web.xmlrpc import Dispatcher


def _structs(results: list[Result]) -> list[dict[str, Any]]:
    """Supervisor's status structs, one per process of a many-process call."""
    return [{"name": r.name, "group": r.group, "status": r.code, "description": r.text} for r in results]


def _group(spec: str) -> str | None:
    """The group a ``group:*`` or ``group:`` spec names; None for a single process."""
    parsed = namespec.parse(spec)
    return parsed.group if parsed.is_group else None


def _ints(*values: Any) -> tuple[int, ...]:
    """Offsets and lengths as ints; beyond 64 bits (or infinite) they are BAD_ARGUMENTS, not a crash."""
    try:
        ints = tuple(int(v) for v in values)
    except OverflowError:
        raise faults.BadArguments() from None
    except (TypeError, ValueError):
        raise faults.IncorrectParameters() from None
    if any(not -(2**63) <= i < 2**63 for i in ints):
        raise faults.BadArguments()
    return ints


class SupervisorAPI:
    def __init__(self, control: Control) -> None:
        self.control = control
        self.infos = ProcessInfoCache()

    def gate(self, name: str) -> None:
        """Every supervisor.* call but sendRemoteCommEvent fails with SHUTDOWN_STATE while stopping."""
        if name.startswith("supervisor.") and name != "supervisor.sendRemoteCommEvent":
            self.control.gate()

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
        return self.control.identifier

    def getState(self) -> dict[str, Any]:
        """Return the daemon's state as a struct {statecode, statename}."""
        return {"statecode": 1, "statename": "RUNNING"}

    def getPID(self) -> int:
        """Return the pid of supervisord."""
        return os.getpid()

    def shutdown(self) -> bool:
        """Shut down supervisord (stops every process first). Returns at once."""
        self.control.leave("shutdown")
        return True

    def restart(self) -> bool:
        """Stop every process, re-read the configuration and start again in the same process."""
        self.control.leave("restart")
        return True

    # -- main log --

    def readLog(self, offset: int, length: int) -> str:
        """Read ``length`` bytes of the main log from ``offset`` (see the offset rules in the docs)."""
        offset, length = _ints(offset, length)
        return xml_safe(self.control.read_file(self.control.main_logfile, offset, length))

    def clearLog(self) -> bool:
        """Empty the main log file and reopen it."""
        self.control.clear_main_log()
        return True

    # -- configuration --

    def reloadConfig(self) -> list[list[list[str]]]:
        """Re-read the configuration file and report [[added, changed, removed]] group names.

        Nothing is applied: addProcessGroup/removeProcessGroup do that (``supervisorctl update``).
        """
        changes = self.control.reread()
        return [[changes.added, changes.changed, changes.removed]]

    def addProcessGroup(self, name: str) -> bool:
        """Start the group ``name`` from the last-read configuration."""
        self.control.add_group(str(name))
        return True

    def removeProcessGroup(self, name: str) -> bool:
        """Forget the group ``name``; every process in it must be stopped."""
        self.control.remove_group(str(name))
        return True

    def getAllConfigInfo(self) -> list[dict[str, Any]]:
        """Return one config struct per process of the last-read configuration, sorted by name."""
        groups, snaps = self.control.config_info()
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
        snap, _ = self.control.one(str(name))
        return snap.info()

    def getAllProcessInfo(self) -> list[Any]:
        """Return the info struct of every process, ordered by group name then process name."""
        return self.infos.structs(self.control.snapshots(), time.time())

    # -- start / stop / signal --

    def startProcess(self, name: str, wait: bool = True) -> Any:
        """Start a process (``group:*`` starts the group); with ``wait``, return once it is RUNNING."""
        group = _group(str(name))
        if group is not None:
            return self.startProcessGroup(group, wait)
        self.control.start(str(name), bool(wait))
        return True

    def startProcessGroup(self, name: str, wait: bool = True) -> list[dict[str, Any]]:
        """Start every process of a group, in priority order; return one result struct per process."""
        control = self.control
        return _structs(control.start_many(control.in_order(str(name)), bool(wait)))

    def startAllProcesses(self, wait: bool = True) -> list[dict[str, Any]]:
        """Start every process, groups by priority; return one result struct per process."""
        return _structs(self.control.start_many(self.control.in_order(), bool(wait)))

    def stopProcess(self, name: str, wait: bool = True) -> Any:
        """Stop a process (``group:*`` stops the group); with ``wait``, return once it has stopped."""
        group = _group(str(name))
        if group is not None:
            return self.stopProcessGroup(group, wait)
        self.control.stop(str(name), bool(wait))
        return True

    def stopProcessGroup(self, name: str, wait: bool = True) -> list[dict[str, Any]]:
        """Stop every process of a group; return one result struct per process, in completion order."""
        control = self.control
        return _structs(control.stop_many(control.in_order(str(name)), bool(wait)))

    def stopAllProcesses(self, wait: bool = True) -> list[dict[str, Any]]:
        """Stop every process; return one result struct per process, in completion order."""
        return _structs(self.control.stop_many(self.control.in_order(), bool(wait)))

    def signalProcess(self, name: str, signal: Any) -> Any:
        """Send ``signal`` (a name like HUP/SIGHUP or a number) to a process (``group:*``: the group)."""
        group = _group(str(name))
        if group is not None:
            return self.signalProcessGroup(group, signal)
        self.control.signal(str(name), signal)
        return True

    def signalProcessGroup(self, name: str, signal: Any) -> list[dict[str, Any]]:
        """Send ``signal`` to every signallable process of a group."""
        return _structs(self.control.signal_many(self.control.in_order(str(name)), signal))

    def signalAllProcesses(self, signal: Any) -> list[dict[str, Any]]:
        """Send ``signal`` to every signallable process."""
        return _structs(self.control.signal_many(self.control.in_order(), signal))

    # -- process logs --

    def _read(self, name: Any, channel: str, offset: Any, length: Any) -> str:
        path = self.control.process_logfile(str(name), channel)
        offset, length = _ints(offset, length)
        return xml_safe(self.control.read_file(path, offset, length))

    def readProcessStdoutLog(self, name: str, offset: int, length: int) -> str:
        """Read ``length`` bytes of a process's stdout log from ``offset``."""
        return self._read(name, "stdout", offset, length)

    def readProcessStderrLog(self, name: str, offset: int, length: int) -> str:
        """Read ``length`` bytes of a process's stderr log from ``offset``."""
        return self._read(name, "stderr", offset, length)

    def _tail(self, name: Any, offset: Any, length: Any, channel: str) -> list[Any]:
        path = self.control.process_logfile(str(name), channel)
        offset, length = _ints(offset, length)
        data, new_offset, overflow = self.control.tail_file(path, offset, length)
        return [xml_safe(data), capped(new_offset), bool(overflow)]

    def tailProcessStdoutLog(self, name: str, offset: int, length: int) -> list[Any]:
        """Return [text, next offset, overflow]: the last ``length`` bytes unless caught up at ``offset``."""
        return self._tail(name, offset, length, "stdout")

    def tailProcessStderrLog(self, name: str, offset: int, length: int) -> list[Any]:
        """Return [text, next offset, overflow] for the stderr log (see tailProcessStdoutLog)."""
        return self._tail(name, offset, length, "stderr")

    def clearProcessLogs(self, name: str) -> bool:
        """Empty the stdout and stderr logs of a process."""
        self.control.clear_logs(str(name))
        return True

    def clearAllProcessLogs(self) -> list[dict[str, Any]]:
        """Empty every process's logs; one result struct per process."""
        return _structs(self.control.clear_all_logs())

    # -- stdin and events --

    def sendProcessStdin(self, name: str, chars: Any) -> bool:
        """Write ``chars`` (a string, or base64 bytes) to a process's stdin."""
        if isinstance(chars, str):
            data = chars.encode("utf-8")
        elif isinstance(chars, (bytes, bytearray)):
            data = bytes(chars)
        else:
            raise faults.IncorrectParameters(chars)
        self.control.write_stdin(str(name), data)
        return True

    def sendRemoteCommEvent(self, type: str, data: str) -> bool:
        """Emit a REMOTE_COMMUNICATION event with this ``type`` and body ``data``."""
        self.control.remote_comm(str(type), str(data))
        return True


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
    info.update(check_info(proc))
    info.update(operations.config_info(proc))  # cron, hooks, limits, log formats: only when set
    return info
