"""The pooled actor runtime: the "run next" slot and what keeps it from deadlocking."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from supervisord.runtime.hubsafe import HubSafeActor, HubSafeFuture


class Recorder(HubSafeActor):
    """Remembers the thread of each "hello"; resolves a future when one comes as the message."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[int] = []
        self.hello_at = 0.0

    def on_receive(self, message: Any) -> Any:
        if message == "hello":
            self.threads.append(threading.get_ident())
            self.hello_at = time.monotonic()
        elif isinstance(message, HubSafeFuture):
            message.set("done")
        elif message == "threads":
            return list(self.threads)
        elif message == "hello_at":
            return self.hello_at
        return None


class Forwarder(HubSafeActor):
    """Tells the recorder, then (for "wait") blocks on a future only the recorder can resolve."""

    def __init__(self, recorder: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.recorder = recorder

    def on_receive(self, message: Any) -> Any:
        if message == "tell":
            self.recorder.tell("hello")
            time.sleep(0.05)  # an idle worker would pick the recorder up meanwhile; the slot keeps it here
            return threading.get_ident()
        if message == "busy":
            time.sleep(0.5)
            return time.monotonic()
        if message == "wait":
            future = HubSafeFuture()
            self.recorder.tell(future)  # parked in this worker's run-next slot...
            return future.get(timeout=5)  # ...which must be handed back before this blocks
        return None


@pytest.fixture
def actors() -> Iterator[tuple[pykka.ActorRef[Any], pykka.ActorRef[Any]]]:
    recorder = Recorder.start()
    forwarder = Forwarder.start(recorder)
    yield forwarder, recorder
    forwarder.stop()
    recorder.stop()


def test_a_tell_from_a_handler_runs_next_on_the_same_worker(
    actors: tuple[pykka.ActorRef[Any], pykka.ActorRef[Any]],
) -> None:
    forwarder, recorder = actors
    for _ in range(5):
        sender_thread = forwarder.ask("tell", timeout=5)
        threads = recorder.ask("threads", timeout=5)
        assert threads[-1] == sender_thread  # no hand-over to another thread for the hop


def test_a_worker_about_to_block_hands_its_parked_actor_back(
    actors: tuple[pykka.ActorRef[Any], pykka.ActorRef[Any]],
) -> None:
    forwarder, _ = actors
    for _ in range(20):
        assert forwarder.ask("wait", timeout=10) == "done"


def test_a_parked_actor_does_not_wait_for_the_rest_of_a_long_turn(
    actors: tuple[pykka.ActorRef[Any], pykka.ActorRef[Any]],
) -> None:
    forwarder, recorder = actors
    told = forwarder.ask("tell", block=False)  # parks the recorder...
    busy = forwarder.ask("busy", block=False)  # ...then the same turn goes on for 0.5 s
    told.get(timeout=5)
    busy_until = busy.get(timeout=5)
    assert recorder.ask("hello_at", timeout=5) < busy_until - 0.3  # it ran meanwhile, elsewhere
