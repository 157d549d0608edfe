"""Writes that must never block their writer: one bounded buffer per destination, drained by the I/O loop.

A pooled worker that blocks in ``write()`` holds its actor, and with it everything that actor would do next
(a stop, an exit, a timer); a few such workers stall the whole daemon. So every write whose reader may stop
reading (a child's stdin, a listener's stdin, the daemon's own stdout or stderr when that is a pipe, a
terminal or a socket) goes through an :class:`Outlet`: the writer's thread writes what the fd takes at once,
without blocking, and queues the rest; the I/O loop writes the queue whenever the fd is writable (EPOLLOUT).
That is how Supervisor's ``PInputDispatcher`` buffers a child's stdin, with one difference: the queue is
bounded. A write that would overflow it is refused whole (never cut, so a message is all there or not at
all), and the caller decides what that means: a fault for ``sendProcessStdin``, drop-and-count for copies
of the logs on stdout (reported once the queue has drained).

One fd, one owner: an outlet owns its fd. ``close()`` drops the queue and hands the fd to the I/O loop,
which stops watching it and closes it on its own thread, so a watched fd is never closed under the loop.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import stat
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from supervisord.rotation import write_all

if TYPE_CHECKING:
    from supervisord.runtime.ioloop import IOLoop

log = logging.getLogger("supervisord")

# Bytes of log output queued for the daemon's stdout or stderr, beyond which copies are dropped.
STDIO_LIMIT = 1 << 20


class Outlet:
    """A non-blocking writer for one fd: writes what fits now, queues up to ``limit`` bytes for the loop.

    ``direct`` outlets are for fds whose writes cannot wait on a reader (a regular file, ``/dev/null``):
    they write everything at once and queue nothing. ``on_drained(writes, nbytes)`` runs on the loop
    thread once the queue is back under half its limit after writes were refused.
    """

    def __init__(
        self,
        fd: int,
        limit: int,
        loop: IOLoop | None = None,
        *,
        direct: bool = False,
        sock: socket.socket | None = None,
        on_drained: Callable[[int, int], None] | None = None,
    ) -> None:
        self.fd = fd
        self.limit = limit
        self.direct = direct
        self._loop = loop
        self._sock = sock  # a socket is written with MSG_DONTWAIT: its file status flags are not ours
        self._on_drained = on_drained
        self._lock = threading.Lock()
        self._pending = bytearray()
        self._watching = False  # the loop is (or is about to be) watching fd for EPOLLOUT
        self._closed = False
        self._broken = False  # the reader has gone (EPIPE and the like): every later write fails
        self.refused = 0  # writes refused since the last report, and their bytes
        self.refused_bytes = 0
        if not direct and sock is None:
            os.set_blocking(fd, False)

    @property
    def pending(self) -> int:
        """Bytes queued and not yet taken by the fd."""
        return len(self._pending)

    def write(self, data: bytes) -> bool:
        """Take ``data`` whole (True) or refuse it whole (False: the queue is full). Never blocks.

        An empty queue takes one write of any size, so a single message larger than ``limit`` (a big
        event envelope) still goes. Raises ``BrokenPipeError`` once the reader has gone or the outlet
        is closed.
        """
        with self._lock:
            if self._closed or self._broken:
                raise BrokenPipeError(errno.EPIPE, "the reader has gone")
            if self.direct:
                self._write_all(data)
                return True
            if self._pending:
                if len(self._pending) + len(data) > self.limit:
                    self.refused += 1
                    self.refused_bytes += len(data)
                    return False
                self._pending += data
                return True
            sent = self._write_some(data)
            if sent < len(data):
                self._pending += memoryview(data)[sent:]
                self._watch()
            return True

    def attach(self, loop: IOLoop) -> None:
        """From now on ``loop`` drains the queue (for outlets made before the loop existed)."""
        with self._lock:
            self._loop = loop
            if self._pending:
                self._watch()

    def close(self) -> None:
        """Drop what is queued and close the fd (on the loop's thread, which may be watching it)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._pending.clear()
            loop = self._loop
        if loop is not None:
            loop.close_writer(self.fd, self._close_fd)
        else:
            self._close_fd()

    def flush(self, timeout: float) -> None:
        """Write out the queue, waiting at most ``timeout`` s for the reader (at exit, the loop stopped)."""
        deadline = time.monotonic() + timeout
        poller = select.poll()
        poller.register(self.fd, select.POLLOUT)
        with self._lock:
            while self._pending and not (self._closed or self._broken):
                left = deadline - time.monotonic()
                if left <= 0 or not poller.poll(left * 1000):
                    return
                try:
                    del self._pending[: self._write_some(self._pending)]
                except BrokenPipeError:
                    return

    # -- internals (the caller holds _lock) --

    def _watch(self) -> None:
        # Under the lock, so a close() cannot slip its "forget the fd" in front of this registration.
        if not self._watching and self._loop is not None:
            self._watching = True
            self._loop.watch_writable(self.fd, self._drain)

    def _write_some(self, data: bytes | bytearray | memoryview) -> int:
        """One non-blocking write; 0 if the fd takes nothing now. A dead reader marks the outlet broken."""
        try:
            if self._sock is not None:
                return self._sock.send(data, socket.MSG_DONTWAIT)
            return os.write(self.fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            self._broken = True
            self._pending.clear()
            raise BrokenPipeError(exc.errno, exc.strerror) from None

    def _write_all(self, data: bytes) -> None:
        try:
            sent = os.write(self.fd, data)  # one call in the usual case (no memoryview to build)
            if sent < len(data):
                write_all(self.fd, memoryview(data)[sent:])
        except OSError as exc:
            self._broken = True
            raise BrokenPipeError(exc.errno, exc.strerror) from None

    def _close_fd(self) -> None:
        try:
            if self._sock is not None:
                self._sock.close()
            else:
                os.close(self.fd)
        except OSError:
            pass

    # -- the loop's side --

    def _drain(self) -> bool:
        """Loop thread, the fd is writable: write what it takes. False: nothing left, stop watching."""
        report = None
        with self._lock:
            if not self._closed and not self._broken and self._pending:
                try:
                    del self._pending[: self._write_some(self._pending)]
                except BrokenPipeError:
                    pass
            if self.refused and len(self._pending) <= self.limit // 2:
                report = (self.refused, self.refused_bytes)
                self.refused = self.refused_bytes = 0
            more = bool(self._pending) and not (self._closed or self._broken)
            if not more:
                self._watching = False
        if report is not None and self._on_drained is not None:
            self._on_drained(*report)  # outside the lock: it may log, and the log may write here
        return more


# --- the daemon's own stdout and stderr ---

_stdio: dict[int, Outlet] = {}
_stdio_lock = threading.Lock()
_STDIO_NAMES = {1: "stdout", 2: "stderr"}


def stdio(fd: int) -> Outlet:
    """The daemon's stdout (1) or stderr (2) as one outlet shared by every writer (made on first use).

    Process-wide, like the fd itself: the main log's copy and every ``stdout_logfile = /dev/stdout`` share
    one queue, one order and one limit. Make it only after daemonizing (which replaces fds 0-2).
    """
    with _stdio_lock:
        outlet = _stdio.get(fd)
        if outlet is None:
            outlet = _stdio[fd] = _open_stdio(fd)
        return outlet


def attach_stdio(loop: IOLoop) -> None:
    """Let ``loop`` drain stdout and stderr (they may have been written before the loop started)."""
    with _stdio_lock:
        outlets = list(_stdio.values())
    for outlet in outlets:
        outlet.attach(loop)


def flush_stdio(timeout: float) -> None:
    """At exit: give a slow reader of stdout/stderr up to ``timeout`` s for what is still queued."""
    deadline = time.monotonic() + timeout
    with _stdio_lock:
        outlets = list(_stdio.values())
    for outlet in outlets:
        outlet.flush(max(0.0, deadline - time.monotonic()))


def _open_stdio(fd: int) -> Outlet:
    """An outlet of our own for ``fd``: its own open file description where the fd could block.

    O_NONBLOCK belongs to the open file description, which a terminal shares with the shell that started
    us; so a pipe or a terminal is reopened through ``/proc/self/fd`` (a description of our own, made
    non-blocking), a socket (systemd's journal) is written with ``MSG_DONTWAIT``, and a regular file or
    ``/dev/null`` is written directly (its writes never wait on a reader).
    """
    name = _STDIO_NAMES.get(fd, f"fd {fd}")

    def on_drained(writes: int, nbytes: int) -> None:
        log.warning("%s was not being read: dropped %d writes (%d bytes) of log output", name, writes, nbytes)

    try:
        mode = os.fstat(fd).st_mode
    except OSError:  # not open at all: every write fails, and is ignored
        outlet = Outlet(fd, 0, direct=True)
        outlet._broken = True
        return outlet
    if stat.S_ISSOCK(mode):
        sock = socket.socket(fileno=os.dup(fd))
        return Outlet(sock.fileno(), STDIO_LIMIT, sock=sock, on_drained=on_drained)
    tty = os.isatty(fd)
    if not (stat.S_ISFIFO(mode) or tty):
        return Outlet(fd, STDIO_LIMIT, direct=True)
    flags = os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        own = os.open(f"/proc/self/fd/{fd}", flags)
    except OSError:  # no /proc, no reader, or not allowed (after a switch of user)
        if tty:
            return Outlet(fd, STDIO_LIMIT, direct=True)  # never change the shell's terminal's flags
        own = os.dup(fd)  # a pipe only we write to: sharing its non-blocking flag harms no one
    return Outlet(own, STDIO_LIMIT, on_drained=on_drained)
