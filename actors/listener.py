"""An event listener pool: ``[eventlistener:x]``'s buffer, and which listener gets which event.

The listener processes themselves are ordinary :class:`ProcessActor`s (spawned, backed off and stopped like
any program); their state changes are routed here. Protocol 3.0 itself (READY, the envelope, RESULT) runs
on the I/O-loop thread, in each spawn's :class:`~supervisord.actors.listenerlink.ListenerLink`, where the
listener's bytes arrive: this actor keeps the pool's FIFO of events and the decisions. It *stages* events
at a link (a pool of one listener gets up to ``prefetch`` envelopes ahead, so the link can answer each
``READY`` at once; a pool of several hands out one event at a time, to a listener that said READY), counts
what the links report, takes back what a dead listener had not acknowledged (in order, at the head) and
drops the oldest event on overflow of ``buffer_size``, saying so in the log and counting it for
``/metrics``. Events staged at a link count against ``buffer_size``; the one in flight does not (as in
Supervisor, whose buffer never holds the event a listener is working on).
"""

from __future__ import annotations

import collections
import itertools
import sys
from dataclasses import dataclass
from typing import Any

from supervisord import events
from supervisord.actors.eventbus import Deliver, DeliverMany, Flush, PoolDrained
from supervisord.actors.listenerlink import ACKNOWLEDGED, UNKNOWN, LinkReport, ListenerLink, Staged
from supervisord.actors.messages import ListenerAttached, ListenerState, ListenerStdin
from supervisord.config.model import GroupConfig
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.hubsafe import HubSafeActor
from supervisord.states import STOPPED_STATES, ProcessState

PREFETCH = 32  # envelopes staged ahead at a pool's only listener (at most half its buffer_size)


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
    protocol: str = ACKNOWLEDGED  # as its link last reported it
    ready: bool = False  # its link said READY with nothing staged (pools of several take one at a time)
    link: ListenerLink | None = None  # this spawn's protocol end, on the I/O loop


