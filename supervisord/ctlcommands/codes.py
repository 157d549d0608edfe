"""The numbers both ends of supervisorctl agree on: XML-RPC fault codes and the client's exit statuses."""

from __future__ import annotations

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

# Faults that mean "the program is not running", which supervisorctl reports with EXIT_NOT_RUNNING.
DEAD_PROGRAM_FAULTS = frozenset({SPAWN_ERROR, ABNORMAL_TERMINATION, NOT_RUNNING})
