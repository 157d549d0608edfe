"""Supervisor's fault names and codes (python-supervisor.md §1.2), shared by every API surface."""

from __future__ import annotations

FAULTS = {
    "UNKNOWN_METHOD": 1,
    "INCORRECT_PARAMETERS": 2,
    "BAD_ARGUMENTS": 3,
    "SIGNATURE_UNSUPPORTED": 4,
    "SHUTDOWN_STATE": 6,
    "BAD_NAME": 10,
    "BAD_SIGNAL": 11,
    "NO_FILE": 20,
    "NOT_EXECUTABLE": 21,
    "FAILED": 30,
    "ABNORMAL_TERMINATION": 40,
    "SPAWN_ERROR": 50,
    "ALREADY_STARTED": 60,
    "NOT_RUNNING": 70,
    "SUCCESS": 80,
    "ALREADY_ADDED": 90,
    "STILL_RUNNING": 91,
    "CANT_REREAD": 92,
}


def fault_code(name: str) -> int:
    return FAULTS.get(name, FAULTS["FAILED"])


class RPCError(Exception):
    """A fault to send back: ``text`` is ``NAME`` or ``NAME: detail``, exactly as Supervisor words it."""

    def __init__(self, name: str, detail: object = None) -> None:
        self.name = name if name in FAULTS else "FAILED"
        self.code = FAULTS[self.name]
        self.text = self.name if detail is None else f"{self.name}: {detail}"
        super().__init__(self.text)
