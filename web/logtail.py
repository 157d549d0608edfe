r"""``GET /logtail/<namespec>[/stdout|stderr]`` and ``GET /mainlogtail``: follow a log over HTTP.

What ``supervisorctl tail -f``, ``maintail -f`` and ``fg`` read; the REST ``follow`` stream (and so the GUI's
log view) uses the same :func:`follow`. The reply is chunked and never ends on its own: it starts with the
last 1 KiB, then sends whatever is appended, follows the path when it is replaced (rotation: the rest of the
old file first) and says so when it shrinks (truncation). The stream ends when the client hangs up.

Event-driven, not polled: the writer of the file (the log sink, the main log) announces each write through
:mod:`supervisord.logwatch`, and the client's socket becoming readable means it hung up; a follower sleeps
until one of those. An idle follower makes no reads; a check every :data:`CHECK_SECONDS` only ``stat``\ s
the path, for a file replaced by someone else (an external logrotate).
"""

from __future__ import annotations

import email.utils
import os
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import gevent
import gevent.event

from supervisord import faults, logwatch, namespec
from supervisord.web.server import SOCKET_KEY

if TYPE_CHECKING:
    from supervisord.control import Control

HEAD_BYTES = 1024
CHECK_SECONDS = 1.0  # a stat of the path this often, for changes nobody announces (no read unless it grew)
READ_CHUNK = 64 * 1024
TRUNCATED = b"==> File truncated <==\n"


def _client_gone(sock: Any) -> bool:
    if sock is None:
        return False
    raw = getattr(sock, "_sock", sock)  # gevent's recv would wait for data; peek at the OS socket instead
    try:
        data = raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    return bool(data == b"")


class _Wake:
    """What a follower sleeps on (on the hub): an announced change (from any thread) or its client's socket
    turning readable (a hang-up; a client that sends anything else is then checked at each wake)."""

    def __init__(self, sock: Any) -> None:
        loop = gevent.get_hub().loop
        self.event = gevent.event.Event()
        self.lock = threading.Lock()  # send() from a writer's thread never meets a closed watcher
        self.closed = False
        self.changed = loop.async_()
        self.changed.ref = False
        self.changed.start(self.event.set)
        self.sock = sock
        self.readable: Any = None
        if sock is not None:
            self.readable = loop.io(sock.fileno(), 1)  # 1: EV_READ
            self.readable.ref = False
            self.readable.start(self.event.set)

    def send(self) -> None:
        """Any thread: the file changed."""
        with self.lock:
            if not self.closed:
                self.changed.send()

    def wait(self, timeout: float) -> None:
        self.event.wait(timeout)
        self.event.clear()

    def client_gone(self) -> bool:
        if self.sock is None or not _client_gone(self.sock):
            return False if self.readable is None else self._quiet_client()
        return True

    def _quiet_client(self) -> bool:
        """Readable but not gone: the client sent something. Stop watching (or every wake would spin)."""
        raw = getattr(self.sock, "_sock", self.sock)
        try:
            pending = raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        if pending:
            self.readable.stop()
            self.readable = None
        return False

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.changed.stop()
            self.changed.close()
        if self.readable is not None:
            self.readable.stop()
            self.readable.close()


def follow(path: str, sock: Any = None) -> Iterator[bytes]:
    """Yield the last 1 KiB of ``path``, then whatever is appended, until the client disconnects."""
    wake = _Wake(sock)
    unwatch = logwatch.watch(path, wake.send)  # before the first read: no write can fall in between
    try:
        fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed in finally, the generator may be abandoned
    except OSError:
        unwatch()
        wake.close()
        return
    try:
        st = os.fstat(fh.fileno())
        ino = st.st_ino
        fh.seek(max(0, st.st_size - HEAD_BYTES))
        pos = fh.tell()
        head = fh.read()
        pos += len(head)
        if head:
            yield head
        more = False  # the last read filled READ_CHUNK: read on without sleeping
        while True:
            if not more:
                wake.wait(CHECK_SECONDS)
            if wake.client_gone():
                return
            more = False
            try:
                st = os.stat(path)
            except OSError:
                continue  # rotated away and not yet recreated
            if st.st_ino != ino:
                rest = fh.read()  # what the writer put in the old file before it moved it away
                if rest:
                    yield rest
                try:
                    fresh: BinaryIO = open(path, "rb")  # noqa: SIM115
                except OSError:
                    continue  # gone again: the next change says more
                fh.close()
                fh = fresh
                ino = os.fstat(fh.fileno()).st_ino
                pos = 0
            elif st.st_size < pos:
                pos = 0
                fh.seek(0)
                yield TRUNCATED
                more = True
                continue
            elif st.st_size == pos:
                continue  # nothing new: no read
            fh.seek(pos)
            data = fh.read(READ_CHUNK)
            if data:
                pos += len(data)
                more = len(data) == READ_CHUNK
                yield data
    finally:
        unwatch()
        wake.close()
        fh.close()


def _process_log(control: Control, spec: str) -> str:
    """The file of ``/logtail/<name>[/stdout|stderr]``: one process (never a group), stdout by default."""
    name, _, channel = spec.partition("/")
    channel = channel or "stdout"
    if channel not in ("stdout", "stderr") or not name or namespec.parse(name).is_group:
        raise faults.BadName(spec)
    return control.logfile(name, channel)


class LogTail:
    """WSGI middleware serving the two tail routes itself and passing everything else on.

    Plain WSGI rather than Bottle routes: Bottle pulls the first chunk out of a generator before it sends
    anything, so a quiet log would hold back even the status line.
    """

    def __init__(self, app: Any, control: Control) -> None:
        self.app = app
        self.control = control

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/mainlogtail" or path.startswith("/logtail/"):
            return self._tail(environ, start_response, path)
        return self.app(environ, start_response)

    def _tail(self, environ: dict[str, Any], start_response: Any, path: str) -> Any:
        if environ.get("REQUEST_METHOD") != "GET":
            return _plain(start_response, "400 Bad Request")
        try:
            if path == "/mainlogtail":
                logfile = self.control.main_logfile or ""
            else:
                logfile = _process_log(self.control, path[len("/logtail/") :])
            mtime = os.stat(logfile).st_mtime
        except (faults.Fault, OSError):
            return _plain(start_response, "404 Not Found")
        if path == "/mainlogtail":
            logwatch.announce_logger(self.control.daemon.logger, logfile)
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain;charset=utf-8"),
                ("Last-Modified", email.utils.formatdate(mtime, usegmt=True)),
                ("X-Accel-Buffering", "no"),
                ("Cache-Control", "no-cache"),
            ],
        )
        return follow(logfile, environ.get(SOCKET_KEY))


def _plain(start_response: Any, status: str) -> list[bytes]:
    body = f"<html><head><title>{status}</title></head><body>{status}</body></html>".encode()
    start_response(status, [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]
