"""The pooled actor runtime's invariants, tested in-process and deterministically.

Each test runs on its own :class:`Dispatcher` (installed as the process-wide one for the test) with as many
workers as the invariant needs; interleavings are forced with events and a "gate" message that holds an
actor (and so a worker) until the test lets it go, never with sleeps. Every wait has a deadline, so a
broken invariant fails the test instead of hanging it, and no assertion is about how long anything took.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest
from pykka._envelope import Envelope

from supervisord.runtime import pooled
from supervisord.runtime.hubsafe import HubSafeActor, HubSafeFuture
from supervisord.runtime.pooled import BATCH, Dispatcher, PooledActor

DEADLINE = 10.0  # seconds: only ever reached when an invariant is broken


class CountingQueue(queue.SimpleQueue[Any]):
    """The dispatcher's shared queue, counting puts (a put is a hand-over that may wake another worker)."""

    def __init__(self) -> None:
        self.puts = 0

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self.puts += 1
        super().put(item, block, timeout)


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], Dispatcher]]:
    """``pool(n)``: a fresh n-worker dispatcher serving every actor started in the test."""
    made: list[Dispatcher] = []

    def make(workers: int) -> Dispatcher:
        d = Dispatcher(0)
        d._runnable = CountingQueue()
        d._threads = [
            threading.Thread(target=d._work, name=f"test-worker-{n}", daemon=True) for n in range(workers)
        ]
        for thread in d._threads:
            thread.start()
        monkeypatch.setattr(pooled, "_dispatcher", d)
        made.append(d)
        return d

    yield make
    pykka.ActorRegistry.stop_all(block=True, timeout=DEADLINE)
    for d in made:
        for _ in d._threads:
            d._runnable.put(None)
        for thread in d._threads:
            thread.join(DEADLINE)


