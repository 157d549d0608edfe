"""Reaping orphans when we are PID 1 or a child subreaper, without stealing our own children's statuses.

Orphaned grandchildren are re-parented to PID 1, or to their nearest ancestor that asked Linux to be a
"child subreaper" (the daemon does, so it still reaps as PID 2 under a one-file launcher that never
waits for anything), and must be collected or they stay zombies forever. A blind
``waitpid(-1)`` would also collect the children our process actors own and lose their exit statuses, so the
reaper lists our zombie children from /proc and collects only pids no actor owns. It holds the spawn lock
while doing so: a child that was just forked is always registered before the reaper can look at it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

from supervisord.runtime.spawn import ManagedPids

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process (Linux >= 3.4); False where it is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def zombie_children(parent: int) -> list[int]:
    """Pids of zombie processes whose parent is ``parent``, read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        rest = data[data.rfind(b")") + 2 :].split()
        if len(rest) > 1 and rest[0] == b"Z" and int(rest[1]) == parent:
            found.append(int(entry))
    return found


class OrphanReaper:
    def __init__(self, pids: ManagedPids, logger: logging.Logger) -> None:
        self.pids = pids
        self.logger = logger

    def __call__(self) -> None:
        me = os.getpid()
        with self.pids.lock:
            for pid in zombie_children(me):
                if pid in self.pids:
                    continue
                try:
                    _, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    continue
                self.logger.debug(
                    "reaped unknown pid %d (exit status %d)", pid, os.waitstatus_to_exitcode(status)
                )
