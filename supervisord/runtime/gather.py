"""One request to many actors, their replies gathered with one hub wake-up instead of a future each.

``stopAllProcesses`` with 200 programs used to post 200 asks: 200 futures (each a queue with three
conditions), 200 async watchers and 200 greenlets on the hub, which woke once per reply. A :class:`Gather`
is one shared object: each member gets a :class:`Slot` inside its (told, not asked) message, answers
through it, and the hub waits on one future for the lot. A slot is also what the member keeps as its
waiter when the answer is deferred (it has ``set``, like the futures it stands in for), so the member's
code does not change shape; it still resolves it after publishing the snapshot that explains it.

Each member contributes exactly one final outcome: its answer, unless that answer defers to the slot
(``Outcome(done=slot)``), in which case the later ``set``. ``results`` lists the immediate ones in member
order, then the deferred ones in the order they finished: Supervisor's "allfunc" order.
"""

from __future__ import annotations

import threading
from typing import Any

from supervisord.runtime.hubsafe import HubSafeFuture


class Slot:
    """One member's way to answer (any thread). ``set`` is the deferred outcome, as on a future."""

    __slots__ = ("gather", "index")

    def __init__(self, gather: Gather, index: int) -> None:
        self.gather = gather
        self.index = index

    def answer(self, outcome: Any) -> None:
        """The member's immediate reply: final, unless its ``done`` is this slot (:meth:`set` follows)."""
        self.gather._answer(self, outcome)

    def set(self, outcome: Any = None) -> None:
        self.gather._finish(self.index, outcome)


class Gather:
    """Outcomes of ``size`` members; :attr:`done` is a hub-safe future (value None) set once all are in."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._immediate: list[Any] = [None] * size
        self._final = [False] * size
        self._deferred: set[int] = set()  # answered "later", not finished yet
        self._finished: list[tuple[int, Any]] = []  # deferred members, in the order they finished
        self._remaining = size
        self.done = HubSafeFuture()
        if not size:
            self.done.set(None)

    def slot(self, index: int) -> Slot:
        return Slot(self, index)

    def fail(self, index: int, outcome: Any) -> None:
        """A final outcome for a member that may never answer (its actor died): ignored if it had one."""
        with self._lock:
            if self._final[index]:
                return
            self._deferred.discard(index)
            self._immediate[index] = outcome
            self._settle(index)

    def _answer(self, slot: Slot, outcome: Any) -> None:
        index = slot.index
        with self._lock:
            if self._final[index] or index in self._deferred:
                return  # answered already (or failed by :meth:`fail`)
            if getattr(outcome, "done", None) is slot:
                self._deferred.add(index)
                return
            self._immediate[index] = outcome
            self._settle(index)

    def _finish(self, index: int, outcome: Any) -> None:
        with self._lock:
            if index not in self._deferred:
                return  # not deferred (or failed meanwhile): its answer is its outcome
            self._deferred.discard(index)
            self._finished.append((index, outcome))
            self._settle(index)

    def _settle(self, index: int) -> None:
        """Under the lock: ``index`` has its final outcome."""
        self._final[index] = True
        self._remaining -= 1
        if not self._remaining:
            self.done.set(None)

    def pending(self) -> list[int]:
        """Members without a final outcome yet (deferred ones, and any that have not answered)."""
        with self._lock:
            return [i for i, final in enumerate(self._final) if not final]

    def waiting(self) -> list[int]:
        """Members that answered "later" and have not finished."""
        with self._lock:
            return sorted(self._deferred)

    def results(self) -> list[tuple[int, Any]]:
        """(member, outcome): immediate answers in member order, then deferred ones as they finished."""
        with self._lock:
            later = {i for i, _ in self._finished}
            immediate = [(i, o) for i, o in enumerate(self._immediate) if self._final[i] and i not in later]
            return immediate + list(self._finished)
