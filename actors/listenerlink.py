"""A listener's end of protocol 3.0, run on the I/O-loop thread where its bytes arrive.

Why here and not in the pool actor: every event is a round trip (envelope → listener → ``RESULT`` →
``READY``). When the pool actor parsed the replies, each round trip crossed two thread wake-ups (the I/O
thread reading the reply, a worker running the pool) and delivery ran at half Supervisor's rate. The link
parses the listener's stdout as the I/O loop reads it and writes the next envelope from the same callback,
so in steady state a round trip costs no hand-over between threads.

Ownership (no shared lock): everything below is touched only on the I/O-loop thread. The pool actor keeps
the buffer and the decisions (which listener, drops, serials) and talks to the link by message only: it
*stages* envelopes it has already chosen for this listener (:meth:`stage`, run on the loop thread through
``IOLoop.call_soon``), and asks for them back when the listener dies (:meth:`reclaim`). The link tells the
pool, asynchronously, what happened (:class:`LinkReport`): how many events were acknowledged, which came
back, and its protocol state. It reports only when the pool has something to do (its staged envelopes
are running low, it is idle, or it gave events back), not per event.

Every staged event ends exactly once: acknowledged (counted), or given back to the pool in order. FAIL
redelivers at the head: with prefetch (a pool of one listener) the link keeps the event and sends it again
before anything staged behind it; without (several listeners, which take events one at a time) it gives
the event back, and the pool offers it to the next READY listener, as Supervisor does.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pykka

from supervisord.actors.logsink import Chunk

if TYPE_CHECKING:
    from supervisord.runtime.ioloop import IOLoop, Timer
    from supervisord.runtime.outlet import Outlet

READY_TOKEN = b"READY\n"
RESULT_PREFIX_LEN = len("RESULT ")
LOG_DELAY = 0.05  # the listener's stdout reaches its log at most this late (one message, not one per read)

ACKNOWLEDGED, READY, BUSY, UNKNOWN = "ACKNOWLEDGED", "READY", "BUSY", "UNKNOWN"


@dataclass(frozen=True)
class Staged:
    """An event the pool chose for this listener, with its envelope already made (off the I/O thread)."""

    item: Any  # the pool's queued event (opaque here): given back as is
    serial: int
    envelope: bytes


@dataclass(frozen=True)
class LinkReport:
    """To the pool: what its link did since the last report.

    ``acked``: events acknowledged (``OK``); ``rejected``: answered otherwise (redelivered);
    ``returned``: events handed back, oldest first, never sent or to be sent again by someone else;
    ``ready``: the listener is READY with nothing staged; ``closed``: the link will send nothing more
    (``protocol`` says why: UNKNOWN for a protocol violation, else the listener died or was reclaimed).
    """

    name: str
    link: ListenerLink
    acked: int
    rejected: int
    returned: tuple[Any, ...]
    protocol: str
    ready: bool
    closed: bool


class ListenerLink:
    """One spawn of one listener: its protocol state, its staged envelopes and its stdin writes."""

    def __init__(
        self,
        name: str,
        pool: Any,
        sink: Any,
        pid: int,
        stdin: Outlet,
        loop: IOLoop,
        logger: logging.Logger,
    ) -> None:
        self.name = name
        self.pool = pool
        self.sink = sink
        self.pid = pid
        self.stdin = stdin  # the process actor's outlet: it closes it when the listener exits
        self.loop = loop
        self.logger = logger
        # I/O-loop thread only from here on.
        self.protocol = ACKNOWLEDGED
        self.buffer = bytearray()
        self.inflight: Staged | None = None
        self.staged: collections.deque[Staged] = collections.deque()
        self.low_water = 0  # report (ask for more) when a send leaves this many staged
        self.keep_failed = False  # redeliver a FAIL from here (prefetch) rather than from the pool
        self.asked = False  # a report that will bring more is on its way
        self.acked = 0
        self.rejected = 0
        self.closed = False
        self.log = bytearray()
        self.log_timer: Timer | None = None

    # -- from the pool actor (any thread): messages, run on the loop --

    def stage(self, items: list[Staged], prefetch: int) -> None:
        """Send these (in order) as the listener says READY; ``prefetch``: the pool stages that far ahead."""
        self.loop.call_soon(lambda: self._take(items, prefetch))

    def reclaim(self) -> None:
        """The listener died or stopped: give back everything not acknowledged, and send nothing more."""
        self.loop.call_soon(self._reclaim)

    # -- from the I/O loop: the listener's stdout --

    def feed(self, data: bytes) -> None:
        """A chunk of the listener's stdout: the protocol, and the raw bytes for its log (batched)."""
        if self.sink is not None:
            self.log += data
            if self.log_timer is None:
                self.log_timer = self.loop.call_at(time.monotonic() + LOG_DELAY, self._flush_log)
        if self.closed:
            return
        buf = self.buffer
        buf += data
        while buf:
            protocol = self.protocol
            if protocol == BUSY:
                end = buf.find(b"\n")
                if end < 0:
                    return
                try:
                    length = int(buf[RESULT_PREFIX_LEN:end])
                except ValueError:
                    self.logger.error(
                        "%s: bad result line: %r", self.name, bytes(buf[:end]).decode("utf-8", "replace")
                    )
                    self._garbage()
                    return
                stop = end + 1 + length
                if len(buf) < stop:
                    return
                ok = buf[end + 1 : stop] == b"OK"
                del buf[:stop]
                self._result(ok)
            elif protocol == ACKNOWLEDGED:
                if len(buf) < len(READY_TOKEN):
                    return
                if not buf.startswith(READY_TOKEN):
                    self._garbage()
                    return
                del buf[: len(READY_TOKEN)]
                self._become(READY)
                if self.staged:
                    self._send_next()
                else:
                    self._report(ready=True)
            else:  # READY: the listener may say nothing until it gets an event
                self._garbage()
                return

    def eof(self) -> None:
        """The listener's stdout is closed (it exited): what it wrote last goes to its log now."""
        self._flush_log()

    # -- internals, loop thread --

    def _take(self, items: list[Staged], prefetch: int) -> None:
        if self.closed:
            self._report(returned=tuple(s.item for s in items))
            return
        self.asked = False
        self.low_water = prefetch // 2
        self.keep_failed = prefetch > 0
        self.staged.extend(items)
        if self.protocol == READY:
            self._send_next()

    def _send_next(self) -> None:
        staged = self.staged.popleft()
        self.inflight = staged
        self._become(BUSY)
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("event %d sent to listener %s", staged.serial, self.name)
        try:
            taken = self.stdin.write(staged.envelope)
        except OSError:  # it died under us: its exit reclaims nothing more; give everything back now
            self._close(ACKNOWLEDGED)
            return
        if not taken:  # it answered events it never read (only one is ever in flight): not the protocol
            self.logger.error("%s: stdin is full, it is not reading its events", self.name)
            self._garbage()
            return
        if self.keep_failed and len(self.staged) <= self.low_water and not self.asked:
            self.asked = True
            self._report()

    def _result(self, ok: bool) -> None:
        inflight, self.inflight = self.inflight, None
        self._become(ACKNOWLEDGED)
        if ok:
            self.acked += 1
        else:
            self.rejected += 1
            if inflight is not None and self.keep_failed:
                self.staged.appendleft(inflight)  # redelivered first, before what was staged behind it
            elif inflight is not None:
                self._report(returned=(inflight.item,))
                return
        if not self.staged:
            self._report()  # the pool may be waiting for this one (a flush, its counters)

    def _become(self, protocol: str) -> None:
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("%s: %s -> %s", self.name, self.protocol, protocol)
        self.protocol = protocol

    def _garbage(self) -> None:
        self.logger.warning(
            "%s: has entered the UNKNOWN state and will no longer receive events, this usually indicates "
            "the process violated the eventlistener protocol",
            self.name,
        )
        # Supervisor's rule: UNKNOWN is sticky until the process restarts for its own reasons. Restarting it
        # from here would respawn a listener that always says the same wrong thing in a tight loop.
        self._close(UNKNOWN)

    def _reclaim(self) -> None:
        if not self.closed:
            self._close(ACKNOWLEDGED)

    def _close(self, protocol: str) -> None:
        """Send nothing more; give back the event in flight (first) and everything staged."""
        returned = [s.item for s in ([self.inflight] if self.inflight else []) + list(self.staged)]
        self.inflight = None
        self.staged.clear()
        self.buffer.clear()
        self.closed = True
        self.protocol = protocol
        self._report(returned=tuple(returned))

    def _report(self, *, returned: tuple[Any, ...] = (), ready: bool = False) -> None:
        acked, rejected = self.acked, self.rejected
        self.acked = self.rejected = 0
        try:
            self.pool.tell(
                LinkReport(self.name, self, acked, rejected, returned, self.protocol, ready, self.closed)
            )
        except pykka.ActorDeadError:
            pass  # the pool has gone (its group was removed, or shutdown): nobody is waiting for these

    def _flush_log(self) -> None:
        self.log_timer = None
        if self.log:
            data, self.log = bytes(self.log), bytearray()
            self.sink.tell(Chunk(data, self.pid))
