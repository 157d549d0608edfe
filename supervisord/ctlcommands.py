"""The ``supervisord ctl`` commands: supervisorctl's RPC sequence, output lines and exit codes per command.

Each ``do_<name>`` method makes the same calls in the same order as supervisorctl (including the
``getVersion`` up-check before the commands that do one), so a daemon that satisfies supervisorctl satisfies
this client, and scripts that parse either tool's output or exit status see no difference.
"""

from __future__ import annotations

import sys
import threading
import urllib.parse
import xmlrpc.client
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from supervisord.rpcclient import Endpoint, open_stream, server_proxy
from supervisord.states import STOPPED_STATES, ProcessState

API_VERSION = "3.0"

# XML-RPC fault codes (Supervisor's numbering).
UNKNOWN_METHOD = 1
BAD_NAME = 10
BAD_SIGNAL = 11
NO_FILE = 20
NOT_EXECUTABLE = 21
FAILED = 30
ABNORMAL_TERMINATION = 40
SPAWN_ERROR = 50
ALREADY_STARTED = 60
NOT_RUNNING = 70
SUCCESS = 80
ALREADY_ADDED = 90
STILL_RUNNING = 91
CANT_REREAD = 92
SHUTDOWN_STATE = 6

# Exit statuses: LSB init-script codes, plus the two LSB "status" codes used only by `status`.
GENERIC = 1
INVALID_ARGS = 2
UNIMPLEMENTED_FEATURE = 3
INSUFFICIENT_PRIVILEGES = 4
NOT_INSTALLED = 5
EXIT_NOT_RUNNING = 7
STATUS_NOT_RUNNING = 3
STATUS_UNKNOWN = 4

DEAD_PROGRAM_FAULTS = frozenset({SPAWN_ERROR, ABNORMAL_TERMINATION, NOT_RUNNING})
TAIL_BYTES = 1600
PRESS_CTRL_C = "==> Press Ctrl-C to exit <=="

USAGE: dict[str, str] = {
    "add": "add <name> [...]\tActivates any updates in config for process/group",
    "avail": "avail\t\t\tDisplay all configured processes",
    "clear": "clear <name>\t\tClear a process' log files.\nclear <name> <name>\tClear multiple process' log "
    "files\nclear all\t\tClear all process' log files",
    "fg": "fg <process>\tConnect to a process in foreground mode\n\t\tCtrl-C to exit",
    "help": "help <command>\tPrint help for a command",
    "maintail": "maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\n"
    "maintail -100\tlast 100 *bytes* of supervisord main log file\n"
    "maintail\tlast 1600 *bytes* of supervisor main log file\n",
    "pid": "pid\t\t\tGet the PID of supervisord.\npid <name>\t\tGet the PID of a single child process by "
    "name.\npid all\t\t\tGet the PID of every child process, one per line.",
    "reload": "reload \t\tRestart the remote supervisord.",
    "remove": "remove <name> [...]\tRemoves process/group from active config",
    "reread": "reread \t\t\tReload the daemon's configuration files without add/remove",
    "restart": "restart <name>\t\tRestart a process\nrestart <gname>:*\tRestart all processes in a group\n"
    "restart <name> <name>\tRestart multiple processes or groups\nrestart all\t\tRestart all processes\n"
    "Note: restart does not reread config files. For that, see reread and update.",
    "shutdown": "shutdown \tShut the remote supervisord down.",
    "signal": "signal <signal name> <name>\t\tSignal a process\nsignal <signal name> <gname>:*\t\tSignal all "
    "processes in a group\nsignal <signal name> <name> <name>\tSignal multiple processes or groups\n"
    "signal <signal name> all\t\tSignal all processes",
    "start": "start <name>\t\tStart a process\nstart <gname>:*\t\tStart all processes in a group\n"
    "start <name> <name>\tStart multiple processes or groups\nstart all\t\tStart all processes",
    "status": "status <name>\t\tGet status for a single process\n"
    "status <gname>:*\tGet status for all processes in a group\n"
    "status <name> <name>\tGet status for multiple named processes\n"
    "status\t\t\tGet all process status info",
    "stop": "stop <name>\t\tStop a process\nstop <gname>:*\t\tStop all processes in a group\n"
    "stop <name> <name>\tStop multiple processes or groups\nstop all\t\tStop all processes",
    "tail": "tail [-f] <name> [stdout|stderr] (default stdout)\nEx:\n"
    "tail -f <name>\t\tContinuous tail of named process stdout\n\t\t\tCtrl-C to exit.\n"
    "tail -100 <name>\tlast 100 *bytes* of process stdout\n"
    "tail <name> stderr\tlast 1600 *bytes* of process stderr",
    "update": "update\t\t\tReload config and add/remove as necessary, and will restart affected programs\n"
    "update all\t\tReload config and add/remove as necessary, and will restart affected programs\n"
    "update <gname> [...]\tUpdate specific groups",
    "version": "version\t\t\tShow the version of the remote supervisord process",
}
COMMANDS = frozenset(USAGE)

