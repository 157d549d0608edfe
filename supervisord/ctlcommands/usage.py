"""supervisorctl's help text per command, verbatim: ``help <command>`` and usage errors print it."""

from __future__ import annotations

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
    "restart --rolling <gname>\tRestart a group one process at a time, each RUNNING before the next\n"
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
