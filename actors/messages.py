"""The messages actors exchange. Actors talk only through these (``tell``/``ask``), never shared state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from supervisord.snapshot import ProcessSnapshot
from supervisord.states import ProcessState

# --- to a ProcessActor ---


@dataclass(frozen=True)
class Start:
    """Start the process. The reply is an :class:`Outcome`; with ``wait`` its ``done`` future resolves once
    the start succeeded (RUNNING) or failed (an Outcome with a fault)."""

    wait: bool = True
    user: bool = True  # False for autostart: keeps the retry counter and respects the daemon's mood
    then: Any = None  # called (in the process actor) once the request was handled: chains ordered spawns


@dataclass(frozen=True)
class Stop:
    """Stop the process; with ``wait`` the reply's ``done`` resolves once it is stopped.

    With a ``slot`` (a :class:`~supervisord.runtime.gather.Slot`, for a stop of many told at once) the
    reply goes to the slot instead, and the slot itself is the ``done`` to resolve.
    """

    wait: bool = True
    slot: Any = None


@dataclass(frozen=True)
class SignalProcess:
    signum: int


@dataclass(frozen=True)
class WriteStdin:
    data: bytes


@dataclass(frozen=True)
class Shutdown:
    """The daemon is stopping: no more automatic restarts, stop now; reply like :class:`Stop` with wait."""


@dataclass(frozen=True)
class Restart:
    """Stop the process if it runs, then start it again (no reply needed; ignored while shutting down)."""


@dataclass(frozen=True)
class Resume:
    """A reload finished: automatic restarts are allowed again."""


@dataclass(frozen=True)
class WatchFired:
    """From a watcher actor: something the program depends on changed, after the burst settled.

    ``kind`` is "binary" or "file" (which ``restart_*_when_<kind>_changed`` keys apply); ``cause`` is the
    human reason, e.g. "binary /srv/app/web changed". The process actor decides what to do.
    """

    kind: str
    cause: str


@dataclass(frozen=True)
class CheckResult:
    """A readiness or liveness probe finished (``kind``: "readiness"/"liveness").

    ``token`` identifies the child and phase it was asked about, so a late answer is dropped.
    """

    kind: str
    token: int
    ok: bool
    detail: str


@dataclass(frozen=True)
class Notified:
    """A datagram on a process's NOTIFY_SOCKET (``READY=1``, ``STATUS=...``, ``WATCHDOG=1`` lines)."""

    token: int
    data: bytes


@dataclass(frozen=True)
class CheckTick:
    """Time for the next probe of ``kind``, or (kind "watchdog") the watchdog deadline passed."""

    kind: str
    token: int


@dataclass(frozen=True)
class ChildExited:
    """From the I/O loop: the child's pidfd became readable."""

    pid: int


@dataclass(frozen=True)
class TimerFired:
    token: int


@dataclass(frozen=True)
class GetSnapshot:
    pass


# --- replies ---


@dataclass(frozen=True)
class Outcome:
    """Result of a request: ``fault`` is a Supervisor fault name (``NOT_RUNNING`` …) or None on success."""

    fault: str | None = None
    text: str = ""
    done: Any = None  # a HubSafeFuture resolving to a final Outcome, when the caller asked to wait

    @property
    def ok(self) -> bool:
        return self.fault is None


# --- to the SupervisorActor ---


@dataclass(frozen=True)
class SnapshotChanged:
    snapshot: ProcessSnapshot


@dataclass(frozen=True)
class ProcessActorDied:
    """A process actor's handler raised: it is dead, its child killed and reaped (``clean``) or maybe not.

    The supervisor actor replaces it (one-for-one) unless it died too often (see ``actors/supervisor.py``).
    """

    group: str
    name: str
    ref: Any
    error: BaseException
    clean: bool


@dataclass(frozen=True)
class ProcessDown:
    """A process that was told to :class:`Shutdown` has reached a stopped state."""

    group: str
    name: str


