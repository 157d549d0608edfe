"""An event listener pool: ``[eventlistener:x]``'s buffer, and protocol 3.0 with each listener process.

The listener processes themselves are ordinary :class:`ProcessActor`s (spawned, backed off and stopped like
any program); their stdout is the protocol channel and is routed here, and so are their state changes. This
actor keeps the pool's FIFO of events, one protocol state per listener (ACKNOWLEDGED → READY → BUSY →
ACKNOWLEDGED, or UNKNOWN on garbage until the process restarts), hands each event to exactly one READY and
RUNNING listener, and puts an event back at the head of the queue when its listener answers FAIL or dies
while BUSY: nothing is lost but by overflow of ``buffer_size``, which drops the oldest and says so in the log.
"""

from __future__ import annotations

import collections
import itertools
import sys
from dataclasses import dataclass, field
from typing import Any

from supervisord import events
from supervisord.actors.eventbus import Deliver, Flush, PoolDrained
from supervisord.actors.messages import (
    ListenerAttached,
    ListenerOutput,
    ListenerState,
    ListenerStdin,
    WriteStdin,
)
from supervisord.config.model import GroupConfig
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.hubsafe import HubSafeActor
from supervisord.runtime.outlet import Outlet
from supervisord.states import STOPPED_STATES, ProcessState

READY_TOKEN = b"READY\n"
RESULT_PREFIX_LEN = len("RESULT ")

ACKNOWLEDGED, READY, BUSY, UNKNOWN = "ACKNOWLEDGED", "READY", "BUSY", "UNKNOWN"


@dataclass(frozen=True)
class GetPoolStats:
    """Reply: a dict with the pool's counters (for metrics and tests)."""


@dataclass
class _Queued:
    event: events.Event
    serial: int
    poolserial: int


@dataclass
class _Listener:
    name: str
    ref: Any = None
    process_state: ProcessState = ProcessState.STOPPED
    protocol: str = ACKNOWLEDGED
    buffer: bytearray = field(default_factory=bytearray)
    current: _Queued | None = None
    stdin: Outlet | None = None  # the listener's stdin: its process actor's outlet (which closes it)

    def close_stdin(self) -> None:
        self.stdin = None  # forget it: its owner closes it when the listener exits