class ListenerPoolActor(HubSafeActor):
    # A listener's reports and state changes overtake queued deliveries: under a flood of events they are
    # what frees the next listener, so they must never wait behind the flood.
    urgent = (LinkReport, ListenerState, ListenerStdin)

    def __init__(self, group: GroupConfig, ctx: RuntimeContext) -> None:
        super().__init__()
        assert group.pool is not None
        self.name = group.name
        self.buffer_size = group.pool.buffer_size
        self.ctx = ctx
        self.queue: collections.deque[_Queued] = collections.deque()
        self.listeners: dict[str, _Listener] = {p.name: _Listener(p.name) for p in group.processes}
        # Prefetch only for a pool of one: with several, an event staged behind a busy listener would wait
        # while another is free, and a FAIL goes back to the pool for the next READY listener.
        self.prefetch = min(PREFETCH, self.buffer_size // 2) if len(self.listeners) == 1 else 0
        self.outstanding: dict[ListenerLink, int] = {}  # events staged at each link, not yet reported back
        self.poolserials = itertools.count()
        self.delivered = 0
        self.dropped = 0
        self.rejected = 0
        ctx.event_drops.setdefault(self.name, 0)
        self.flushes: list[Flush] = []  # shutdown is waiting for these to be answered once drained

    def on_receive(self, message: Any) -> Any:
        reply = self._handle(message)
        if self.flushes and self._drained():
            flushes, self.flushes = self.flushes, []
            for flush in flushes:
                flush.reply_to.tell(PoolDrained(self.name, flush.token))
        return reply

    def _drained(self) -> bool:
        """Nothing left that a live listener could still take (events at a link may yet come back)."""
        alive = any(lst.process_state is ProcessState.RUNNING for lst in self.listeners.values())
        return not alive or not (self.queue or any(self.outstanding.values()))

    def _handle(self, message: Any) -> Any:
        if isinstance(message, Deliver):
            self._accept(message.event, message.serial)
            self._dispatch()
        elif isinstance(message, DeliverMany):  # staged at once: one message to the link, not one each
            for event, serial in message.items:
                self._accept(event, serial)
            self._dispatch()
        elif isinstance(message, LinkReport):
            self._on_report(message)
        elif isinstance(message, ListenerState):
            self._on_state(message.name, message.state)
        elif isinstance(message, ListenerStdin):
            listener = self.listeners.setdefault(message.name, _Listener(message.name))
            if listener.link is not None and listener.link is not message.link:
                listener.link.reclaim()
            listener.link = message.link
            listener.ready = False
        elif isinstance(message, ListenerAttached):
            self.listeners.setdefault(message.name, _Listener(message.name)).ref = message.ref
        elif isinstance(message, Flush):
            self.flushes.append(message)
        elif isinstance(message, GetPoolStats):
            return {
                "queued": len(self.queue),
                "staged": sum(self.outstanding.values()),
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
        held = sum(n - 1 for n in self.outstanding.values() if n > 1)  # staged, not in flight
        while self.queue and len(self.queue) + held >= self.buffer_size:
            dropped = self.queue.popleft()
            self.dropped += 1
            self.ctx.event_drops[self.name] += 1  # per pool name: it keeps counting if the pool is replaced
            self.ctx.logger.error(
                "pool %s event buffer overflowed, discarding event %d", self.name, dropped.serial
            )
        self.queue.append(_Queued(event, serial, poolserial))

    def _give_back(self, items: tuple[_Queued, ...]) -> None:
        """Events a link did not get acknowledged: back into the queue where they were, by poolserial.

        Usually they are older than everything queued (at the head); the merge covers envelopes that were
        on their way to a link that had just closed, and come back after the ones it closed with.
        """
        if self.queue and self.queue[0].poolserial < items[-1].poolserial:
            self.queue = collections.deque(sorted([*items, *self.queue], key=lambda q: q.poolserial))
        else:
            self.queue.extendleft(reversed(items))

    def _dispatch(self) -> None:
        for listener in self.listeners.values():
            if not self.queue:
                return
            link = listener.link
            if (
                link is None
                or listener.protocol == UNKNOWN
                or listener.process_state is not ProcessState.RUNNING
                or listener.ref is None
            ):
                continue
            held = self.outstanding.get(link, 0)
            if any(n for k, n in self.outstanding.items() if k is not link and k.name == listener.name):
                continue  # an earlier spawn is still giving its events back: they go first
            if self.prefetch:
                if held > self.prefetch // 2 + 1:
                    continue  # it has plenty (it asks at low water)
                room = 1 + self.prefetch - held
            else:
                room = 1 if listener.ready and not held else 0
            if room <= 0:
                continue
            batch = []
            identifier = self.ctx.settings.identifier
            for _ in range(min(room, len(self.queue))):
                item = self.queue.popleft()
                data = events.envelope(
                    item.event,
                    identifier=identifier,
                    serial=item.serial,
                    pool=self.name,
                    poolserial=item.poolserial,
                )
                batch.append(Staged(item, item.serial, data))
            listener.ready = False
            self.outstanding[link] = held + len(batch)
            link.stage(batch, self.prefetch)

    def on_stop(self) -> None:
        for listener in self.listeners.values():
            if listener.link is not None:
                listener.link.reclaim()  # it must not write to a listener after its pool has gone
                listener.link = None

    # -- what the links say --

    def _on_report(self, report: LinkReport) -> None:
        left = self.outstanding.get(report.link, 0) - report.acked - len(report.returned)
        listener = self.listeners.get(report.name)
        current = listener is not None and listener.link is report.link
        if left > 0 or (current and not report.closed):
            self.outstanding[report.link] = left
        else:
            self.outstanding.pop(report.link, None)
        self.delivered += report.acked
        self.rejected += report.rejected
        if report.returned:
            self._give_back(report.returned)
        if listener is not None and current:
            listener.protocol = report.protocol
            listener.ready = report.ready
            if report.closed:
                listener.link = None
        self._dispatch()

    def _on_state(self, name: str, state: ProcessState) -> None:
        listener = self.listeners.setdefault(name, _Listener(name))
        listener.process_state = state
        if state is ProcessState.STARTING:
            listener.protocol = ACKNOWLEDGED
        elif state in STOPPED_STATES or state is ProcessState.BACKOFF:
            if listener.link is not None:  # died or stopped while BUSY: its events go back to the queue
                listener.link.reclaim()
                listener.link = None
            listener.protocol = ACKNOWLEDGED
            listener.ready = False
        self._dispatch()
