"""Fewer glibc malloc arenas: the daemon's threads share two instead of holding up to eight per core.

Why: glibc gives a thread that allocates while another holds the main arena an arena of its own, up to
8 per core of them, and each keeps its freed memory for reuse by that thread. The daemon's pool workers,
its I/O thread and the hub all allocate (messages, log chunks, replies), so with 1,000 programs about 2 MB
of resident memory was spread over idle arenas (docs/performance.md, "rss"). Allocation contention
stays low with two: CPython threads allocate while holding the GIL, so they rarely meet in malloc.

``MALLOC_ARENA_MAX`` in the environment (glibc's own setting) wins; elsewhere than glibc this is a no-op.
"""

from __future__ import annotations

import os

M_ARENA_MAX = -8  # <malloc.h>
ARENAS = 2


def limit_arenas(count: int = ARENAS) -> bool:
    """Cap glibc's arenas at ``count``, before the threads start; True if glibc took the setting."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        import ctypes  # the reaper's prctl needs it anyway

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library to ask, or one without mallopt
        return False
    return int(mallopt(M_ARENA_MAX, count)) == 1
