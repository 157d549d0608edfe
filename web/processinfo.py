"""The process structs of ``getAllProcessInfo``, marshalled once per change instead of once per call.

Why: clients poll ``getAllProcessInfo`` (supervisorctl status, dashboards, our benchmark every 5 ms while
200 programs start), and with 1,000 processes building and marshalling every struct was most of each call.
A struct depends only on its snapshot, on ``now`` (whole seconds) and, for RUNNING, on the uptime in whole
seconds; the cache keys on exactly those, so a cached struct is byte-for-byte the one a fresh call writes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import gevent

from supervisord.snapshot import ProcessSnapshot
from supervisord.web.xmlrpc_codec import Marshalled, marshalled

_Entry = tuple[ProcessSnapshot, int, int, Marshalled]


class ProcessInfoCache:
    """One marshalled struct per process, reused while its snapshot object and clock key are unchanged.

    The supervisor actor hands out the same snapshot object until the process changes, and the cache
    holds a reference to it, so identity (``is``) is a safe and cheap "unchanged" test. Entries live only
    through their wall second (and half the next): a daemon at rest holds no marshalled structs.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._second = 0  # the wall second of the entries
        self._expiry: Any = None  # a hub timer that drops the entries once their second is over

    def structs(self, snapshots: Iterable[ProcessSnapshot], now: float) -> list[Marshalled]:
        second = int(now)
        old, fresh = self._entries, {}
        out: list[Marshalled] = []
        for snap in snapshots:
            key = (snap.group, snap.name)
            uptime = int(now - snap.start)
            entry = old.get(key)
            if entry is None or entry[0] is not snap or entry[1] != second or entry[2] != uptime:
                entry = (snap, second, uptime, marshalled(snap.info(now)))
            fresh[key] = entry
            out.append(entry[3])
        self._entries = fresh  # processes that are gone drop out here
        self._second = second
        if self._expiry is None:
            self._expiry = gevent.spawn_later(second + 1.5 - now, self._expire)
        return out

    def _expire(self) -> None:
        """Every entry carries its wall second and none is reused after it: free them (~1.3 KB a process)."""
        now = time.time()
        if int(now) > self._second:
            self._expiry = None
            self._entries = {}
        else:  # a call in a later second refreshed them meanwhile
            self._expiry = gevent.spawn_later(self._second + 1.5 - now, self._expire)
