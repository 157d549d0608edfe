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
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event
import gevent.queue

from supervisord import events, faults
from supervisord.actors.messages import GetSnapshot
from supervisord.states import ProcessState

if TYPE_CHECKING:
    from supervisord.control import Control

RING_SIZE = 2048  # messages a reconnecting client can catch up on; further behind gets a snapshot
CLIENT_QUEUE = 1024  # messages queued for one client before it counts as too slow and is dropped
BATCH = 512  # messages sent in one write at most
KEEPALIVE = 15.0  # seconds of silence before a comment line (also how soon a hang-up is noticed)
KINDS = ("PROCESS_STATE_", "PROCESS_GROUP_", "SUPERVISOR_STATE_")


@dataclass(frozen=True, slots=True)  # slots: the ring holds up to RING_SIZE of these
class Message:
    id: int
    kind: str  # the SSE event name: state, group, supervisor, snapshot
    raw: bytes  # the encoded SSE event, made once for every client
    complete: bool = True  # False: a state change relayed while nobody listened, without its info


def message(id: int, kind: str, data: dict[str, Any]) -> Message:
    import json  # here: the daemon loads json only once something is relayed

    body = json.dumps(data, separators=(",", ":"))
    complete = kind != "state" or data.get("info") is not None
    return Message(id, kind, f"id: {id}\nevent: {kind}\ndata: {body}\n\n".encode(), complete)