_COLOURS = {"RUNNING": "\x1b[32m", "BACKOFF": "\x1b[31m", "FATAL": "\x1b[31m"}


def split_namespec(spec: str) -> tuple[str, str | None]:
    """``g:p`` → (g, p); ``g:`` / ``g:*`` → (g, None) meaning the whole group; ``x`` → (x, x)."""
    group, sep, name = spec.partition(":")
    if not sep:
        return spec, spec
    if name in ("", "*"):
        return group, None
    return group, name


def make_namespec(group: str, name: str) -> str:
    return name if group == name else f"{group}:{name}"


class Controller:
    """Runs one command; ``rc`` ends up as the process exit status."""

    def __init__(self, endpoint: Endpoint, stdout: TextIO, stdin: TextIO | None = None) -> None:
        self.endpoint = endpoint
        self.stdout = stdout
        self.stdin = stdin or sys.stdin
        self.rc = 0
        self._proxy: Any = None

    # -- plumbing --

    @property
    def supervisor(self) -> Any:
        if self._proxy is None:
            self._proxy = server_proxy(self.endpoint)
        return self._proxy.supervisor

    def output(self, text: str) -> None:
        self.stdout.write(text + "\n")

    def onecmd(self, command: str, args: list[str]) -> None:
        method: Callable[[list[str]], None] | None = getattr(self, f"do_{command}", None)
        if command not in COMMANDS or method is None:
            self.output(f"*** Unknown syntax: {' '.join([command, *args])}")
            self.rc = GENERIC
            return
        method(args)

    def help(self, command: str) -> None:
        self.output(USAGE[command])

    def set_rc_from_fault(self, code: int, ignored: int | None = None) -> None:
        if code in (ignored, SUCCESS):
            return
        self.rc = EXIT_NOT_RUNNING if code in DEAD_PROGRAM_FAULTS else GENERIC

    def upcheck(self) -> bool:
        """``getVersion`` must answer "3.0"; connection failures get supervisorctl's wording and status."""
        url = self.endpoint.url
        try:
            api = self.supervisor.getVersion()
        except xmlrpc.client.Fault as exc:
            if exc.faultCode == UNKNOWN_METHOD:
                self.output(
                    "Sorry, supervisord responded but did not recognize the supervisor namespace commands "
                    "that supervisorctl uses to control it.  Please check that the [rpcinterface:supervisor] "
                    "section is enabled in the configuration file (see sample.conf)."
                )
                self.rc = UNIMPLEMENTED_FEATURE
                return False
            self.rc = GENERIC
            raise
        except ConnectionRefusedError:
            self.output(f"{url} refused connection")
            self.rc = INSUFFICIENT_PRIVILEGES
            return False
        except FileNotFoundError:
            self.output(f"{url} no such file")
            self.rc = EXIT_NOT_RUNNING
            return False
        if api != API_VERSION:
            self.output(
                f"Sorry, this version of supervisorctl expects to talk to a server with API version "
                f"{API_VERSION}, but the remote version is {api}."
            )
            self.rc = NOT_INSTALLED
            return False
        return True

    # -- help --

    def do_help(self, args: list[str]) -> None:
        if args and args[0] in USAGE:
            self.help(args[0])
            return
        if args:
            self.output(f"*** No help on {args[0]}")
            return
        self.output("commands (type help <topic>):")
        self.output("=" * 40)
        self.output("  ".join(sorted(COMMANDS)))

    # -- status / pid --

    def _status_lines(self, infos: list[dict[str, Any]]) -> None:
        specs = [make_namespec(i["group"], i["name"]) for i in infos]
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
                group, name = split_namespec(spec)
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

    # -- start / stop / restart / signal --

    def _start_result(self, result: dict[str, Any]) -> str:
        spec = make_namespec(result["group"], result["name"])
        words = {
            BAD_NAME: "no such process",
            NO_FILE: "no such file",
            NOT_EXECUTABLE: "file is not executable",
            ALREADY_STARTED: "already started",
            SPAWN_ERROR: "spawn error",
            ABNORMAL_TERMINATION: "abnormal termination",
        }
        code = result["status"]
        if code == SUCCESS:
            return f"{spec}: started"
        if code in words:
            return f"{spec}: ERROR ({words[code]})"
        return f"{spec}: ERROR ({result.get('description', code)})"

    def _signal_result(self, result: dict[str, Any], success: str = "signalled") -> str:
        spec = make_namespec(result["group"], result["name"])
        code = result["status"]
        words = {BAD_NAME: "no such process", BAD_SIGNAL: "bad signal name", NOT_RUNNING: "not running"}
        if code == SUCCESS:
            return f"{spec}: {success}"
        if code in words:
            return f"{spec}: ERROR ({words[code]})"
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
            group, name = split_namespec(spec)
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
        if not self.upcheck():
            return
        if not args:
            self.output("Error: start requires a process name")
            self.rc = INVALID_ARGS
            self.help("start")
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
        if not self.upcheck():
            return
        if not args:
            self.output("Error: stop requires a process name")
            self.rc = GENERIC
            self.help("stop")
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
        if not self.upcheck():
            return
        if not args:
            self.output("Error: restart requires a process name")
            self.rc = GENERIC
            self.help("restart")
            return
        self.do_stop(args)
        self.do_start(args)

    def do_signal(self, args: list[str]) -> None:
        if not self.upcheck():
            return
        if len(args) < 2:
            self.output("Error: signal requires a signal name and a process name")
            self.help("signal")
            self.rc = GENERIC
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

    # -- logs --

    def _stream(self, path: str) -> None:
        """Copy a never-ending HTTP log stream to stdout until Ctrl-C (or the server closes it)."""
        self.output(PRESS_CTRL_C)
        self.stdout.flush()
        conn, chunks = open_stream(self.endpoint, path)
        try:
            for chunk in chunks:
                self._write_bytes(chunk, self.stdout)
        except KeyboardInterrupt:
            self.output("")
        finally:
            conn.close()

    @staticmethod
    def _write_bytes(data: bytes, stream: TextIO) -> None:
        buffer = getattr(stream, "buffer", None)
        stream.flush()
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            stream.write(data.decode("utf-8", "replace"))
            stream.flush()

    def _log_error(self, exc: xmlrpc.client.Fault, who: str, bad_name: bool = True) -> None:
        self.rc = GENERIC
        if exc.faultCode == NO_FILE:
            self.output(f"{who}: ERROR (no log file)")
        elif exc.faultCode == FAILED:
            self.output(f"{who}: ERROR (unknown error reading log)")
        elif exc.faultCode == BAD_NAME and bad_name:
            self.output(f"{who}: ERROR (no such process name)")
        else:
            raise exc

    def _byte_count(self, modifier: str | None) -> int | None:
        """``-f`` → None (follow), ``-N`` → N; a bad modifier prints supervisorctl's error and gives -1."""
        if modifier is None:
            return TAIL_BYTES
        if modifier == "-f":
            return None
        try:
            return int(modifier[1:])
        except ValueError:
            self.output(f"Error: bad argument {modifier}")
            self.rc = GENERIC
            return -1

    def do_tail(self, args: list[str]) -> None:
        if not self.upcheck():
            return
        if not args or len(args) > 3:
            self.output("Error: too few arguments" if not args else "Error: too many arguments")
            self.rc = GENERIC
            self.help("tail")
            return
        args = list(args)
        modifier = args.pop(0) if args[0].startswith("-") else None
        if not args:
            self.output("Error: tail requires process name")
            self.rc = GENERIC
            return
        name, channel = args[0], "stdout"
        if len(args) > 1:
            channel = args[-1].lower()
            if channel not in ("stdout", "stderr"):
                self.output(f"Error: bad channel {channel!r}")
                self.rc = GENERIC
                return
        count = self._byte_count(modifier)
        if count is None:
            self._stream(f"/logtail/{urllib.parse.quote(name, safe=':*')}/{channel}")
            return
        if count < 0:
            return
        read = (
            self.supervisor.readProcessStdoutLog
            if channel == "stdout"
            else self.supervisor.readProcessStderrLog
        )
        try:
            text = read(name, -count, 0)
        except xmlrpc.client.Fault as exc:
            self._log_error(exc, name)
            return
        self.output(text)

    def do_maintail(self, args: list[str]) -> None:
        if not self.upcheck():
            return
        if len(args) > 1:
            self.output("Error: too many arguments")
            self.rc = GENERIC
            self.help("maintail")
            return
        if args and not args[0].startswith("-"):
            self.output(f"Error: bad argument {args[0]}")
            self.rc = GENERIC
            return
        count = self._byte_count(args[0] if args else None)
        if count is None:
            self._stream("/mainlogtail")
            return
        if count < 0:
            return
        try:
            text = self.supervisor.readLog(-count, 0)
        except xmlrpc.client.Fault as exc:
            self._log_error(exc, "supervisord", bad_name=False)
            return
        self.output(text)

    def do_clear(self, args: list[str]) -> None:
        if not self.upcheck():
            return
        if not args:
            self.output("Error: clear requires a process name")
            self.rc = GENERIC
            self.help("clear")
            return

        def describe(result: dict[str, Any]) -> str:
            spec = make_namespec(result["group"], result["name"])
            words = {BAD_NAME: "no such process", FAILED: "failed"}
            if result["status"] == SUCCESS:
                return f"{spec}: cleared"
            return f"{spec}: ERROR ({words.get(result['status'], result.get('description', ''))})"

        if "all" in args:
            for result in self.supervisor.clearAllProcessLogs():
                self.output(describe(result))
                self.set_rc_from_fault(result["status"])
            return
        for spec in args:
            group, name = split_namespec(spec)
            try:
                self.supervisor.clearProcessLogs(spec)
            except xmlrpc.client.Fault as exc:
                self.output(describe({"status": exc.faultCode, "name": name or "*", "group": group}))
                self.set_rc_from_fault(exc.faultCode)
            else:
                self.output(describe({"status": SUCCESS, "name": name or "*", "group": group}))

    # -- foreground --

    def do_fg(self, args: list[str]) -> None:
        if not self.upcheck():
            return
        if not args:
            self.output("ERROR: no process name supplied")
            self.rc = GENERIC
            self.help("fg")
            return
        if len(args) > 1:
            self.output("ERROR: too many process names supplied")
            self.rc = GENERIC
            return
        name = args[0]
        try:
            info = self.supervisor.getProcessInfo(name)
        except xmlrpc.client.Fault as exc:
            if exc.faultCode == BAD_NAME:
                self.output("ERROR: bad process name supplied")
                self.rc = GENERIC
            else:
                self.output(f"ERROR: {exc}")
            return
        if info["state"] != ProcessState.RUNNING:
            self.output("ERROR: process not running")
            self.rc = GENERIC
            return
        self.output(PRESS_CTRL_C)
        self.stdout.flush()
        followers = [self._follow(name, "stdout", self.stdout), self._follow(name, "stderr", sys.stderr)]
        try:
            for line in self._input_lines():
                try:
                    self.supervisor.sendProcessStdin(name, line + "\n")
                except xmlrpc.client.Fault as exc:
                    self.output("Process got killed" if exc.faultCode == NOT_RUNNING else f"ERROR: {exc}")
                    break
                if self.supervisor.getProcessInfo(name)["state"] != ProcessState.RUNNING:
                    self.output("Process got killed")
                    break
        except KeyboardInterrupt:
            pass
        finally:
            for stop in followers:
                stop()
        self.output("Exiting foreground")

    def _input_lines(self) -> Iterator[str]:
        while True:
            line = self.stdin.readline()
            if not line:
                return
            yield line.rstrip("\n")

    def _follow(self, name: str, channel: str, sink: TextIO) -> Callable[[], None]:
        """Stream one of the process's logs to ``sink`` on a daemon thread; returns its stopper."""
        path = f"/logtail/{urllib.parse.quote(name, safe=':*')}/{channel}"
        holder: dict[str, Any] = {}

        def pump() -> None:
            try:
                conn, chunks = open_stream(self.endpoint, path)
                holder["conn"] = conn
                for chunk in chunks:
                    self._write_bytes(chunk, sink)
            except Exception:
                return  # the stream ended or was closed by the stopper: nothing to report

        thread = threading.Thread(target=pump, name=f"fg-{channel}", daemon=True)
        thread.start()

        def stop() -> None:
            conn = holder.get("conn")
            if conn is not None and conn.sock is not None:
                try:
                    conn.sock.shutdown(2)
                except OSError:
                    pass
            thread.join(timeout=1.0)

        return stop

    # -- lifecycle --

    def do_shutdown(self, args: list[str]) -> None:
        self._lifecycle(args, "shutdown", "Shut down")

    def do_reload(self, args: list[str]) -> None:
        self._lifecycle(args, "restart", "Restarted supervisord")

    def _lifecycle(self, args: list[str], method: str, done: str) -> None:
        command = "shutdown" if method == "shutdown" else "reload"
        if args:
            self.output(f"Error: {command} accepts no arguments")
            self.rc = GENERIC
            self.help(command)
            return
        try:
            getattr(self.supervisor, method)()
        except xmlrpc.client.Fault as exc:
            self.rc = GENERIC
            if exc.faultCode != SHUTDOWN_STATE:
                raise
            self.output("ERROR: already shutting down")
            return
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            if method != "shutdown":
                raise
            self.rc = GENERIC
            what = "refused connection" if isinstance(exc, ConnectionRefusedError) else "no such file"
            self.output(f"ERROR: {self.endpoint.url} {what} (already shut down?)")
            return
        self.output(done)

    def do_version(self, args: list[str]) -> None:
        if args:
            self.output("Error: version accepts no arguments")
            self.rc = GENERIC
            self.help("version")
            return
        if not self.upcheck():
            return
        self.output(self.supervisor.getSupervisorVersion())

    # -- configuration --

    def _no_args(self, command: str, args: list[str]) -> bool:
        if args:
            self.output(f"Error: {command} accepts no arguments")
            self.rc = GENERIC
            self.help(command)
            return False
        return True

    def _shutting_down(
        self, exc: xmlrpc.client.Fault, message: str = "ERROR: supervisor shutting down"
    ) -> None:
        self.rc = GENERIC
        if exc.faultCode != SHUTDOWN_STATE:
            raise exc
        self.output(message)

    def do_avail(self, args: list[str]) -> None:
        if not self._no_args("avail", args):
            return
        try:
            infos = self.supervisor.getAllConfigInfo()
        except xmlrpc.client.Fault as exc:
            self._shutting_down(exc)
            return
        for info in infos:
            spec = make_namespec(info["group"], info["name"])
            inuse = "in use" if info["inuse"] else "avail"
            auto = "auto" if info["autostart"] else "manual"
            self.output(f"{spec:<32} {inuse:<9} {auto:<9} {info['group_prio']}:{info['process_prio']}")

    def do_reread(self, args: list[str]) -> None:
        if not self._no_args("reread", args):
            return
        try:
            result = self.supervisor.reloadConfig()
        except xmlrpc.client.Fault as exc:
            if exc.faultCode == CANT_REREAD:
                self.rc = GENERIC
                self.output(f"ERROR: {exc.faultString}")
                return
            self._shutting_down(exc)
            return
        added, changed, removed = result[0]
        changes = {n: "available" for n in added} | {n: "changed" for n in changed}
        changes |= {n: "disappeared" for n in removed}
        for name in sorted(changes):
            self.output(f"{name}: {changes[name]}")
        if not changes:
            self.output("No config updates to processes")

    def do_add(self, args: list[str]) -> None:
        for name in args:
            try:
                self.supervisor.addProcessGroup(name)
            except xmlrpc.client.Fault as exc:
                if exc.faultCode == ALREADY_ADDED:
                    self.output("ERROR: process group already active")
                elif exc.faultCode == BAD_NAME:
                    self.output(f"ERROR: no such process/group: {name}")
                    self.rc = GENERIC
                else:
                    self._shutting_down(exc, "ERROR: shutting down")
                continue
            self.output(f"{name}: added process group")

    def do_remove(self, args: list[str]) -> None:
        for name in args:
            try:
                self.supervisor.removeProcessGroup(name)
            except xmlrpc.client.Fault as exc:
                self.rc = GENERIC
                if exc.faultCode == STILL_RUNNING:
                    self.output(f"ERROR: process/group still running: {name}")
                elif exc.faultCode == BAD_NAME:
                    self.output(f"ERROR: no such process/group: {name}")
                else:
                    raise
                continue
            self.output(f"{name}: removed process group")

    def do_update(self, args: list[str]) -> None:
        s = self.supervisor
        try:
            result = s.reloadConfig()
        except xmlrpc.client.Fault as exc:
            if exc.faultCode == CANT_REREAD:
                self.rc = GENERIC
                self.output(f"ERROR: {exc.faultString}")
                return
            self._shutting_down(exc, "ERROR: already shutting down")
            return
        added, changed, removed = result[0]
        wanted = set(args) - {"all"} if "all" not in args else set()
        if wanted:
            known = {info["group"] for info in s.getAllProcessInfo()} | set(added)
            for name in sorted(wanted - known):
                self.output(f"ERROR: no such group: {name}")
                self.rc = GENERIC

        def chosen(name: str) -> bool:
            return not wanted or name in wanted

        for name in filter(chosen, removed):
            results = s.stopProcessGroup(name)
            self.output(f"{name}: stopped")
            if any(r["status"] == FAILED for r in results):
                self.output(f"{name}: has problems; not removing")
                self.rc = GENERIC
                continue
            s.removeProcessGroup(name)
            self.output(f"{name}: removed process group")
        for name in filter(chosen, changed):
            s.stopProcessGroup(name)
            self.output(f"{name}: stopped")
            s.removeProcessGroup(name)
            s.addProcessGroup(name)
            self.output(f"{name}: updated process group")
        for name in filter(chosen, added):
            s.addProcessGroup(name)
            self.output(f"{name}: added process group")
