"""The daemon itself, and the client's own help: ``shutdown``, ``reload``, ``version`` and ``help``."""

from __future__ import annotations

import xmlrpc.client

from supervisord.ctlcommands.base import ControllerBase
from supervisord.ctlcommands.codes import GENERIC, SHUTDOWN_STATE
from supervisord.ctlcommands.usage import COMMANDS, USAGE


class DaemonCommands(ControllerBase):
    """Commands about supervisord as a whole rather than its processes."""

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

    def do_shutdown(self, args: list[str]) -> None:
        self._lifecycle(args, "shutdown", "Shut down")

    def do_reload(self, args: list[str]) -> None:
        self._lifecycle(args, "restart", "Restarted supervisord")

    def _lifecycle(self, args: list[str], method: str, done: str) -> None:
        """Call ``supervisor.<method>``; no up-check, since a daemon that is going away may not answer one."""
        command = "shutdown" if method == "shutdown" else "reload"
        if not self.no_args(command, args):
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
        if not self.no_args("version", args):
            return
        if not self.upcheck():
            return
        self.output(self.supervisor.getSupervisorVersion())