class Gated(PooledActor):
    """Holds its worker on ("hold", entered, release) until released; records everything else it handles."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, tuple) and message[0] == "hold":
            message[1].set()
            message[2].wait(DEADLINE)
            return None
        if message == "seen":
            return list(self.seen)
        self.seen.append(message)
        return None


def hold(actor: pykka.ActorRef[Any]) -> threading.Event:
    """Make ``actor`` busy in a handler until the returned event is set (the actor holds a worker)."""
    entered, release = threading.Event(), threading.Event()
    actor.tell(("hold", entered, release))
    assert entered.wait(DEADLINE)
    return release


# -- per-sender order --


class Sender(PooledActor):
    """Tells a sink its numbered messages from inside a handler (the run-next slot's path)."""

    def __init__(self, sink: pykka.ActorRef[Any], name: str, count: int) -> None:
        super().__init__()
        self.sink, self.name, self.count = sink, name, count

    def on_receive(self, message: Any) -> Any:
        for seq in range(self.count):
            self.sink.tell((self.name, seq))
        return None


def test_messages_from_one_sender_are_handled_in_the_order_sent(pool: Callable[[int], Dispatcher]) -> None:
    pool(4)
    sink = Gated.start()
    count = 400
    senders = [Sender.start(sink, f"actor-{n}", count) for n in range(3)]
    told = [s.ask("go", block=False) for s in senders]

    def from_thread(name: str) -> None:
        for seq in range(count):
            if seq % 7 == 0:
                sink.ask((name, seq), timeout=DEADLINE)  # asks and tells share the one order
            else:
                sink.tell((name, seq))

    threads = [threading.Thread(target=from_thread, args=(f"thread-{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    for f in told:
        f.get(timeout=DEADLINE)
    seen = sink.ask("seen", timeout=DEADLINE)
    by_sender: dict[str, list[int]] = {}
    for name, seq in seen:
        by_sender.setdefault(name, []).append(seq)
    assert len(by_sender) == 7
    for name, seqs in by_sender.items():
        assert seqs == list(range(count)), name


# -- one actor, one worker at a time --


class Exclusive(PooledActor):
    """Fails a test if two workers are ever inside its handler at once."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = threading.Lock()
        self.overlaps = 0
        self.handled = 0
        self.workers: set[int] = set()

    def on_receive(self, message: Any) -> Any:
        if not self.inside.acquire(blocking=False):
            self.overlaps += 1
            return None
        try:
            if message == "report":
                return (self.handled, self.overlaps, len(self.workers))
            self.workers.add(threading.get_ident())
            self.handled += 1
            for _ in range(3):
                os.sched_yield()  # give the GIL away inside the handler, as real work does
            return None
        finally:
            self.inside.release()


def test_an_actor_never_runs_on_two_workers_at_once(pool: Callable[[int], Dispatcher]) -> None:
    pool(4)
    actors = [Exclusive.start() for _ in range(6)]
    per_thread = 300

    def flood() -> None:
        for n in range(per_thread):
            for a in actors:
                if n % 50 == 0:
                    a.ask("work", timeout=DEADLINE)
                else:
                    a.tell("work")

    threads = [threading.Thread(target=flood) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    reports = [a.ask("report", timeout=DEADLINE) for a in actors]
    for handled, overlaps, _ in reports:
        assert (handled, overlaps) == (8 * per_thread, 0)


# -- replies after a stop --


def test_asks_queued_behind_a_stop_fail_with_actor_dead_error(pool: Callable[[int], Dispatcher]) -> None:
    pool(2)
    ref = Gated.start()
    release = hold(ref)
    before = ref.ask("before", block=False)
    stopped = ref.stop(block=False)
    after = ref.ask("after", block=False)  # still alive when asked: the stop is only queued
    release.set()
    assert before.get(timeout=DEADLINE) is None
    assert stopped.get(timeout=DEADLINE) is True
    with pytest.raises(pykka.ActorDeadError):
        after.get(timeout=DEADLINE)
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("later", timeout=DEADLINE)
    with pytest.raises(pykka.ActorDeadError):
        ref.tell("later")


def test_an_ask_that_lands_after_the_teardown_fails_instead_of_hanging(
    pool: Callable[[int], Dispatcher],
) -> None:
    """An asker that checked ``is_alive()`` just before the stop puts its message after the inbox drained."""
    pool(2)
    ref = Gated.start()
    assert ref.stop(timeout=DEADLINE) is True
    late: pykka.Future[Any] = pykka.ThreadingFuture()
    ref.actor_inbox.put(Envelope("late", reply_to=late))
    with pytest.raises(pykka.ActorDeadError):
        late.get(timeout=DEADLINE)


# -- urgent messages --


class Urgent:
    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Urgent) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


class WithUrgent(Gated):
    urgent = (Urgent,)


def test_urgent_messages_are_served_before_those_already_queued(pool: Callable[[int], Dispatcher]) -> None:
    pool(2)
    ref = WithUrgent.start()
    release = hold(ref)
    for message in ("a", "b", Urgent("u1"), "c", Urgent("u2")):
        ref.tell(message)
    release.set()
    assert ref.ask("seen", timeout=DEADLINE) == [Urgent("u1"), Urgent("u2"), "a", "b", "c"]


# -- failures --


class Failing(PooledActor):
    def __init__(self, failed: list[tuple[Any, ...]], done: threading.Event) -> None:
        super().__init__()
        self.failed, self.done = failed, done

    def on_receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        return message

    def on_failure(self, *exc_info: Any) -> None:
        self.failed.append(exc_info)
        self.done.set()


def test_a_failing_ask_answers_the_asker_and_the_actor_lives_on(pool: Callable[[int], Dispatcher]) -> None:
    pool(2)
    failed: list[tuple[Any, ...]] = []
    ref = Failing.start(failed, threading.Event())
    with pytest.raises(ValueError, match="boom"):
        ref.ask("boom", timeout=DEADLINE)
    assert ref.ask("still here", timeout=DEADLINE) == "still here"
    assert failed == []


def test_a_failing_tell_calls_on_failure_and_stops_the_actor(pool: Callable[[int], Dispatcher]) -> None:
    pool(2)
    failed: list[tuple[Any, ...]] = []
    done = threading.Event()
    ref = Failing.start(failed, done)
    ref.tell("boom")
    queued = ref.ask("queued behind the failure", block=False)
    assert done.wait(DEADLINE)
    [(exc_type, exc_value, _)] = failed
    assert exc_type is ValueError and str(exc_value) == "boom"
    with pytest.raises(pykka.ActorDeadError):
        queued.get(timeout=DEADLINE)
    assert not ref.is_alive()


# -- fairness --


class Counter(PooledActor):
    """Counts the messages it handles into a cell others can read."""

    def __init__(self, progress: list[int]) -> None:
        super().__init__()
        self.progress = progress

    def on_receive(self, message: Any) -> Any:
        if message == "count":
            return self.progress[0]
        self.progress[0] += 1
        return None


class Quiet(PooledActor):
    """Answers with how far the busy actors had got when its own message was handled."""

    def __init__(self, progress: list[int]) -> None:
        super().__init__()
        self.progress = progress

    def on_receive(self, message: Any) -> Any:
        return self.progress[0]


def test_a_quiet_actor_is_served_while_a_busy_one_has_thousands_queued(
    pool: Callable[[int], Dispatcher],
) -> None:
    pool(1)  # one worker: only the busy actor's yielding after BATCH messages lets the quiet one in
    progress = [0]
    gate = Gated.start()
    busy = Counter.start(progress)
    quiet = Quiet.start(progress)
    release = hold(gate)
    for _ in range(5000):
        busy.tell("work")
    answer = quiet.ask("how far?", block=False)
    release.set()
    assert answer.get(timeout=DEADLINE) <= BATCH
    assert busy.ask("count", timeout=DEADLINE) == 5000


class Ping(Counter):
    """Two of these tell each other back and forth: a chain that always goes through the run-next slot."""

    def __init__(self, progress: list[int], done: threading.Event) -> None:
        super().__init__(progress)
        self.done = done
        self.peer: pykka.ActorRef[Any] | None = None

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, pykka.ActorRef):
            self.peer = message
            return None
        if message == 0:
            self.done.set()
        elif self.peer is not None:
            self.peer.tell(message - 1)
        return super().on_receive(message)


def test_a_chain_of_hand_offs_does_not_keep_a_worker_for_ever(pool: Callable[[int], Dispatcher]) -> None:
    pool(1)
    progress = [0]
    gate = Gated.start()
    done = threading.Event()
    a, b = Ping.start(progress, done), Ping.start(progress, done)
    a.tell(b)
    b.tell(a)
    watcher = Quiet.start(progress)
    release = hold(gate)
    a.tell(5000)
    answer = watcher.ask("how far?", block=False)
    release.set()
    assert answer.get(timeout=DEADLINE) < 5000
    assert done.wait(DEADLINE)
    assert progress[0] == 5001  # every hop made, none lost


# -- the run-next slot --


class Recorder(HubSafeActor):
    """Remembers the thread of each "hello" and signals it; resolves a future when one comes as the message."""

    def __init__(self, said_hello: threading.Event) -> None:
        super().__init__()
        self.threads: list[int] = []
        self.said_hello = said_hello

    def on_receive(self, message: Any) -> Any:
        if message == "hello":
            self.threads.append(threading.get_ident())
            self.said_hello.set()
        elif isinstance(message, HubSafeFuture):
            message.set("done")
        elif message == "threads":
            return list(self.threads)
        return None


class Forwarder(Gated, HubSafeActor):
    """Tells the recorder; "wait" then blocks on a future only the recorder can resolve."""

    def __init__(self, recorder: pykka.ActorRef[Any], said_hello: threading.Event) -> None:
        super().__init__()
        self.recorder, self.said_hello = recorder, said_hello

    def on_receive(self, message: Any) -> Any:
        if message == "tell":
            queued = pooled.dispatcher()._runnable
            puts = queued.puts  # type: ignore[attr-defined]
            self.recorder.tell("hello")
            return threading.get_ident(), queued.puts - puts  # type: ignore[attr-defined]
        if message == "await hello":
            return self.said_hello.wait(DEADLINE)
        if message == "wait":
            future = HubSafeFuture()
            self.recorder.tell(future)  # parked in this worker's run-next slot...
            return future.get(timeout=DEADLINE)  # ...which must be handed back before this blocks
        return super().on_receive(message)


@pytest.fixture
def pair(
    pool: Callable[[int], Dispatcher],
) -> tuple[pykka.ActorRef[Any], pykka.ActorRef[Any]]:
    pool(2)
    said_hello = threading.Event()
    recorder = Recorder.start(said_hello)
    return Forwarder.start(recorder, said_hello), recorder


def test_a_tell_from_a_handler_runs_next_on_the_same_worker(
    pair: tuple[pykka.ActorRef[Any], pykka.ActorRef[Any]],
) -> None:
    forwarder, recorder = pair
    for _ in range(5):
        sender_thread, handed_over = forwarder.ask("tell", timeout=DEADLINE)
        assert handed_over == 0  # the recorder did not go through the shared queue...
        assert recorder.ask("threads", timeout=DEADLINE)[-1] == sender_thread  # ...it ran right after, here


def test_a_worker_about_to_block_hands_its_parked_actor_back(
    pair: tuple[pykka.ActorRef[Any], pykka.ActorRef[Any]],
) -> None:
    forwarder, _ = pair
    for _ in range(20):
        assert forwarder.ask("wait", timeout=DEADLINE) == "done"


def test_a_parked_actor_does_not_wait_for_the_rest_of_a_long_turn(
    pair: tuple[pykka.ActorRef[Any], pykka.ActorRef[Any]],
) -> None:
    forwarder, _ = pair
    release = hold(forwarder)
    forwarder.tell("tell")  # parks the recorder...
    waited = forwarder.ask("await hello", block=False)  # ...and the same turn goes on to wait for it
    release.set()
    assert waited.get(timeout=2 * DEADLINE) is True


def test_an_idle_inbox_holds_no_queue_and_a_stop_can_be_waited_for(pool: Callable[[int], Dispatcher]) -> None:
    """Memory per actor: queues exist only while they hold messages, and ``actor_stopped`` is no Event.

    A daemon with 1,000 programs has thousands of actors that are idle nearly all the time; an empty deque
    (~630 bytes) and a ``threading.Event`` (~1.2 KB) each would be most of an idle actor's weight.
    """
    pool(1)
    ref = WithUrgent.start()
    entered, release = threading.Event(), threading.Event()
    ref.tell(("hold", entered, release))
    assert entered.wait(DEADLINE)
    ref.tell("a")
    ref.tell(Urgent("u"))
    inbox = ref.actor_inbox
    assert inbox.messages is not None and inbox.urgent_messages is not None  # queued while busy
    release.set()
    assert ref.ask("seen", timeout=DEADLINE) == [Urgent("u"), "a"]
    assert (inbox.messages, inbox.urgent_messages) == (None, None)
    assert not isinstance(ref.actor_stopped, threading.Event)
    waiter = threading.Thread(target=lambda: ref.actor_stopped.wait(DEADLINE))
    waiter.start()
    assert ref.stop(timeout=DEADLINE) is True
    waiter.join(DEADLINE)
    assert not waiter.is_alive() and ref.actor_stopped.wait(0) and not ref.is_alive()


def test_the_runtime_adds_no_attribute_to_a_running_actor(pool: Callable[[int], Dispatcher]) -> None:
    """An actor's attributes are pykka's four and its own: the runtime's bookkeeping lives in the inbox.

    Why it matters: CPython 3.11 keeps up to 29 instance attributes in a compact shared-key table and
    turns a 30th into a full dict (~1.3 KB more per actor; see tests/test_lean.py for ProcessActor).
    """
    pool(1)
    before = set(vars(Gated()))
    ref = Gated.start()
    assert ref.ask("seen", timeout=DEADLINE) == []
    actor = ref._actor_weakref()
    assert actor is not None and set(vars(actor)) == before
