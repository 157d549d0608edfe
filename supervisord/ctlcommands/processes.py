"""Process control: ``status``, ``pid``, ``start``, ``stop``, ``restart`` and ``signal``."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Callable
from typing import Any

from supervisord import namespec
from supervisord.ctlcommands.base import ControllerBase
from supervisord.ctlcommands.codes import (
    ABNORMAL_TERMINATION,
    ALREADY_STARTED,
    BAD_NAME,
    BAD_SIGNAL,
    EXIT_NOT_RUNNING,
    GENERIC,
    INVALID_ARGS,
    NO_FILE,
    NOT_EXECUTABLE,
    NOT_RUNNING,
    SPAWN_ERROR,
    STATUS_NOT_RUNNING,
    STATUS_UNKNOWN,
    SUCCESS,
)
from supervisord.states import STOPPED_STATES

_COLOURS = {"RUNNING": "\x1b[32m", "BACKOFF": "\x1b[31m", "FATAL": "\x1b[31m"}
_START_ERRORS = {
    BAD_NAME: "no such process",
    NO_FILE: "no such file",
    NOT_EXECUTABLE: "file is not executable",
    ALREADY_STARTED: "already started",
    SPAWN_ERROR: "spawn error",
    ABNORMAL_TERMINATION: "abnormal termination",
}
_SIGNAL_ERRORS = {BAD_NAME: "no such process", BAD_SIGNAL: "bad signal name", NOT_RUNNING: "not running"}


class ProcessCommands(ControllerBase):
    """Commands that act on processes by name, ``group:*`` or ``all``."""

    def _status_lines(self, infos: list[dict[str, Any]]) -> None:
        specs = [namespec.make(i["group"], i["name"]) for i in infos]
        width = max([30, *map(len, specs)]) + 3
        colour = self.stdout.isatty()
        for spec, info in zip(specs, infos, strict=True):
            state = f"{info['statename']:<10}"
            if colour:
                code = _COLOURS.get(info["statename"], "\x1b[33m")
                name = info["statename"]
                state = f"{code}{name}\x1b[0m{' ' * (10 - len(name))}"
            self.output(f"{spec:<{width}}{state}{info['description']}")

    def do_status(self, args: list[str]) -> None:
        if not self.upcheck():
            self.rc = STATUS_UNKNOWN
            return
        infos: list[dict[str, Any]] = self.supervisor.getAllProcessInfo()
        if args and "all" not in args:
            matching: list[dict[str, Any]] = []
            for spec in args:
                group, name = namespec.split(spec)
                found = [i for i in infos if i["group"] == group and (name is None or i["name"] == name)]
                if not found:
                    what = "no such group" if name is None else "no such process"
                    self.output(f"{group if name is None else spec}: ERROR ({what})")
                    self.rc = STATUS_UNKNOWN
                matching.extend(found)
            infos = matching
        self._status_lines(infos)
        if any(i["state"] in STOPPED_STATES for i in infos):
            self.rc = STATUS_NOT_RUNNING

    def do_pid(self, args: list[str]) -> None:
        if not self.upcheck():
            return
        if not args:
            self.output(str(self.supervisor.getPID()))
        elif "all" in args:
            for info in self.supervisor.getAllProcessInfo():
                self.output(str(info["pid"]))
        else:
            for name in args:
                try:
                    info = self.supervisor.getProcessInfo(name)
                except xmlrpc.client.Fault as exc:
                    self.rc = GENERIC
                    if exc.faultCode != BAD_NAME:
                        raise
                    self.output(f"No such process {name}")
                    continue
                self.output(str(info["pid"]))
                if info["pid"] == 0:
                    self.rc = EXIT_NOT_RUNNING

    @staticmethod
    def _start_result(result: dict[str, Any]) -> str:
        spec = namespec.make(result["group"], result["name"])
        code = result["status"]
        if code == SUCCESS:
            return f"{spec}: started"
        if code in _START_ERRORS:
            return f"{spec}: ERROR ({_START_ERRORS[code]})"
        return f"{spec}: ERROR ({result.get('description', code)})"

    @staticmethod
    def _signal_result(result: dict[str, Any], success: str = "signalled") -> str:
        spec = namespec.make(result["group"], result["name"])
        code = result["status"]
        if code == SUCCESS:
            return f"{spec}: {success}"
        if code in _SIGNAL_ERRORS:
            return f"{spec}: ERROR ({_SIGNAL_ERRORS[code]})"
        return str(result.get("description", code))  # FAILED: the raw fault text

    def _each(
        self,
        names: list[str],
        everything: Callable[[], list[dict[str, Any]]],
        group_call: Callable[[str], list[dict[str, Any]]],
        one_call: Callable[[str], object],
        describe: Callable[[dict[str, Any]], str],
        ignored: int | None,
        bad_group_rc: int,
    ) -> None:
        """The shared shape of start/stop/signal: ``all``, ``group:*`` and single names."""
        if "all" in names:
            for result in everything():
                self.output(describe(result))
                self.set_rc_from_fault(result["status"], ignored)
            return
        for spec in names:
            group, name = namespec.split(spec)
            if name is None:
                try:
                    results = group_call(group)
                except xmlrpc.client.Fault as exc:
                    if exc.faultCode != BAD_NAME:
                        self.rc = GENERIC
                        raise
                    self.output(f"{group}: ERROR (no such group)")
                    self.rc = bad_group_rc
                    continue
                for result in results:
                    self.output(describe(result))
                    self.set_rc_from_fault(result["status"], ignored)
                continue
            try:
                one_call(spec)
            except xmlrpc.client.Fault as exc:
                error = {
                    "status": exc.faultCode,
                    "name": name,
                    "group": group,
                    "description": exc.faultString,
                }
                self.output(describe(error))
                self.set_rc_from_fault(exc.faultCode, ignored)
            else:
                self.output(describe({"status": SUCCESS, "name": name, "group": group}))

    def do_start(self, args: list[str]) -> None:
        if not self.upcheck_and_names("start", args, "Error: start requires a process name", INVALID_ARGS):
            return
        s = self.supervisor
        self._each(
            args,
            s.startAllProcesses,
            s.startProcessGroup,
            s.startProcess,
            self._start_result,
            ALREADY_STARTED,
            INVALID_ARGS,
        )

    def do_stop(self, args: list[str]) -> None:
        if not self.upcheck_and_names("stop", args, "Error: stop requires a process name"):
            return
        s = self.supervisor
        self._each(
            args,
            s.stopAllProcesses,
            s.stopProcessGroup,
            s.stopProcess,
            lambda r: self._signal_result(r, "stopped"),
            NOT_RUNNING,
            GENERIC,
        )

    def do_restart(self, args: list[str]) -> None:
        if not self.upcheck_and_names("restart", args, "Error: restart requires a process name"):
            return
        self.do_stop(args)
        self.do_start(args)

    def do_signal(self, args: list[str]) -> None:
        if not self.upcheck():
            return
        if len(args) < 2:
            self.usage_error("signal", "Error: signal requires a signal name and a process name")
            return
        sig, names = args[0], args[1:]
        s = self.supervisor
        self._each(
            names,
            lambda: s.signalAllProcesses(sig),
            lambda group: s.signalProcessGroup(group, sig),
            lambda spec: s.signalProcess(spec, sig),
            self._signal_result,
            None,
            GENERIC,
        )
