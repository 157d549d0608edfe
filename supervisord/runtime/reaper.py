"""Reaping orphans when we are PID 1 or a child subreaper, without stealing our own children's statuses.

Orphaned grandchildren are re-parented to PID 1, or to their nearest ancestor that asked Linux to be a
"child subreaper" (the daemon does, so it still reaps as PID 2 under a one-file launcher that never
waits for anything), and must be collected or they stay zombies forever. A blind
``waitpid(-1)`` would also collect the children our process actors own and lose their exit statuses, so the
reaper lists our zombie children from /proc and collects only pids no actor owns. It holds the spawn lock
while it decides on a zombie: a child that was just forked is always registered before that.

Where it looks: the main thread's ``/proc/self/task/<pid>/children``, not every process on the machine.
Linux re-parents an orphan to the first live thread of the subreaper, its main thread, while the actors'
own children hang under the worker threads that forked them. Why: a full ``/proc`` scan took 24 ms on a
host with 500 processes (reading every thread's list, 0.35 ms), ran on the I/O thread at every SIGCHLD and
held the spawn lock that every reap takes, so stopping 200 programs paid it again and again. The kernel does
not promise that list is complete while children exit concurrently, and a stray unregistered fork would not
be in it, so a full scan still runs as a safety net, ``FULL_SCAN_EVERY`` seconds after a SIGCHLD (at most
one pending).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import time
from collections.abc import Iterable

from supervisord.runtime.ioloop import IOLoop
from supervisord.runtime.spawn import ManagedPids

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
FULL_SCAN_EVERY = 5.0  # seconds between safety-net scans of all of /proc (only while children exit)


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process (Linux >= 3.4); False where it is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _zombie_parent(pid: int | str) -> int | None:
    """The parent of ``pid`` if it is a zombie, else None (also when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2 :].split()
    if len(rest) > 1 and rest[0] == b"Z":
        return int(rest[1])
    return None


def zombie_children(parent: int) -> list[int]:
    """Pids of zombie processes whose parent is ``parent``, read from all of /proc (slow: every process)."""
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and _zombie_parent(e) == parent]


def orphan_candidates(me: int) -> list[int] | None:
    """Children of our main thread, where Linux re-parents orphans (zombies included); None where it has
    no such list. Our own forks hang under the worker threads that made them, so this list stays short."""
    try:
        with open(f"/proc/{me}/task/{me}/children", "rb") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return None


class OrphanReaper:
    def __init__(self, pids: ManagedPids, logger: logging.Logger, ioloop: IOLoop | None = None) -> None:
        self.pids = pids
        self.logger = logger
        self.ioloop = ioloop  # for the safety-net scan; without it every SIGCHLD scans all of /proc
        self.full_pending = False

    def __call__(self) -> None:
        """A SIGCHLD arrived (I/O thread): reap the orphans among our children."""
        me = os.getpid()
        ioloop = self.ioloop
        children = orphan_candidates(me) if ioloop is not None else None
        if ioloop is None or children is None:
            self._reap(zombie_children(me))
            return
        self._reap(pid for pid in children if pid not in self.pids and _zombie_parent(pid) == me)
        if not self.full_pending:
            self.full_pending = True
            ioloop.call_at(time.monotonic() + FULL_SCAN_EVERY, self._full_scan)

    def _full_scan(self) -> None:
        self.full_pending = False
        self._reap(zombie_children(os.getpid()))

    def _reap(self, zombies: Iterable[int]) -> None:
        for pid in zombies:
            with self.pids.lock:  # a child of ours is registered by now (spawning holds this lock)
                if pid in self.pids:
                    continue
                try:
                    reaped, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    continue  # its actor reaped it meanwhile
            if not reaped:
                continue
            self.logger.debug(
                "reaped unknown pid %d (exit status %d)", pid, os.waitstatus_to_exitcode(status)
            )
