"""Who follows which log file: whoever writes a file says so, and only that file's followers wake up.

Why: a follower (``/logtail``, ``supervisorctl tail -f``, the REST ``follow`` stream and the GUI's log view)
used to read its file every 0.1 s whether or not anything had been written. Now the log sink's
:class:`~supervisord.logtargets.FileTarget` calls :func:`changed` after each write, rotation, truncation or
reopen, the main log announces each record the same way (:func:`announce_logger`), and a follower sleeps
until then. With nobody following, a writer pays one dict lookup per chunk; an idle follower costs nothing.

Keys are absolute paths (:func:`key`), computed once by each side, so a write never normalises a path.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

Wake = Callable[[], None]

_lock = threading.Lock()
_followers: dict[str, tuple[Wake, ...]] = {}  # replaced whole under the lock: readers need no lock


def key(path: str) -> str:
    """The registry's name for ``path`` (``path`` itself when already normal: no second string)."""
    normal = os.path.abspath(path)
    return path if normal == path else normal


def changed(path_key: str) -> None:
    """Any thread: the file ``path_key`` was written, rotated, truncated or reopened; wake its followers.

    ``wake`` must be cheap and must not block (a follower's is an async watcher's ``send``).
    """
    wakes = _followers.get(path_key)
    if wakes:
        for wake in wakes:
            wake()


def watch(path: str, wake: Wake) -> Callable[[], None]:
    """Call ``wake`` whenever ``path`` changes, until the returned function is called."""
    path_key = key(path)
    with _lock:
        _followers[path_key] = (*_followers.get(path_key, ()), wake)

    def unwatch() -> None:
        with _lock:
            rest = tuple(w for w in _followers.get(path_key, ()) if w is not wake)
            if rest:
                _followers[path_key] = rest
            else:
                _followers.pop(path_key, None)

    return unwatch


def watched() -> int:
    """How many followers are registered (tests)."""
    return sum(len(wakes) for wakes in _followers.values())


class _Announce(logging.Handler):
    """Added after a logger's file handler: each record it has written wakes the file's followers."""

    def __init__(self, path_key: str) -> None:
        super().__init__()
        self.path_key = path_key

    def emit(self, record: logging.LogRecord) -> None:
        changed(self.path_key)


def announce_logger(logger: logging.Logger, path: str) -> None:
    """Make ``logger`` (the daemon's main log, written to ``path``) announce every record; idempotent.

    Handlers run in the order added, so this one runs after the file handler has written the record.
    """
    path_key = key(path)
    with _lock:
        if not any(isinstance(h, _Announce) and h.path_key == path_key for h in logger.handlers):
            logger.addHandler(_Announce(path_key))
