"""One thread that watches every child's pidfd and pipes, drains every outlet, and fires every timer.

Nothing here blocks on a child or sleeps on a schedule: the thread sits in ``epoll_wait`` with a timeout equal
to the next deadline, so a child's exit or output is noticed within a millisecond and an idle daemon uses no
CPU. Callbacks run on this thread and must only hand work on (``actor_ref.tell``); they never wait.

Rules kept here (architecture.md §2): each registered fd is owned and closed by this thread alone;
registration from other threads goes through a queue and an eventfd wake-up. Outlets (the write side,
``supervisord.runtime.outlet``) register their fd only while something is queued, and close it through
:meth:`IOLoop.close_writer`, so that a closed fd is never left in the epoll set.
"""

from __future__ import annotations

import errno
import fcntl
import heapq
import itertools
import logging
import math
import mmap
import os
import select
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pykka

from supervisord.runtime import faults

log = logging.getLogger("supervisord")
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)

READ_CHUNK = 1 << 20  # big reads: one message per MiB, not per line
PIPE_SIZE = 1 << 20  # ask the kernel for 1 MiB pipes: fewer wake-ups per byte (best effort)
FLOW_LIMIT = 8 << 20  # bytes of one pipe handed to its consumer and not yet acknowledged
MAX_WAIT = 3600.0  # longest single epoll_wait: its millisecond timeout overflows beyond ~24 days
MAX_DELAY = 10 * 365 * 24 * 3600.0  # a timer further away than this is a bug or a typo; it is clamped
COMPACT_MIN = 256  # below this many timers the heap is never swept for cancelled ones


class Flow:
    """Backpressure for one pipe: bytes handed to the consumer (a log sink) but not yet written.

    The loop counts every chunk it delivers; the consumer calls :meth:`done` after writing it. Once
    ``limit`` bytes are outstanding the loop stops watching the pipe, so the child blocks in ``write()``
    (exactly what it would do on a full pipe) instead of the sink's inbox growing without bound. The pipe
    is watched again when the backlog falls to half the limit, so the consumer never runs dry.
    """

    def __init__(self, limit: int = FLOW_LIMIT) -> None:
        self.limit = limit
        self.pending = 0
        self.paused = False
        self._lock = threading.Lock()
        self._resume: Callable[[], None] | None = None  # set by the loop when it pauses the pipe

    def sent(self, nbytes: int) -> bool:
        """Loop thread: count a delivered chunk; True means "stop reading this pipe for now"."""
        with self._lock:
            self.pending += nbytes
            if self.pending >= self.limit:
                self.paused = True
            return self.paused

    def hold(self) -> None:
        """Loop thread: the pipe was paused for a consumer that reads it itself (``watch_ready``); its next
        :meth:`done` resumes it."""
        with self._lock:
            self.paused = True

    def done(self, nbytes: int) -> None:
        """Consumer thread: ``nbytes`` were written; may resume the pipe."""
        with self._lock:
            self.pending -= nbytes
            if not self.paused or self.pending > self.limit // 2:
                return
            self.paused = False
            resume = self._resume
        if resume is not None:
            resume()


@dataclass(order=True)
class Timer:
    """A scheduled callback; ``cancel()`` is safe from any thread."""

    at: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class _Watch:
    fd: int
    on_data: Callable[[bytes], None] | None  # pipes: data chunks
    on_close: Callable[[], None]  # pipes: EOF; pidfds: readable (the child exited)
    flow: Flow | None = None  # pipes with backpressure
    registered: bool = True  # False while paused by its flow
    on_writable: Callable[[], bool] | None = None  # outlets: drain; False when nothing is left
    on_readable: Callable[[], None] | None = None  # watch_ready: the consumer reads (a dup of) the pipe


