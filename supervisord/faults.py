"""Supervisor's faults as domain errors: one table of names and codes for the server, ``ctl`` and every API.

The control layer (:mod:`supervisord.control`) raises a :class:`Fault` subclass per Supervisor fault name
(``BadName``, ``AlreadyStarted``…); each surface words it its own way: XML-RPC as ``faultCode``/
``faultString``, REST as ``{"error", "code"}`` with an HTTP status. The codes are python-supervisor.md §1.2.
"""

from __future__ import annotations

FAULTS: dict[str, int] = {
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


class Fault(Exception):
    """A request the daemon refuses or could not carry out.

    ``text`` is ``NAME`` or ``NAME: detail``, exactly as Supervisor words its faultString.
    """

    fault = "FAILED"

    def __init__(self, detail: object = None) -> None:
        self.name = self.fault
        self.code = FAULTS[self.fault]
        self.detail = None if detail is None else str(detail)
        self.text = self.name if detail is None else f"{self.name}: {detail}"
        super().__init__(self.text)


class UnknownMethod(Fault):
    fault = "UNKNOWN_METHOD"


class IncorrectParameters(Fault):
    fault = "INCORRECT_PARAMETERS"


class BadArguments(Fault):
    fault = "BAD_ARGUMENTS"


class SignatureUnsupported(Fault):
    fault = "SIGNATURE_UNSUPPORTED"


class ShutdownState(Fault):
    fault = "SHUTDOWN_STATE"


class BadName(Fault):
    fault = "BAD_NAME"


class BadSignal(Fault):
    fault = "BAD_SIGNAL"


class NoFile(Fault):
    fault = "NO_FILE"


class NotExecutable(Fault):
    fault = "NOT_EXECUTABLE"


class Failed(Fault):
    fault = "FAILED"


class AbnormalTermination(Fault):
    fault = "ABNORMAL_TERMINATION"


class SpawnError(Fault):
    fault = "SPAWN_ERROR"


class AlreadyStarted(Fault):
    fault = "ALREADY_STARTED"


class NotRunning(Fault):
    fault = "NOT_RUNNING"


class AlreadyAdded(Fault):
    fault = "ALREADY_ADDED"


class StillRunning(Fault):
    fault = "STILL_RUNNING"


class CantReread(Fault):
    fault = "CANT_REREAD"


BY_NAME: dict[str, type[Fault]] = {
    cls.fault: cls
    for cls in (
        UnknownMethod,
        IncorrectParameters,
        BadArguments,
        SignatureUnsupported,
        ShutdownState,
        BadName,
        BadSignal,
        NoFile,
        NotExecutable,
        Failed,
        AbnormalTermination,
        SpawnError,
        AlreadyStarted,
        NotRunning,
        AlreadyAdded,
        StillRunning,
        CantReread,
    )
}


def fault(name: str | None, detail: object = None) -> Fault:
    """The domain error for a fault name an actor replied with (an unknown name is a FAILED)."""
    cls = BY_NAME.get(name or "FAILED", Failed)
    return cls(detail)