@dataclass(frozen=True)
class GetSnapshots:
    """Reply: every process's latest snapshot, in Supervisor's order (group name, then process name); a
    future of that list while new process actors have not published their first snapshot yet."""


@dataclass(frozen=True)
class FindProcesses:
    """Resolve a namespec (``name``, ``group:name``, ``group:*``, ``group:``) to process refs.

    Reply: ``list[tuple[ProcessSnapshot, ActorRef]]``, or an :class:`Outcome` with ``BAD_NAME``.
    """

    namespec: str


@dataclass(frozen=True)
class AutostartForked:
    """Reply: a future resolving once every autostart that can start now has forked (the first wave).

    The daemon serves HTTP only after that, as Supervisor (whose first loop iteration forks them all
    before it reads a request): a ``status`` right after start or reload never shows "Not started".
    """


@dataclass(frozen=True)
class BeginShutdown:
    """Stop every process in reverse start order; reply: a future resolving when all are down."""


@dataclass(frozen=True)
class Broadcast:
    """Tell ``message`` to every process actor (e.g. a log reopen)."""

    message: Any


@dataclass(frozen=True)
class ProcessesInOrder:
    """Reply: ``list[tuple[ProcessSnapshot | None, ActorRef]]`` in Supervisor's start order: groups by
    (priority, name), processes by (priority, config order). ``group`` limits it to one group; an unknown
    group replies an :class:`Outcome` with ``BAD_NAME``."""

    group: str | None = None


@dataclass(frozen=True)
class Reread:
    """Adopt ``config`` as the last-read config (what add/avail use) and diff it against the running groups.

    Reply: ``(added, changed, removed)`` group names, each sorted.
    """

    config: Any


@dataclass(frozen=True)
class AddGroup:
    """Create the group's processes from the last-read config and autostart them. Reply: an Outcome
    (``BAD_NAME``, ``ALREADY_ADDED``)."""

    name: str


@dataclass(frozen=True)
class RemoveGroup:
    """Forget a group whose processes are all stopped. Reply: an Outcome (``BAD_NAME``, ``STILL_RUNNING``)."""

    name: str


@dataclass(frozen=True)
class GetConfigInfo:
    """Reply: ``list[tuple[GroupConfig, bool]]``: every group of the last-read config and whether it runs."""


@dataclass(frozen=True)
class ClearLogs:
    """To a ProcessActor: truncate its log files and have the sinks reopen them. Reply: an Outcome."""


# --- from log sinks to the event bus (``ctx.eventbus``, when there is one) ---


@dataclass(frozen=True)
class ProcessLogEvent:
    """PROCESS_LOG_STDOUT/STDERR: one chunk of output (``*_events_enabled``), after ANSI stripping."""

    name: str
    group: str
    pid: int
    channel: str  # "stdout" or "stderr"
    data: bytes


@dataclass(frozen=True)
class ProcessCommunicationEvent:
    """PROCESS_COMMUNICATION_STDOUT/STDERR: what a child sent between the XSUPERVISOR BEGIN/END tokens."""

    name: str
    group: str
    pid: int
    channel: str
    data: bytes


@dataclass(frozen=True)
class StartNext:
    """To the SupervisorActor: the autostart of ``key`` has forked; start the next one in priority order."""

    key: Any = None


# --- to a ListenerPoolActor (the listener processes' protocol channel and life) ---


@dataclass(frozen=True)
class ListenerAttached:
    name: str
    ref: Any


@dataclass(frozen=True)
class ListenerState:
    """A listener process changed state."""

    name: str
    state: ProcessState


@dataclass(frozen=True)
class ListenerStdin:
    """A freshly spawned listener's protocol end (a ``ListenerLink``, on the I/O loop), for its pool.

    The link writes envelopes into the process actor's stdin outlet (thread-safe: one fd, one queue, so
    envelopes and any ``sendProcessStdin`` stay in order). The process actor still owns the outlet and
    closes it when the listener exits; the link's writes then fail, and it gives its events back.
    """

    name: str
    link: Any