class IOLoop:
    """The daemon's single epoll thread: pipes, pidfds and timers."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._wake_fd, select.EPOLLIN)
        self._lock = threading.Lock()
        self._pending: list[Callable[[], None]] = []
        self._watches: dict[int, _Watch] = {}
        self._timers: list[Timer] = []
        self._compact_at = COMPACT_MIN  # heap size at which cancelled timers are swept out
        self._seq = itertools.count()
        self._running = False
        self._stopped = False  # the thread has left its loop: writers are closed inline from then on
        self._thread: threading.Thread | None = None
        # Every pipe is read into this one buffer (this thread only), then copied out at its length. Why:
        # ``os.read(fd, 1 MiB)`` allocates 1 MiB per call and shrinks it, ~30 µs even for the 11 bytes of a
        # listener's "RESULT 2\nOK" (most of an event's round trip); the copy costs ~1 µs for small reads
        # and is cheaper than the allocation for big ones. Anonymous memory: only pages a read has touched
        # are resident.
        self._buffer = mmap.mmap(-1, READ_CHUNK)
        self._view = memoryview(self._buffer)

    # -- public, any thread --

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name="io-loop", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._running = False
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def watch_pipe(
        self,
        fd: int,
        on_data: Callable[[bytes], None],
        on_eof: Callable[[], None],
        flow: Flow | None = None,
    ) -> _Watch:
        """Own ``fd`` (a pipe's read end): deliver chunks, then EOF; the loop closes it.

        With a ``flow``, reading pauses while the consumer is ``flow.limit`` bytes behind. The returned
        handle is for :meth:`release`.
        """
        os.set_blocking(fd, False)
        try:
            fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass  # over the per-user pipe quota, or not a pipe: the default size works, just slower
        watch = _Watch(fd, on_data, on_eof, flow)
        if flow is not None:
            flow._resume = lambda: self._call_soon(lambda: self._resume(watch))
        self._call_soon(lambda: self._add(watch))
        return watch

    def watch_ready(
        self, fd: int, on_readable: Callable[[], None], on_release: Callable[[], None], flow: Flow
    ) -> _Watch:
        """Own ``fd`` for a consumer that reads the pipe itself, through its own ``dup`` (a log sink moving
        the bytes into its file with ``splice``, never through Python).

        Each time the pipe is readable the loop pauses it and calls ``on_readable``; the consumer resumes it
        with ``flow.done(0)`` once it has read what was there, and does not at EOF. :meth:`release` calls
        ``on_release`` (the consumer drains its dup) and closes ``fd``; the loop itself never reads it.
        """
        os.set_blocking(fd, False)  # the consumer's dup shares this file description, so it too
        try:
            fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass
        watch = _Watch(fd, None, on_release, flow, on_readable=on_readable)
        flow._resume = lambda: self._call_soon(lambda: self._resume(watch))
        self._call_soon(lambda: self._add(watch))
        return watch

    def release(self, watches: list[_Watch]) -> None:
        """The child behind these pipes was reaped: deliver what is readable now, then EOF, and close them.

        Supervisor's order (drain, then close the parent's ends). Why not wait for EOF: a grandchild that
        inherited the pipe (``sh -c 'daemon &'``) can hold it open for ever, and every restart would leak
        two descriptors. Handles, not fd numbers: a pipe that already reached EOF was closed, and its
        number may belong to another child's pipe by now.
        """
        self._call_soon(lambda: self._release(watches))

    def forget(self, fd: int) -> None:
        """Stop watching a ``watch_pipe`` fd that never reaches EOF (a datagram socket) and close it."""

        def drop() -> None:
            self._drop(fd)

        self._call_soon(drop)

    def watch_exit(self, pidfd: int, on_exit: Callable[[], None]) -> None:
        """Own ``pidfd``: call ``on_exit`` once when the process has exited (it is not reaped here)."""
        self._call_soon(lambda: self._add(_Watch(pidfd, None, on_exit)))

    def watch_writable(self, fd: int, on_writable: Callable[[], bool]) -> None:
        """Call ``on_writable`` on this thread while ``fd`` is writable, until it returns False.

        The fd stays its outlet's: it is forgotten (not closed) when the callback says it is done.
        """
        self._call_soon(lambda: self._add(_Watch(fd, None, _noop, on_writable=on_writable)))

    def close_writer(self, fd: int, close: Callable[[], None]) -> None:
        """Stop watching an outlet's ``fd`` (if it is watched) and then run ``close``, on this thread."""
        with self._lock:
            stopped = self._stopped
            if not stopped:
                self._pending.append(lambda: self._close_writer(fd, close))
                first = len(self._pending) == 1
        if stopped:
            close()  # the loop has stopped: nothing watches fd any more
        elif first:
            self._wake()

    def call_at(self, at: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` on this thread at monotonic time ``at`` (clamped: no value can upset the heap)."""
        now = time.monotonic()
        at = now if math.isnan(at) else min(at, now + MAX_DELAY)
        timer = Timer(at, next(self._seq), callback)
        self._call_soon(lambda: self._push(timer))
        return timer

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on this thread soon, after what is already pending (a message to a loop-side object)."""
        self._call_soon(fn)

    # -- internals, loop thread --

    def _wake(self) -> None:
        try:
            os.eventfd_write(self._wake_fd, 1)
        except OSError:
            pass

    def _call_soon(self, fn: Callable[[], None]) -> None:
        """Queue ``fn`` for the loop; only the first of a burst wakes it (it runs everything queued then)."""
        with self._lock:
            self._pending.append(fn)
            first = len(self._pending) == 1
        if first:
            self._wake()

    def _add(self, watch: _Watch) -> None:
        self._watches[watch.fd] = watch
        mask = select.EPOLLOUT if watch.on_writable is not None else select.EPOLLIN
        self._epoll.register(watch.fd, mask | select.EPOLLHUP | select.EPOLLERR)

    def _drop(self, fd: int) -> _Watch | None:
        watch = self._watches.pop(fd, None)
        if watch is not None:
            if watch.registered:
                try:
                    self._epoll.unregister(fd)
                except OSError:
                    pass
            if watch.on_writable is None:  # an outlet's fd is closed by its owner, through close_writer
                os.close(fd)
            if watch.flow is not None:
                # Break the watch -> flow -> resume closure -> watch cycle: left to the cyclic GC, one per
                # pipe per restart piled up between full collections (a restart storm grew the heap).
                with watch.flow._lock:
                    watch.flow._resume = None
        return watch

    def _close_writer(self, fd: int, close: Callable[[], None]) -> None:
        watch = self._watches.get(fd)
        if watch is not None and watch.on_writable is not None:
            self._drop(fd)
        close()

    def _release(self, watches: list[_Watch]) -> None:
        # A few reads empty any pipe (each takes up to its full size); a grandchild that keeps writing
        # must not hold the loop here, so whatever is still open after them is closed anyway.
        for watch in watches:
            if watch.on_readable is not None:  # the consumer drains its own dup
                if self._watches.get(watch.fd) is watch:
                    self._drop(watch.fd)
                    self._safely(watch.on_close)
                continue
            for _ in range(4):
                if self._watches.get(watch.fd) is not watch:
                    break  # at EOF, and closed
                self._ready(watch.fd, select.EPOLLIN, drain=True)
            if self._watches.get(watch.fd) is watch:
                self._drop(watch.fd)
                self._safely(watch.on_close)

    def _pause(self, watch: _Watch) -> None:
        # Unregister rather than clear EPOLLIN: EPOLLHUP is reported even with no events asked for, so a
        # paused pipe whose child exited would otherwise spin the loop.
        if watch.registered:
            self._epoll.unregister(watch.fd)
            watch.registered = False

    def _resume(self, watch: _Watch) -> None:
        if not watch.registered and self._watches.get(watch.fd) is watch:
            self._epoll.register(watch.fd, select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR)
            watch.registered = True

    def _push(self, timer: Timer) -> None:
        """Add a timer; drop the cancelled ones once they are half the heap.

        Why: a cancelled timer used to stay in the heap until its time came, so a restart storm of programs
        with a long ``stopwaitsecs`` or ``startsecs`` (one timer armed and cancelled per start or stop) grew
        the heap without bound. Rebuilding when it doubles costs O(1) per push, amortized.
        """
        heapq.heappush(self._timers, timer)
        if len(self._timers) >= self._compact_at:
            self._timers = [t for t in self._timers if not t.cancelled]
            heapq.heapify(self._timers)
            self._compact_at = max(COMPACT_MIN, 2 * len(self._timers))

    def _next_timeout(self) -> float:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        if not self._timers:
            return -1
        return min(MAX_WAIT, max(0.0, self._timers[0].at - time.monotonic()))

    def _run(self) -> None:
        failed = False
        while self._running:
            try:
                self._loop()
            except Exception:
                # The loop must outlive its own bug: shutting down needs it (exits, stop timers). The first
                # failure is reported (the daemon stops); a repeating one is not logged again and is paced.
                if not failed:
                    failed = True
                    faults.died("the I/O loop", sys.exc_info())
                time.sleep(0.05)
        with self._lock:
            self._stopped = True
        self._run_pending()  # outlets closed meanwhile: their fds are forgotten and closed here
        for fd in list(self._watches):
            self._drop(fd)

    def _loop(self) -> None:
        while self._running:
            try:
                events = self._epoll.poll(self._next_timeout())
            except InterruptedError:
                continue
            for fd, mask in events:
                if fd == self._wake_fd:
                    try:
                        os.eventfd_read(self._wake_fd)
                    except BlockingIOError:
                        pass
                    continue
                self._ready(fd, mask)
            self._run_pending()
            self._run_timers()

    def _run_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for fn in pending:
            self._safely(fn)

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and (self._timers[0].cancelled or self._timers[0].at <= now):
            timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                self._safely(timer.callback)

    def _ready(self, fd: int, mask: int, *, drain: bool = False) -> None:
        watch = self._watches.get(fd)
        if watch is None:
            return
        if watch.on_writable is not None:  # an outlet (EPOLLERR/HUP too: its write then reports the error)
            more = False
            try:
                more = watch.on_writable()
            except Exception:
                log.exception("io-loop writer failed")
            if not more:
                self._drop(fd)
            return
        if watch.on_readable is not None:  # the consumer reads: pause until it says it has
            self._pause(watch)
            assert watch.flow is not None
            watch.flow.hold()
            self._safely(watch.on_readable)
            return
        if watch.on_data is None:  # a pidfd: readable means exited
            self._drop(fd)
            self._safely(watch.on_close)
            return
        try:
            data = bytes(self._view[: os.readv(fd, (self._buffer,))])
        except BlockingIOError:
            if drain:  # nothing more now: what comes later is the grandchild's, and it is not ours
                self._drop(fd)
                self._safely(watch.on_close)
            return
        except OSError as exc:
            if exc.errno not in (errno.EIO, errno.EBADF):
                log.warning("read error on fd %d: %s", fd, exc)
            data = b""
        if data:
            try:
                watch.on_data(data)  # type: ignore[misc]
            except pykka.ActorDeadError:
                self._drop(fd)  # nobody will ever consume (or acknowledge) this pipe again
                return
            except Exception:
                log.exception("io-loop callback failed")
            if watch.flow is not None and watch.flow.sent(len(data)):
                self._pause(watch)
        else:
            self._drop(fd)
            self._safely(watch.on_close)

    @staticmethod
    def _safely(fn: Callable[[], None]) -> None:
        try:
            fn()
        except pykka.ActorDeadError:
            pass  # output or an exit arriving after its actor stopped: nothing left to tell
        except Exception:  # a callback's bug must never kill the loop
            log.exception("io-loop callback failed")


def _noop() -> None:
    pass
