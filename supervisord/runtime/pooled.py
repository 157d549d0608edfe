"""A pykka actor runtime that runs many actors on a few threads.

``pykka.ThreadingActor`` gives every actor its own OS thread. With one actor per process plus one per log
channel, 1,000 programs would mean 3,000 threads and tens of megabytes of stacks and thread state. Here an
actor is scheduled on a small shared pool of worker threads whenever its inbox is non-empty, and processes
its messages one at a time, in order, never on two workers at once: the actor model's guarantees, with
memory proportional to the work in flight rather than to the number of actors (the way an Erlang/OTP
scheduler runs millions of processes on a handful of threads).

Rules for actors on this runtime (the same as for thread actors, plus one): never ask yourself; ask other
actors only with a timeout; and do not block inside a handler, since that holds a worker. Writes whose
reader may stall go through an outlet (``supervisord.runtime.outlet``); the few calls that must block
(waiting on a future, writing a file) go inside ``with blocking():``.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import sys
import threading
import uuid
from typing import Any, ClassVar

import pykka
from pykka import ActorRegistry
from pykka._envelope import Envelope
from pykka.messages import _ActorStop

from supervisord.runtime import faults

log = logging.getLogger("pykka")

BATCH = 64  # messages handled per turn before the actor yields its worker (fairness under floods)


class Dispatcher:
    """A fixed pool of worker threads pulling runnable actors from one queue.

    A worker that makes another actor runnable (a ``tell`` from inside a handler) keeps it in a one-actor
    "run next" slot and runs it itself as soon as the current turn ends, instead of waking another thread:
    a chain of hand-offs (process → supervisor → next process, bus → pool) then costs no futex wake-up and
    no GIL hand-over per hop (the idea of Go's ``runnext``). Anything else goes to the shared queue. The
    slot is handed back to the queue whenever the parked actor would otherwise wait: when the current
    actor's turn goes on to another message (:meth:`release_next`), and on entry to :class:`blocking`,
    the guard around every call that may block a worker (a future's ``get``, a file write). So a parked
    actor waits at most for the rest of one message, never on a thread that is stuck.
    """

    def __init__(self, workers: int) -> None:
        self._runnable: queue.SimpleQueue[PooledActor | None] = queue.SimpleQueue()
        self._local = threading.local()
        self._threads = [
            threading.Thread(target=self._work, name=f"actor-worker-{n}", daemon=True) for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, actor: PooledActor) -> None:
        local = self._local
        if getattr(local, "worker", False) and local.next is None:
            local.next = actor
            return
        self._runnable.put(actor)

    def requeue(self, actor: PooledActor) -> None:
        """Put an actor that has used up its turn behind the others (never in the run-next slot)."""
        self._runnable.put(actor)

    def release_next(self) -> None:
        """Hand this worker's parked actor to the shared queue (the turn goes on to another message)."""
        actor = getattr(self._local, "next", None)
        if actor is not None and actor is not _HELD:
            self._local.next = None
            self._runnable.put(actor)

    def enter_blocking(self) -> None:
        """See :class:`blocking`: release the parked actor and park nothing until :meth:`leave_blocking`."""
        local = self._local
        if not getattr(local, "worker", False):
            return
        local.blocking += 1
        actor = local.next
        local.next = _HELD  # a tell made while blocked goes to the shared queue, never to this stuck worker
        if actor is not None and actor is not _HELD:
            self._runnable.put(actor)

    def leave_blocking(self) -> None:
        local = self._local
        if not getattr(local, "worker", False):
            return
        local.blocking -= 1
        if not local.blocking:
            local.next = None

    def _work(self) -> None:
        local = self._local
        local.worker = True
        local.next = None
        local.blocking = 0
        while True:
            actor: PooledActor | None = self._runnable.get()
            if actor is None:
                return
            hops = 0
            while actor is not None:
                actor._run_turn()
                actor, local.next = local.next, None
                hops += 1
                if actor is not None and hops >= BATCH:  # a chain of hand-offs yields like a long turn
                    self._runnable.put(actor)
                    actor = None


_HELD: Any = object()  # in a worker's run-next slot while it is inside ``blocking()``: park nothing


class blocking:
    """The one guard around a call that may block a worker (a future's ``get``, a file write).

    On entry the worker's parked "run next" actor goes back to the shared queue, so it never waits on a
    thread that is stuck; until the outermost exit, actors this worker makes runnable go to the shared queue
    too. Nests; a no-op off the pool's workers (the hub, the I/O loop).
    """

    __slots__ = ("_dispatcher",)

    def __init__(self) -> None:
        self._dispatcher = dispatcher()

    def __enter__(self) -> None:
        self._dispatcher.enter_blocking()

    def __exit__(self, *exc: object) -> None:
        self._dispatcher.leave_blocking()


_dispatcher_lock = threading.Lock()
_dispatcher: Dispatcher | None = None


def dispatcher() -> Dispatcher:
    """The process-wide worker pool, created on first use (size: $SUPERVISORD_ACTOR_WORKERS or 16)."""
    global _dispatcher
    with _dispatcher_lock:
        if _dispatcher is None:
            _dispatcher = Dispatcher(int(os.environ.get("SUPERVISORD_ACTOR_WORKERS", "16")))
        return _dispatcher


class _Inbox:
    """An actor's mailbox: putting a message into an idle actor's inbox makes the actor runnable.

    Messages of the owner's ``urgent`` types go to a second queue that is always served first: control
    traffic (a listener's "READY", a state change) must not wait behind a flood of data messages, or the
    flood starves the very replies that would drain it.

    Each queue exists only while it holds a message (None otherwise): an empty deque is ~630 bytes, and a
    daemon with 1,000 programs has thousands of inboxes that are empty nearly all the time.
    """

    __slots__ = ("closed", "lock", "messages", "owner", "scheduled", "started", "urgent_messages")

    def __init__(self, owner: PooledActor) -> None:
        self.lock = threading.Lock()
        self.messages: collections.deque[Envelope[Any]] | None = None
        self.urgent_messages: collections.deque[Envelope[Any]] | None = None
        self.scheduled = True  # until the actor has started, puts only queue
        self.closed = False  # set once the stopped actor's inbox has been drained
        self.started = False  # on_start has run (kept here, not on the actor: see PooledActor.__init__)
        self.owner = owner

    def put(self, envelope: Envelope[Any], block: bool = True, timeout: float | None = None) -> None:
        urgent = bool(self.owner.urgent) and isinstance(envelope.message, self.owner.urgent)
        with self.lock:
            if self.closed:  # the sender saw the actor alive just before it stopped: refuse, never lose
                _refuse(envelope, self.owner)
                return
            if urgent:
                if self.urgent_messages is None:
                    self.urgent_messages = collections.deque()
                self.urgent_messages.append(envelope)
            else:
                if self.messages is None:
                    self.messages = collections.deque()
                self.messages.append(envelope)
            if self.scheduled:
                return
            self.scheduled = True
        dispatcher().submit(self.owner)

    def pop(self) -> Envelope[Any] | None:
        """The next message (urgent ones first), or None; the caller holds ``lock``."""
        queue = self.urgent_messages
        if queue is not None:
            envelope = queue.popleft()
            if not queue:
                self.urgent_messages = None
            return envelope
        queue = self.messages
        if queue is None:
            return None
        envelope = queue.popleft()
        if not queue:
            self.messages = None
        return envelope

    def get(self, block: bool = True, timeout: float | None = None) -> Envelope[Any]:
        with self.lock:
            envelope = self.pop()
        if envelope is None:
            raise IndexError("empty inbox")
        return envelope

    def empty(self) -> bool:
        return self.messages is None and self.urgent_messages is None


_stopped_lock = threading.Lock()


class _Stopped:
    """A pooled actor's ``actor_stopped``: pykka's flag, without a ``threading.Event`` per actor.

    An Event (a Condition, its lock and an empty waiter deque) is ~1.2 KB, and pykka only calls ``is_set``
    and ``set``; ``wait`` makes an Event only for a caller that really waits.
    """

    __slots__ = ("_event", "_set")

    def __init__(self) -> None:
        self._set = False
        self._event: threading.Event | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        with _stopped_lock:
            self._set = True
            event = self._event
        if event is not None:
            event.set()

    def wait(self, timeout: float | None = None) -> bool:
        with _stopped_lock:
            if self._set:
                return True
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)


class PooledActor(pykka.Actor):
    """A pykka actor scheduled on the shared :class:`Dispatcher` instead of owning a thread."""

    urgent: ClassVar[tuple[type, ...]] = ()  # message types served before anything already queued

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """pykka's ``Actor.__init__``, with a light ``actor_stopped`` (tests/test_canary.py watches it).

        The runtime adds no attribute of its own to the actor: CPython 3.11 keeps the attributes of up to
        29 per instance in a compact shared-key table (~330 bytes for 29), and a 30th turns them into a
        full dict (~1.6 KB), which for ``ProcessActor`` (1,000 programs, 1,000 actors) is a megabyte.
        """
        self.actor_urn = uuid.uuid4().urn
        self.actor_inbox = self._create_actor_inbox()
        self.actor_stopped = _Stopped()  # type: ignore[assignment]
        self._actor_ref = pykka.ActorRef(self)

    def _create_actor_inbox(self) -> Any:  # type: ignore[override]
        return _Inbox(self)

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        return pykka.ThreadingFuture()

    def _start_actor_loop(self) -> None:
        dispatcher().submit(self)

    def _run_turn(self) -> None:
        """Handle up to BATCH messages, then give the worker back (re-queueing if more are waiting)."""
        inbox: _Inbox = self.actor_inbox  # type: ignore[assignment]
        if not inbox.started:
            inbox.started = True
            self._actor_loop_setup()
        for _ in range(BATCH):
            if self.actor_stopped.is_set():
                self._actor_loop_teardown()
                return  # stays "scheduled" forever: a dead actor is never run again
            with inbox.lock:
                envelope = inbox.pop()
                if envelope is None:
                    inbox.scheduled = False
                    return
            self._handle_envelope(envelope)
            if not inbox.empty():  # the turn goes on: an actor this message parked must not wait for it
                dispatcher().release_next()
        if self.actor_stopped.is_set():
            self._actor_loop_teardown()
            return
        dispatcher().requeue(self)

    def _handle_envelope(self, envelope: Envelope[Any]) -> None:
        """One message, with pykka's semantics: replies, exceptions to askers, failures stop the actor."""
        try:
            response = self._handle_receive(envelope.message)
            if envelope.reply_to is not None:
                envelope.reply_to.set(response)
        except Exception:
            if envelope.reply_to is not None:
                envelope.reply_to.set_exception()
            else:
                self._handle_failure(*sys.exc_info())
                try:
                    self.on_failure(*sys.exc_info())
                except Exception:
                    self._handle_failure(*sys.exc_info())
        except BaseException:
            self._stop()
            ActorRegistry.stop_all(block=False)

    def _handle_failure(self, *exc_info: Any) -> None:
        """pykka's failure handling (log to its logger, unregister, mark stopped), then report the death:
        a dead actor answers nothing, so the daemon must not live on as if it were there."""
        super()._handle_failure(*exc_info)
        self._report_death(exc_info)

    def _report_death(self, exc_info: Any) -> None:
        """Say that this actor died. By default the daemon shuts down (runtime/faults.py); an actor kind
        that something replaces (the process actor: the supervisor actor restarts it) overrides this."""
        faults.died(f"actor {type(self).__name__}", exc_info)

    def _actor_loop_teardown(self) -> None:
        inbox: _Inbox = self.actor_inbox  # type: ignore[assignment]
        while True:
            with inbox.lock:
                envelope = inbox.pop()
                if envelope is None:
                    inbox.closed = True
                    return
            _refuse(envelope, self)


def _refuse(envelope: Envelope[Any], actor: PooledActor) -> None:
    """Answer an ask the stopped ``actor`` will never handle (pykka's semantics); drop a tell."""
    if envelope.reply_to is None:
        return
    if isinstance(envelope.message, _ActorStop):
        envelope.reply_to.set(None)
    else:
        dead = pykka.ActorDeadError(f"{actor.actor_ref} stopped before handling the message")
        envelope.reply_to.set_exception(exc_info=(pykka.ActorDeadError, dead, None))
