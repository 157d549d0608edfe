"""``GET /logtail/<namespec>[/stdout|stderr]`` and ``GET /mainlogtail``: follow a log over HTTP.

What ``supervisorctl tail -f``, ``maintail -f`` and ``fg`` read. The reply is chunked and never ends on its
own: it starts with the last 1 KiB, then polls the file every 0.1 s on the hub (small reads, no blocking
waits), reopens the path when it is replaced (rotation) and says so when it shrinks (truncation). The
stream ends when the client hangs up, which we notice by peeking at its socket between polls.
"""

from __future__ import annotations

import email.utils
import os
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import gevent

from supervisord import namespec
from supervisord.actors.messages import FindProcesses, Outcome
from supervisord.web.server import SOCKET_KEY

if TYPE_CHECKING:
    from supervisord.daemon import Daemon

HEAD_BYTES = 1024
POLL_SECONDS = 0.1
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


def follow(path: str, sock: Any = None) -> Iterator[bytes]:
    """Yield the last 1 KiB of ``path``, then whatever is appended, until the client disconnects."""
    fh: BinaryIO | None = None
    ino = -1
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in finally, the generator may be abandoned
        st = os.fstat(fh.fileno())
        ino = st.st_ino
        fh.seek(max(0, st.st_size - HEAD_BYTES))
        pos = fh.tell()
        head = fh.read()
        pos += len(head)
        if head:
            yield head
        while True:
            gevent.sleep(POLL_SECONDS)
            if _client_gone(sock):
                return
            try:
                st = os.stat(path)
            except OSError:
                continue  # rotated away and not yet recreated
            if st.st_ino != ino:
                fh.close()
                fh = open(path, "rb")  # noqa: SIM115
                ino = os.fstat(fh.fileno()).st_ino
                pos = 0
            elif st.st_size < pos:
                pos = 0
                fh.seek(0)
                yield TRUNCATED
                continue
            fh.seek(pos)
            data = fh.read(READ_CHUNK)
            if data:
                pos += len(data)
                yield data
    finally:
        if fh is not None:
            fh.close()


class _NotFound(Exception):
    pass


def _process_log(daemon: Daemon, spec: str) -> str:
    name, _, channel = spec.partition("/")
    channel = channel or "stdout"
    if channel not in ("stdout", "stderr") or not name or namespec.parse(name).is_group:
        raise _NotFound()
    try:
        found = daemon.supervisor.ask(FindProcesses(name), block=False).get(timeout=10)
    except Exception:
        raise _NotFound() from None
    if isinstance(found, Outcome) or not found or found[0][0] is None:
        raise _NotFound()
    snap = found[0][0]
    path: str = snap.stdout_logfile if channel == "stdout" else snap.stderr_logfile
    if not path:
        raise _NotFound()
    return path


class LogTail:
    """WSGI middleware serving the two tail routes itself and passing everything else on.

    Plain WSGI rather than Bottle routes: Bottle pulls the first chunk out of a generator before it sends
    anything, so a quiet log would hold back even the status line.
    """

    def __init__(self, app: Any, daemon: Daemon) -> None:
        self.app = app
        self.daemon = daemon

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
                logfile = self.daemon.config.supervisord.logfile
            else:
                logfile = _process_log(self.daemon, path[len("/logtail/") :])
            mtime = os.stat(logfile).st_mtime
        except (_NotFound, OSError):
            return _plain(start_response, "404 Not Found")
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
