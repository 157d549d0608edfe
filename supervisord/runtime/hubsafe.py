"""Futures that a gevent hub can wait on without blocking the whole event loop.

Actors run on a pool of real OS threads (supervisord/runtime/pooled.py); HTTP runs in the gevent hub on the
main thread, with no monkey-patching. A plain ``ThreadingFuture.get()`` called from a greenlet would block
the hub (every request stalls while one actor is busy). :class:`HubSafeFuture` detects a ``get()`` on the
hub thread and parks only the calling greenlet, woken through a ref'd ``loop.async_()`` watcher, which is
the one thread-safe way into libev that keeps working when no server is running (see
../shared/reference/architecture.md §1.4 and §0.6).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import gevent
import gevent.event
import pykka

from supervisord.runtime.pooled import PooledActor, blocking

_hub_thread: int | None = None


def bind_hub() -> None:
    """Declare the calling thread as the gevent hub's. Call after daemonizing, before actors start."""
    global _hub_thread
    _hub_thread = threading.get_ident()
    gevent.get_hub()


def on_hub() -> bool:
    return _hub_thread is not None and threading.get_ident() == _hub_thread


class HubSafeFuture(pykka.ThreadingFuture[Any]):
    """A ThreadingFuture whose ``get()`` yields to the hub when called from the hub thread."""

    def __init__(self) -> None:
        super().__init__()
        self._hub_waiters: list[Any] = []

    def _wake_hub(self) -> None:
        with self._condition:
            waiters, self._hub_waiters = self._hub_waiters, []
            for watcher in waiters:
                watcher.send()

    def set(self, value: Any = None) -> None:
        super().set(value)
        self._wake_hub()

    def set_exception(self, exc_info: Any = None) -> None:
        super().set_exception(exc_info or sys.exc_info())
        self._wake_hub()

    def get(self, *, timeout: float | None = None) -> Any:
        if on_hub() and self._get_hook is None:
            watcher = None
            with self._condition:
                if self._result is None:
                    ready = gevent.event.Event()
                    watcher = gevent.get_hub().loop.async_()
                    watcher.start(ready.set)
                    self._hub_waiters.append(watcher)
            if watcher is not None:
                try:
                    if not ready.wait(timeout):
                        raise pykka.Timeout(f"{timeout} seconds")
                finally:
                    with self._condition:
                        if watcher in self._hub_waiters:
                            self._hub_waiters.remove(watcher)
                    watcher.close()
                timeout = 0
        elif self._result is None:
            with blocking():  # a worker about to wait must not sit on an actor it parked
                return super().get(timeout=timeout)
        return super().get(timeout=timeout)


class HubSafeActor(PooledActor):
    """Base of every actor: pooled scheduling, and asks aimed at it return futures the hub can wait on."""

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        return HubSafeFuture()