_WAKE = Message(-1, "", b"")  # queued to a stream that must end now (sent to nobody: its id is below any)


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
        self.refs: dict[tuple[str, str], Any] = {}  # process actors by (group, name)
        self.nudges: set[str] = set()  # kinds to announce (see nudge)
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
            first = len(self.incoming) == 1
        if first:  # the hub takes everything queued when it wakes: one wake-up per batch, not per event
            self._async.send()

    def nudge(self, kind: str) -> None:
        """Any thread: send every client an empty ``kind`` message (e.g. "fleet": the fleet view changed).

        Repeated nudges before the hub relays them are one message: a client learns *that* something
        changed and fetches what it shows, so it is never flooded.
        """
        with self._lock:
            self.nudges.add(kind)
        self._async.send()

    # -- on the hub --

    def close(self) -> None:
        self._worker.kill(block=False)
        self._async.close()
        for client in list(self.clients):
            client.dropped = True
            try:
                client.queue.put_nowait(_WAKE)  # the stream wakes up, sees the flag and ends
            except gevent.queue.Full:
                pass  # it has plenty to send: it sees the flag after that
        self.clients.clear()

    def _run(self) -> None:
        while True:
            self._ready.wait()
            self._ready.clear()
            with self._lock:
                batch, self.incoming = list(self.incoming), collections.deque()
                nudges, self.nudges = self.nudges, set()
            for kind in sorted(nudges):
                self._emit(kind, {})
            try:
                self._relay(batch)
            except Exception:  # a bad batch must not stop the feed
                self.control.daemon.logger.exception("live feed: cannot relay %d events", len(batch))

    def _relay(self, batch: list[events.Event]) -> None:
        """Number and send a batch of events, each state change with its process's info.

        The infos are asked of the process actors all at once, one ask per process however many of its
        events the batch holds: each actor answers after the message that published the event, so the
        info is never older than the event, and a burst of 1,000 changes costs one round of asks.
        """
        if not self.clients:
            self._unheard(batch)
            return
        messages = [self._message(event) for event in batch]
        # Nobody listening: no asks (a start of 1,000 processes must not cost 1,000 more messages); a
        # client that later wants these gets a snapshot instead (see stream).
        wanted = (
            {(d["group"], d["name"]) for kind, d in messages if kind == "state"} if self.clients else set()
        )
        infos = self._infos(wanted) if wanted else {}
        for kind, data in messages:
            if kind == "state":
                data["info"] = infos.get((data["group"], data["name"]))
            elif kind == "group":
                self.refs = {}  # groups changed: find the actors afresh
            self._emit(kind, data)

    def _unheard(self, batch: list[events.Event]) -> None:
        """Relay a batch while nobody listens: numbered and counted, but a state change is not built at all.

        No client is sent it, and no reconnect replays it: a backlog holding a state change without its
        info is answered with a snapshot (see stream). Stopping 200 programs relays 400 state changes on
        the hub that answers the stop.
        """
        for event in batch:
            if not event.name.startswith("PROCESS_STATE_"):
                self._emit(*self._message(event))
                if event.name.startswith("PROCESS_GROUP_"):
                    self.refs = {}
                continue
            if event.name == "PROCESS_STATE_STARTING":
                self._message(event)  # counts the start
            self.last_id += 1
            self.ring.append(Message(self.last_id, "state", b"", complete=False))

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
                "info": None,
            }
            return "state", data
        if event.name.startswith("PROCESS_GROUP_"):
            return "group", {"event": event.name, "group": fields.get("groupname", "")}
        return "supervisor", {"event": event.name}

    def _infos(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Each process's info from its actor; an actor found dead (replaced) is looked up afresh once."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for _ in range(2):
            wanted = keys - out.keys()
            if any(key not in self.refs for key in wanted):
                try:
                    self.refs = {(s.group, s.name): ref for s, ref in self.control.in_order()}
                except faults.Fault:
                    return out
            posted = [
                (key, self.control.post(self.refs[key], GetSnapshot())) for key in wanted if key in self.refs
            ]
            stale = False
            for key, future in posted:
                try:
                    out[key] = self.control.answer(future).info()
                except faults.Fault:
                    self.refs.pop(key, None)
                    stale = True
            if not stale:
                break
        return out

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        self.last_id += 1
        encoded = message(self.last_id, kind, data)
        self.ring.append(encoded)
        for client in list(self.clients):
            try:
                client.queue.put_nowait(encoded)
            except gevent.queue.Full:
                client.dropped = True
                self.clients.discard(client)
                self.dropped += 1

    def snapshot(self) -> Message:
        """Every process's info under the current id: what a client that missed too much starts from."""
        last = self.last_id
        infos = [snap.info() for snap in self.control.snapshots()]
        return message(last, "snapshot", {"processes": infos})

    # -- one SSE client --

    def stream(self, last_seen: int | None, gone: Any) -> Iterator[bytes]:
        """The SSE body: what the client missed (replayed, or a snapshot), then live messages.

        Whatever is queued when the stream wakes up goes out in one write (a burst of changes is one
        send per client, not one per change). ``gone()`` tells whether the client hung up (checked at
        each keep-alive).
        """
        client = _Client()
        self.clients.add(client)
        try:
            yield b"retry: 1000\n\n"
            first = self.ring[0].id if self.ring else self.last_id + 1
            if last_seen is not None and first - 1 <= last_seen <= self.last_id:
                backlog = [m for m in self.ring if m.id > last_seen]
                if not all(m.complete for m in backlog):
                    backlog = []  # relayed while nobody listened: the snapshot below says it all
            else:
                backlog = []
            if not backlog and last_seen != self.last_id:
                try:
                    backlog = [self.snapshot()]
                except faults.Fault:
                    return  # the daemon is stopping
            sent = max((m.id for m in backlog), default=last_seen or 0)
            if backlog:
                yield b"".join(m.raw for m in backlog)
            while not client.dropped:
                try:
                    queued = [client.queue.get(timeout=KEEPALIVE)]
                except gevent.queue.Empty:
                    if gone():
                        return
                    yield b": keep-alive\n\n"
                    continue
                while not client.queue.empty() and len(queued) < BATCH:
                    queued.append(client.queue.get_nowait())
                fresh = [m for m in queued if m.id > sent]
                if fresh:
                    sent = fresh[-1].id
                    yield b"".join(m.raw for m in fresh)
        finally:
            self.clients.discard(client)
