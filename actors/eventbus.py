"""The event bus: the one broker between everything that emits events and the listener pools.

Publishers (process actors, log sinks, the supervisor actor, the RPC layer) ``tell`` it events; it numbers
each event with the global serial the first time a pool accepts it (Supervisor's rule) and hands it to every
pool whose ``events=`` subscription matches. TICK events are generated here, on an I/O-loop timer that is
armed only while some pool wants ticks: an idle daemon with no tick listener never wakes up.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from supervisord import events, eventtypes
from supervisord.actors.messages import ProcessCommunicationEvent, ProcessLogEvent
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.hubsafe import HubSafeActor
from supervisord.runtime.ioloop import Timer

TICK_PERIODS = (5, 60, 3600)


@dataclass(frozen=True)
class Subscribe:
    pool: Any  # the ListenerPoolActor's ref
    types: tuple[str, ...]


@dataclass(frozen=True)
class Unsubscribe:
    pool: Any


@dataclass(frozen=True)
class Watch:
    """Call ``callback(event)`` (in the bus's thread: it must only hand over) for every event published.

    Watchers (the web's live feed) see events without taking part in Supervisor's serial numbering.
    """

    callback: Any


@dataclass(frozen=True)
class Deliver:
    """To a pool: an event it subscribed to, with its global serial."""

    event: events.Event
    serial: int


@dataclass(frozen=True)
class Publish:
    """Several events, in order (a multicall of ``sendRemoteCommEvent``): one message, not one each."""

    events: tuple[events.Event, ...]


@dataclass(frozen=True)
class DeliverMany:
    """To a pool: several events it subscribed to, in order, as ``(event, serial)`` pairs."""

    items: tuple[tuple[events.Event, int], ...]


@dataclass(frozen=True)
class Flush:
    """Forwarded to ``pools`` behind every event published before it; each answers ``PoolDrained``."""

    pools: tuple[Any, ...]
    reply_to: Any
    token: int


@dataclass(frozen=True)
class PoolDrained:
    """To the supervisor: ``pool`` has no event queued or in flight (``pool`` empty: the wait timed out)."""

    pool: str
    token: int


@dataclass(frozen=True)
class _TickDue:
    token: int


def to_event(message: Any) -> events.Event | None:
    """Accept the events other actors send in their own message types."""
    if isinstance(message, events.Event):
        return message
    if isinstance(message, ProcessLogEvent):
        return events.process_log(message.name, message.group, message.pid, message.channel, message.data)
    if isinstance(message, ProcessCommunicationEvent):
        return events.process_communication(
            message.name, message.group, message.pid, message.channel, message.data
        )
    return None


class EventBusActor(HubSafeActor):
    def __init__(self, ctx: RuntimeContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.subscriptions: list[Subscribe] = []
        self.serial = -1
        self.published = 0  # every event offered, delivered or not (for metrics and tests)
        self.watchers: list[Any] = []
        self.tick_timer: Timer | None = None
        self.tick_token = 0
        self.tick_slices: dict[int, int] = {}

    def on_stop(self) -> None:
        if self.tick_timer is not None:
            self.tick_timer.cancel()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Subscribe):
            self.subscriptions = [s for s in self.subscriptions if s.pool != message.pool]
            self.subscriptions.append(message)
            self._arm_ticks()
            return None
        if isinstance(message, Unsubscribe):
            self.subscriptions = [s for s in self.subscriptions if s.pool != message.pool]
            return None
        if isinstance(message, Watch):
            self.watchers.append(message.callback)
            return None
        if isinstance(message, Flush):
            for pool in message.pools:
                pool.tell(message)
            return None
        if isinstance(message, Publish):
            self._publish_many(message.events)
            return None
        if isinstance(message, _TickDue):
            if message.token == self.tick_token:
                self._emit_ticks()
            return None
        event = to_event(message)
        if event is not None:
            self._publish(event)
        return None

    def _publish(self, event: events.Event) -> None:
        targets = self._number(event)
        if targets:
            deliver = Deliver(event, self.serial)
            for pool in targets:
                pool.tell(deliver)

    def _publish_many(self, batch: tuple[events.Event, ...]) -> None:
        """Each event numbered as if published alone; each pool gets its share in one message."""
        shares: dict[Any, list[tuple[events.Event, int]]] = {}
        for event in batch:
            for pool in self._number(event):
                shares.setdefault(pool, []).append((event, self.serial))
        for pool, items in shares.items():
            pool.tell(DeliverMany(tuple(items)))

    def _number(self, event: events.Event) -> list[Any]:
        """Show ``event`` to the watchers; the pools subscribed to it, after taking the next serial for it."""
        self.published += 1
        for watch in self.watchers:
            watch(event)
        targets = [
            s.pool for s in self.subscriptions if any(eventtypes.matches(t, event.name) for t in s.types)
        ]
        if targets:
            self.serial = self.serial + 1 if self.serial < sys.maxsize else 0
        return targets

    # -- ticks --

    def _wants_ticks(self) -> bool:
        return any(
            eventtypes.matches(t, f"TICK_{p}")
            for s in self.subscriptions
            for t in s.types
            for p in TICK_PERIODS
        )

    def _arm_ticks(self) -> None:
        if self.tick_timer is not None or not self._wants_ticks():
            return
        now = time.time()
        if not self.tick_slices:
            self.tick_slices = {p: int(now - now % p) for p in TICK_PERIODS}
        self.tick_token += 1
        token, ref = self.tick_token, self.actor_ref
        delay = 5 - (now % 5) + 0.001
        self.tick_timer = self.ctx.ioloop.call_at(time.monotonic() + delay, lambda: ref.tell(_TickDue(token)))

    def _emit_ticks(self) -> None:
        self.tick_timer = None
        now = time.time()
        for period in TICK_PERIODS:
            current = int(now - now % period)
            if current != self.tick_slices.get(period):
                self.tick_slices[period] = current
                self._publish(events.tick(period, current))
        self._arm_ticks()
