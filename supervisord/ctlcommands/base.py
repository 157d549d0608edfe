"""What every ``ctl`` command needs: the RPC proxy, output, the exit status and supervisorctl's up-check."""

from __future__ import annotations

import sys
import urllib.parse
import xmlrpc.client
from collections.abc import Callable
from typing import Any, TextIO

from supervisord.ctlcommands.codes import (
    API_VERSION,
    DEAD_PROGRAM_FAULTS,
    EXIT_NOT_RUNNING,
    GENERIC,
    INSUFFICIENT_PRIVILEGES,
    NOT_INSTALLED,
    SHUTDOWN_STATE,
    SUCCESS,
    UNIMPLEMENTED_FEATURE,
    UNKNOWN_METHOD,
)
from supervisord.ctlcommands.usage import COMMANDS, USAGE
from supervisord.rpcclient import Endpoint, server_proxy


def logtail_path(name: str, channel: str) -> str:
    """The HTTP path that streams one process channel (``tail -f`` and ``fg`` read it)."""
    return f"/logtail/{urllib.parse.quote(name, safe=':*')}/{channel}"


class ControllerBase:
    """Runs one command; ``rc`` ends up as the process exit status.

    Commands are ``do_<name>`` methods, defined by the per-family subclasses that
    :class:`supervisord.ctlcommands.Controller` combines.
    """

    def __init__(self, endpoint: Endpoint, stdout: TextIO, stdin: TextIO | None = None) -> None:
        self.endpoint = endpoint
        self.stdout = stdout
        self.stdin = stdin or sys.stdin
        self.rc = 0
        self._proxy: Any = None

    @property
    def supervisor(self) -> Any:
        """The ``supervisor.*`` RPC namespace, connected on first use (``help`` never connects)."""
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

    def usage_error(self, command: str, message: str, rc: int = GENERIC) -> None:
        """supervisorctl's answer to bad arguments: the error, then the command's help."""
        self.output(message)
        self.rc = rc
        self.help(command)

    def upcheck_and_names(self, command: str, args: list[str], missing: str, rc: int = GENERIC) -> bool:
        """The up-check, then a usage error (``missing``, exit ``rc``) unless at least one name was given."""
        if not self.upcheck():
            return False
        if not args:
            self.usage_error(command, missing, rc)
            return False
        return True

    def no_args(self, command: str, args: list[str]) -> bool:
        """True when ``args`` is empty, as commands that take none require; else a usage error."""
        if args:
            self.usage_error(command, f"Error: {command} accepts no arguments")
            return False
        return True

    def set_rc_from_fault(self, code: int, ignored: int | None = None) -> None:
        if code in (ignored, SUCCESS):
            return
        self.rc = EXIT_NOT_RUNNING if code in DEAD_PROGRAM_FAULTS else GENERIC

    def shutting_down(
        self, exc: xmlrpc.client.Fault, message: str = "ERROR: supervisor shutting down"
    ) -> None:
        """Report a SHUTDOWN_STATE fault with ``message``; any other fault is not ours to word."""
        self.rc = GENERIC
        if exc.faultCode != SHUTDOWN_STATE:
            raise exc
        self.output(message)

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
