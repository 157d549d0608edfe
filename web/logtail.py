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

import bottle
import gevent

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
    try:
        data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    return data == b""


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


def _stream(path: str) -> Iterator[bytes]:
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        bottle.abort(404, "Not Found")
    bottle.response.content_type = "text/plain;charset=utf-8"
    bottle.response.set_header("Last-Modified", email.utils.formatdate(mtime, usegmt=True))
    bottle.response.set_header("X-Accel-Buffering", "no")
    bottle.response.set_header("Cache-Control", "no-cache")
    return follow(path, bottle.request.environ.get(SOCKET_KEY))


def install(app: bottle.Bottle, daemon: Daemon) -> None:
    def process_tail(spec: str) -> Iterator[bytes]:
        if bottle.request.method != "GET":
            bottle.abort(400, "Bad Request")
        name, _, channel = spec.partition("/")
        channel = channel or "stdout"
        if channel not in ("stdout", "stderr") or not name:
            bottle.abort(404, "Not Found")
        _, sep, proc = name.partition(":")
        if sep and proc in ("", "*"):
            bottle.abort(404, "Not Found")
        try:
            found = daemon.supervisor.ask(FindProcesses(name), block=False).get(timeout=10)
        except Exception:
            bottle.abort(404, "Not Found")
        if isinstance(found, Outcome) or not found or found[0][0] is None:
            bottle.abort(404, "Not Found")
        snap = found[0][0]
        path = snap.stdout_logfile if channel == "stdout" else snap.stderr_logfile
        if not path:
            bottle.abort(404, "Not Found")
        return _stream(path)

    def main_tail() -> Iterator[bytes]:
        if bottle.request.method != "GET":
            bottle.abort(400, "Bad Request")
        path = daemon.config.supervisord.logfile
        if not path:
            bottle.abort(404, "Not Found")
        return _stream(path)

    app.route("/logtail/<spec:path>", method="ANY", callback=process_tail)
    app.route("/mainlogtail", method="ANY", callback=main_tail)