class ListenerPoolActor(HubSafeActor):
    # A listener's answers and state changes overtake queued deliveries: under a flood of events they are
    # what frees the next listener, so they must never wait behind the flood.
    urgent = (ListenerOutput, ListenerState, ListenerStdin)

    def __init__(self, group: GroupConfig, ctx: RuntimeContext) -> None:
        super().__init__()
        assert group.pool is not None
        self.name = group.name
        self.buffer_size = group.pool.buffer_size
        self.ctx = ctx
        self.queue: collections.deque[_Queued] = collections.deque()
        self.listeners: dict[str, _Listener] = {p.name: _Listener(p.name) for p in group.processes}
        self.poolserials = itertools.count()
        self.delivered = 0
        self.dropped = 0
        self.rejected = 0
        self.flushes: list[Flush] = []  # shutdown is waiting for these to be answered once drained

    def on_receive(self, message: Any) -> Any:
        reply = self._handle(message)
        if self.flushes and self._drained():
            flushes, self.flushes = self.flushes, []
            for flush in flushes:
                flush.reply_to.tell(PoolDrained(self.name, flush.token))
        return reply

    def _drained(self) -> bool:
        """Nothing left that a live listener could still take."""
        if any(
            lst.protocol == BUSY and lst.process_state is ProcessState.RUNNING
            for lst in self.listeners.values()
        ):
            return False
        alive = any(lst.process_state is ProcessState.RUNNING for lst in self.listeners.values())
        return not (self.queue and alive)

    def _handle(self, message: Any) -> Any:
        if isinstance(message, Deliver):
            self._accept(message.event, message.serial)
        elif isinstance(message, ListenerOutput):
            listener = self.listeners.get(message.name)
            if listener is not None:
                listener.buffer += message.data
                self._parse(listener)
        elif isinstance(message, ListenerState):
            self._on_state(message.name, message.state)
        elif isinstance(message, ListenerStdin):
            listener = self.listeners.setdefault(message.name, _Listener(message.name))
            listener.stdin = message.outlet
        elif isinstance(message, ListenerAttached):
            self.listeners.setdefault(message.name, _Listener(message.name)).ref = message.ref
        elif isinstance(message, Flush):
            self.flushes.append(message)
        elif isinstance(message, GetPoolStats):
            return {
                "queued": len(self.queue),
                "delivered": self.delivered,
                "dropped": self.dropped,
                "rejected": self.rejected,
                "listeners": {n: lst.protocol for n, lst in self.listeners.items()},
            }
        return None

    # -- the buffer --

    def _accept(self, event: events.Event, serial: int) -> None:
        poolserial = next(self.poolserials)
        if poolserial >= sys.maxsize:
            self.poolserials = itertools.count()
        self._enqueue(_Queued(event, serial, poolserial), head=False)
        self._dispatch()

    def _enqueue(self, item: _Queued, *, head: bool) -> None:
        if len(self.queue) >= self.buffer_size:
            dropped = self.queue.popleft()
            self.dropped += 1
            self.ctx.logger.error(
                "pool %s event buffer overflowed, discarding event %d", self.name, dropped.serial
            )
        if head:
            self.queue.appendleft(item)
        else:
            self.queue.append(item)

    @staticmethod
    def _can_take(listener: _Listener) -> bool:
        return (
            listener.protocol == READY
            and listener.process_state is ProcessState.RUNNING
            and listener.ref is not None
        )

    def _dispatch(self) -> None:
        while self.queue:
            listener = next((lst for lst in self.listeners.values() if self._can_take(lst)), None)
            if listener is None:
                return
            item = self.queue.popleft()
            listener.protocol = BUSY
            listener.current = item
            data = events.envelope(
                item.event,
                identifier=self.ctx.settings.identifier,
                serial=item.serial,
                pool=self.name,
                poolserial=item.poolserial,
            )
            self.ctx.logger.debug("event %d sent to listener %s", item.serial, listener.name)
            self._send(listener, data)

    def _send(self, listener: _Listener, data: bytes) -> None:
        """Hand one envelope to the listener's stdin outlet: never blocks, even if it stopped reading."""
        if listener.stdin is None:
            listener.ref.tell(WriteStdin(data))
            return
        try:
            taken = listener.stdin.write(data)
        except OSError:  # it died under us: its state change will put the event back in the queue
            listener.close_stdin()
            return
        if not taken:  # it answered events it never read (only one is ever in flight): not the protocol
            self.ctx.logger.error("%s: stdin is full, it is not reading its events", listener.name)
            self._requeue(listener)
            self._garbage(listener)

    def on_stop(self) -> None:
        for listener in self.listeners.values():
            listener.close_stdin()

    # -- the protocol --

    def _parse(self, listener: _Listener) -> None:
        buf = listener.buffer
        while buf:
            if listener.protocol == UNKNOWN:
                buf.clear()
            elif listener.protocol == ACKNOWLEDGED:
                if len(buf) < len(READY_TOKEN):
                    return
                if buf.startswith(READY_TOKEN):
                    del buf[: len(READY_TOKEN)]
                    self._become(listener, READY)
                    self._dispatch()
                else:
                    self._garbage(listener)
            elif listener.protocol == READY:
                self._garbage(listener)
            elif listener.protocol == BUSY:
                end = buf.find(b"\n")
                if end < 0:
                    return
                line = bytes(buf[:end])
                try:
                    length = int(line[RESULT_PREFIX_LEN:])
                except ValueError:
                    self.ctx.logger.error(
                        "%s: bad result line: %r", listener.name, line.decode("utf-8", "replace")
                    )
                    self._requeue(listener)
                    self._garbage(listener)
                    continue
                if len(buf) < end + 1 + length:
                    return
                result = bytes(buf[end + 1 : end + 1 + length])
                del buf[: end + 1 + length]
                if result == b"OK":
                    self.delivered += 1
                    listener.current = None
                else:
                    self.rejected += 1
                    self._requeue(listener)
                self._become(listener, ACKNOWLEDGED)

    def _become(self, listener: _Listener, protocol: str) -> None:
        self.ctx.logger.debug("%s: %s -> %s", listener.name, listener.protocol, protocol)
        listener.protocol = protocol

    def _garbage(self, listener: _Listener) -> None:
        listener.buffer.clear()
        listener.protocol = UNKNOWN
        self.ctx.logger.warning(
            "%s: has entered the UNKNOWN state and will no longer receive events, this usually indicates "
            "the process violated the eventlistener protocol",
            listener.name,
        )
        # Supervisor's rule: UNKNOWN is sticky until the process restarts for its own reasons (it exits, or
        # someone restarts it). Restarting it from here would respawn a listener that always says the same
        # wrong thing in a tight loop, with no backoff, since each spawn reached RUNNING.

    def _requeue(self, listener: _Listener) -> None:
        item, listener.current = listener.current, None
        if item is not None:
            self._enqueue(item, head=True)

    def _on_state(self, name: str, state: ProcessState) -> None:
        listener = self.listeners.setdefault(name, _Listener(name))
        listener.process_state = state
        if state is ProcessState.STARTING:
            listener.protocol = ACKNOWLEDGED
            listener.buffer.clear()
        elif state in STOPPED_STATES or state is ProcessState.BACKOFF:
            self._requeue(listener)  # died or stopped while BUSY: the event goes to someone else
            listener.protocol = ACKNOWLEDGED
            listener.close_stdin()
        self._dispatch()
