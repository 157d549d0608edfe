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

    def on_receive(self, message: Any) -> Any:
        if message == "hello":
            self.threads.append(threading.get_ident())
        elif isinstance(message, HubSafeFuture):
            message.set("done")
        elif message == "threads":
            return list(self.threads)
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
