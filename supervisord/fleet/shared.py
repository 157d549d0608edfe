"""The fleet's shared programs that this process has accepted, for every later config load to merge in.

Process-wide on purpose: the config loader runs for ``update``/``reread`` and for a restart (SIGHUP), and
each must see the same shared programs the fleet agent last validated, even across daemon runs.
"""

from __future__ import annotations

import threading

Sections = tuple[tuple[str, str], ...]  # (source, INI text), sorted by source


class SharedPrograms:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sections: Sections = ()

    def get(self) -> Sections:
        with self._lock:
            return self._sections

    def set(self, sections: Sections) -> None:
        with self._lock:
            self._sections = sections


SHARED = SharedPrograms()
