"""Process and daemon logs: ``tail``, ``maintail``, ``fg`` (follow + stdin) and ``clear``.

Reading a fixed number of bytes goes over XML-RPC; following (``-f`` and ``fg``) reads the never-ending
HTTP log streams, whose bytes are copied to the terminal undecoded where possible.
"""

from __future__ import annotations

import sys
import threading
import xmlrpc.client
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from supervisord import namespec
from supervisord.ctlcommands.base import ControllerBase, logtail_path
from supervisord.ctlcommands.codes import BAD_NAME, FAILED, GENERIC, NO_FILE, NOT_RUNNING, SUCCESS
from supervisord.rpcclient import open_stream
from supervisord.states import ProcessState

TAIL_BYTES = 1600
PRESS_CTRL_C = "==> Press Ctrl-C to exit <=="
_CLEAR_ERRORS = {BAD_NAME: "no such process", FAILED: "failed"}


def write_bytes(data: bytes, stream: TextIO) -> None:
    """Write raw log bytes to a text stream, through its binary buffer when it has one."""
    buffer = getattr(stream, "buffer", None)
    stream.flush()
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode("utf-8", "replace"))
        stream.flush()


class LogCommands(ControllerBase):
    """Commands that read, follow or clear logs."""

    def _stream(self, path: str) -> None:
        """Copy a never-ending HTTP log stream to stdout until Ctrl-C (or the server closes it)."""
        self.output(PRESS_CTRL_C)
        self.stdout.flush()
        conn, chunks = open_stream(self.endpoint, path)
        try:
            for chunk in chunks:
                write_bytes(chunk, self.stdout)
        except KeyboardInterrupt:
            self.output("")
        finally:
            conn.close()

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
            self.usage_error("tail", "Error: too few arguments" if not args else "Error: too many arguments")
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
            self._stream(logtail_path(name, channel))
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
            self.usage_error("maintail", "Error: too many arguments")
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
        if not self.upcheck_and_names("clear", args, "Error: clear requires a process name"):
            return

        def describe(result: dict[str, Any]) -> str:
            spec = namespec.make(result["group"], result["name"])
            if result["status"] == SUCCESS:
                return f"{spec}: cleared"
            return f"{spec}: ERROR ({_CLEAR_ERRORS.get(result['status'], result.get('description', ''))})"

        if "all" in args:
            for result in self.supervisor.clearAllProcessLogs():
                self.output(describe(result))
                self.set_rc_from_fault(result["status"])
            return
        for spec in args:
            group, name = namespec.split(spec)
            try:
                self.supervisor.clearProcessLogs(spec)
            except xmlrpc.client.Fault as exc:
                self.output(describe({"status": exc.faultCode, "name": name or "*", "group": group}))
                self.set_rc_from_fault(exc.faultCode)
            else:
                self.output(describe({"status": SUCCESS, "name": name or "*", "group": group}))

    def do_fg(self, args: list[str]) -> None:
        if not self.upcheck_and_names("fg", args, "ERROR: no process name supplied"):
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
        path = logtail_path(name, channel)
        holder: dict[str, Any] = {}

        def pump() -> None:
            try:
                conn, chunks = open_stream(self.endpoint, path)
                holder["conn"] = conn
                for chunk in chunks:
                    write_bytes(chunk, sink)
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
