"""What happens when a part of the runtime dies that should never die: say so, then stop cleanly.

An actor whose handler raises is stopped by pykka, and an exception escaping the I/O thread ends that
thread. Either way the daemon would live on deaf: a dead process actor answers nothing and is never stopped,
a dead I/O loop notices no exit and fires no timer, and SIGTERM then hangs. So every such death is reported
here: one CRIT line with the traceback in the main log, then the daemon is asked to shut down through its
ordinary path (children stopped, pidfile removed) and exits 1, so that whatever runs it (systemd, a
container runtime) can start it again. The daemon installs the shutdown request with :func:`install`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from supervisord.mainlog import LOGGER_NAME

_lock = threading.Lock()
_on_death: Callable[[str], None] | None = None
_deaths: list[str] = []


def install(on_death: Callable[[str], None] | None) -> None:
    """Set (or clear) the thread-safe callback that asks the daemon to shut down."""
    global _on_death
    with _lock:
        _on_death = on_death
        _deaths.clear()


def deaths() -> list[str]:
    """What died since :func:`install` (the daemon's exit status is 1 when this is not empty)."""
    with _lock:
        return list(_deaths)


def died(what: str, exc_info: Any = None) -> None:
    """``what`` (an actor, a thread) died unexpectedly: log it with its traceback and stop the daemon.

    ``exc_info`` is a ``sys.exc_info()`` triple; None means the exception being handled now.
    """
    logging.getLogger(LOGGER_NAME).critical(
        "%s died unexpectedly; shutting down", what, exc_info=exc_info or True
    )
    with _lock:
        _deaths.append(what)
        on_death = _on_death
    if on_death is not None:
        on_death(what)
