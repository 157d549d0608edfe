"""The ``supervisord ctl`` commands: supervisorctl's RPC sequence, output lines and exit codes per command.

Each ``do_<name>`` method makes the same calls in the same order as supervisorctl (including the
``getVersion`` up-check before the commands that do one), so a daemon that satisfies supervisorctl satisfies
this client, and scripts that parse either tool's output or exit status see no difference. The commands
live in one module per family; :class:`Controller` combines them.
"""

from __future__ import annotations

from supervisord.ctlcommands.configuration import ConfigCommands
from supervisord.ctlcommands.daemon import DaemonCommands
from supervisord.ctlcommands.logs import LogCommands
from supervisord.ctlcommands.processes import ProcessCommands
from supervisord.ctlcommands.usage import COMMANDS, USAGE

__all__ = ["COMMANDS", "USAGE", "Controller"]


class Controller(ProcessCommands, LogCommands, ConfigCommands, DaemonCommands):
    """Runs one command; ``rc`` ends up as the process exit status."""
