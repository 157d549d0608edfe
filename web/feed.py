"""The live feed: the bus's state events, numbered, kept in a bounded ring and fanned out to SSE clients.

The bus calls :meth:`EventFeed.offer` in its own thread for every event; the feed keeps only the state
events (process, group, supervisor), hands them to the hub through an async watcher (gevent objects must not
be touched from another thread) and a greenlet there turns each into a message with an id. A process state
message carries the process's info struct, read from the process actor itself after the event (so it is
never older than the event). Each SSE client has a bounded queue: one that falls behind is dropped (its
stream ends, the browser reconnects with ``Last-Event-ID``) and never holds up the bus or other clients.

The feed also counts starts per process, for the metrics' restart counter.
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event
import gevent.queue

from supervisord import events, faults
from supervisord.states import ProcessState

if TYPE_CHECKING:
    from supervisord.control import Control

RING_SIZE = 2048  # messages a reconnecting client can catch up on; further behind gets a snapshot
CLIENT_QUEUE = 1024  # messages queued for one client before it counts as too slow and is dropped
KEEPALIVE = 15.0  # seconds of silence before a comment line (also how soon a hang-up is noticed)
KINDS = ("PROCESS_STATE_", "PROCESS_GROUP_", "SUPERVISOR_STATE_")


@dataclass(frozen=True)
class Message:
    id: int
    kind: str  # the SSE event name: state, group, supervisor, snapshot
    data: dict[str, Any]

    def encode(self) -> bytes:
        body = json.dumps(self.data, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.kind}\ndata: {body}\n\n".encode()


class _Client:
    def __init__(self) -> None:
        self.queue: gevent.queue.Queue[Message] = gevent.queue.Queue(CLIENT_QUEUE)
        self.dropped = False


def parse_payload(payload: str) -> dict[str, str]:
    """``processname:x groupname:g from_state:STOPPED pid:3`` → a dict (the first line only)."""
    fields = {}
    for token in payload.split("\n", 1)[0].split():
        key, sep, value = token.partition(":")
        if sep:
            fields[key] = value
    return fields


class EventFeed:
    """One per daemon run; created on the hub thread."""

    def __init__(self, control: Control) -> None:
        self.control = control
        self.incoming: collections.deque[events.Event] = collections.deque()
        self.ring: collections.deque[Message] = collections.deque(maxlen=RING_SIZE)
        self.last_id = 0
        self.clients: set[_Client] = set()
        self.starts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.dropped = 0  # clients dropped for being too slow (tests and metrics)
        self._lock = threading.Lock()
        self._ready = gevent.event.Event()
        self._async = gevent.get_hub().loop.async_()
        self._async.ref = False  # the servers keep the hub alive; this must not keep it from stopping
        self._async.start(self._ready.set)
        self._worker = gevent.spawn(self._run)

    # -- in the bus's thread --

    def offer(self, event: events.Event) -> None:
        if not event.name.startswith(KINDS):
            return
        with self._lock:
            self.incoming.append(event)
        self._async.send()

    # -- on the hub --

    def close(self) -> None:
        self._worker.kill(block=False)
        self._async.close()
        for client in list(self.clients):
            client.dropped = True  # each stream notices at its next wake-up and ends
        self.clients.clear()

    def _run(self) -> None:
        while True:
            self._ready.wait()
            self._ready.clear()
            while True:
                with self._lock:
                    if not self.incoming:
                        break
                    event = self.incoming.popleft()
                try:
                    self._emit(*self._message(event))
                except Exception:  # one bad event must not stop the feed
                    self.control.daemon.logger.exception("live feed: cannot relay %s", event.name)

    def _message(self, event: events.Event) -> tuple[str, dict[str, Any]]:
        fields = parse_payload(event.payload)
        if event.name.startswith("PROCESS_STATE_"):
            statename = event.name[len("PROCESS_STATE_") :]
            name, group = fields.get("processname", ""), fields.get("groupname", "")
            if statename == "STARTING":
                self.starts[(group, name)] += 1
            data: dict[str, Any] = {
                "event": event.name,
                "name": name,
                "group": group,
                "statename": statename,
                "state": int(ProcessState[statename]),
                "from_state": fields.get("from_state", ""),
                "info": self._info(group, name),
            }
            return "state", data
        if event.name.startswith("PROCESS_GROUP_"):
            return "group", {"event": event.name, "group": fields.get("groupname", "")}
        return "supervisor", {"event": event.name}

    def _info(self, group: str, name: str) -> dict[str, Any] | None:
        try:
            return self.control.process(f"{group}:{name}").info()
        except faults.Fault:
            return None

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        self.last_id += 1
        message = Message(self.last_id, kind, data)
        self.ring.append(message)
        for client in list(self.clients):
            try:
                client.queue.put_nowait(message)
            except gevent.queue.Full:
                client.dropped = True
                self.clients.discard(client)
                self.dropped += 1

    def snapshot(self) -> Message:
        """Every process's info under the current id: what a client that missed too much starts from."""
        last = self.last_id
        infos = [snap.info() for snap in self.control.snapshots()]
        return Message(last, "snapshot", {"processes": infos})

    # -- one SSE client --

    def stream(self, last_seen: int | None, gone: Any) -> Iterator[bytes]:
        """The SSE body: what the client missed (replayed, or a snapshot), then live messages.

        ``gone()`` tells whether the client hung up (checked at each keep-alive).
        """
        client = _Client()
        self.clients.add(client)
        try:
            yield b"retry: 1000\n\n"
            sent = 0
            first = self.ring[0].id if self.ring else self.last_id + 1
            if last_seen is not None and first - 1 <= last_seen <= self.last_id:
                backlog = [m for m in self.ring if m.id > last_seen]
            else:
                try:
                    backlog = [self.snapshot()]
                except faults.Fault:
                    return  # the daemon is stopping
            for message in backlog:
                sent = max(sent, message.id)
                yield message.encode()
            while not client.dropped:
                try:
                    message = client.queue.get(timeout=KEEPALIVE)
                except gevent.queue.Empty:
                    if gone():
                        return
                    yield b": keep-alive\n\n"
                    continue
                if message.id > sent:
                    sent = message.id
                    yield message.encode()
        finally:
            self.clients.discard(client)
