"""systemd's readiness protocol (``Type=notify``): ``READY=1``, ``RELOADING=1``, ``STOPPING=1``.

The protocol is one datagram of ``KEY=VALUE`` lines sent to the unix socket named by ``$NOTIFY_SOCKET``
(``@name`` is the abstract namespace), which is small enough to speak directly. The variable is taken out
of our environment, so children do not inherit it: systemd would ignore them (``NotifyAccess=main``), but a
notify-aware child could otherwise wait on or confuse a socket that is not meant for it.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger("supervisord")


class Notifier:
    """Where to send notifications, or nowhere (not started by systemd): every method is then a no-op."""

    def __init__(self, address: str | None) -> None:
        self.address = address

    @classmethod
    def from_environ(cls) -> Notifier:
        """Take ``$NOTIFY_SOCKET`` out of the environment; only unix socket paths are supported."""
        path = os.environ.pop("NOTIFY_SOCKET", "")
        if path.startswith("@"):
            return cls("\0" + path[1:])
        if path.startswith("/"):
            return cls(path)
        if path:
            log.warning("NOTIFY_SOCKET=%s is not a unix socket path; not notifying systemd", path)
        return cls(None)

    def send(self, *fields: str) -> bool:
        """One datagram; never blocks and never raises (systemd being gone must not stop the daemon)."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.sendto("\n".join(fields).encode() + b"\n", self.address)
        except OSError as exc:
            log.warning("could not notify systemd (%s): %s", self.address.replace("\0", "@"), exc)
            return False
        return True

    def ready(self) -> None:
        """The first autostart wave has forked and the HTTP servers listen."""
        self.send("READY=1", "STATUS=running")

    def reloading(self) -> None:
        """A reload (SIGHUP or RPC restart) begins; READY=1 follows once the new config runs."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping")
