"""What a client may cost the daemon: connection cap, request-head deadline and request-body cap.

Why: pywsgi has none of these. About a thousand idle TCP connections used every descriptor under the usual
``ulimit -n 1024``, so the API became unreachable and a crashing program could not be respawned ("too many
open files"); and a body of any size was read into memory and parsed on the hub. Here:

* one :class:`ConnectionPool` is shared by every listener and holds at most :func:`connection_cap`
  connections, which leaves descriptors in reserve for the processes (their pipes, pidfds and logs). A
  connection over the cap closes the connection that has waited longest for a request head, or, when every
  connection is busy with a request, is answered 503 and closed;
* a new connection that has not sent a complete request head within ``header_timeout`` seconds, and a
  kept-alive one with no complete request within ``idle_timeout`` seconds of the last reply, are closed
  without a word. The idle default is Supervisor's (medusa closes a channel idle for 30 minutes): its
  supervisorctl keeps one connection for a whole interactive session and does not reconnect;
* a body announced larger than ``request_maxbytes`` is answered 413 and the connection closed, unread; a
  chunked body is read up to the cap (and refused beyond it) before any route sees it.
"""

from __future__ import annotations

import io
import resource
from typing import TYPE_CHECKING, Any

import gevent
import gevent.pool
from gevent.pywsgi import WSGIHandler

from supervisord.config.model import InetHttpServerConfig

if TYPE_CHECKING:
    from supervisord.config.model import Config

RESERVE_BASE = 64  # the daemon's own descriptors: listeners, logs, the I/O loop, the hub, a few spares
RESERVE_PER_PROCESS = 8  # a running child: 3 pipes, a pidfd, 2 log files; plus the child ends while spawning
PER_CONNECTION = 2  # its socket, and the log file a tail stream (or a log read) holds open
MIN_CONNECTIONS = 8

_TOO_LARGE = (
    b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
    b"Connection: close\r\n\r\nRequest Entity Too Large"
)
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n"
    b"Connection: close\r\n\r\nService Unavailable"
)
_BAD = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
    b"Connection: close\r\n\r\nBad Request"
)


def connection_cap(config: Config) -> int:
    """Connections the HTTP servers may hold: the descriptor limit less a reserve for every process."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    processes = sum(len(group.processes) for group in config.groups)
    spare = soft - RESERVE_BASE - RESERVE_PER_PROCESS * processes
    return max(MIN_CONNECTIONS, spare // PER_CONNECTION)


class ConnectionPool(gevent.pool.Pool):  # type: ignore[misc]
    """The greenlets serving connections, across every listener, with room made for new ones.

    Unbounded as a gevent pool (so the accept loops never stop), but :meth:`admit` keeps it within ``cap``
    by closing the longest-idle connection. ``waiting`` holds the connections waiting for a request head, in
    the order they started waiting (a dict keeps insertion order); each leaves it when its head is in or it
    ends (GuardedHandler.handle_one_request's ``finally``).
    """

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap
        self.waiting: dict[Any, None] = {}

    def admit(self, me: Any) -> bool:
        """Whether the connection served by greenlet ``me`` may go on (False: answer 503 and close)."""
        if len(self) - len(self.dying) <= self.cap:
            return True
        for victim in self.waiting:
            if victim is not me:
                del self.waiting[victim]
                self.killone(victim, block=False)  # closes its socket as it unwinds
                return True
        return False

    def idle(self, me: Any) -> None:
        self.waiting.pop(me, None)
        self.waiting[me] = None

    def busy(self, me: Any) -> None:
        self.waiting.pop(me, None)


class GuardedHandler(WSGIHandler):  # type: ignore[misc]
    """pywsgi's handler with admission, the request-head deadline and the body cap (see the module doc).

    ``request_maxbytes``, ``header_timeout`` and ``idle_timeout`` are set per listener on a subclass (0: no
    limit).
    """

    request_maxbytes = InetHttpServerConfig.request_maxbytes
    header_timeout = InetHttpServerConfig.header_timeout
    idle_timeout = InetHttpServerConfig.idle_timeout
    answered = 0  # requests served on this connection
    refused = False
    too_large = False
    head_timer: gevent.Timeout | None = None

    def _pool(self) -> ConnectionPool | None:
        pool = self.server.pool
        return pool if isinstance(pool, ConnectionPool) else None

    def handle(self) -> None:
        pool = self._pool()
        self.refused = pool is not None and not pool.admit(gevent.getcurrent())
        super().handle()

    def handle_one_request(self) -> Any:
        if self.refused:
            return ("503", _BUSY)  # pywsgi sends it and closes the connection
        pool = self._pool()
        if pool is not None:
            pool.idle(gevent.getcurrent())
        limit = self.idle_timeout if self.answered else self.header_timeout
        timer = gevent.Timeout.start_new(limit) if limit > 0 else None
        self.head_timer = timer
        try:
            self.answered += 1
            return super().handle_one_request()
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            return None  # no complete head in time: close quietly
        finally:
            if timer is not None:
                timer.close()
            if pool is not None:
                pool.busy(gevent.getcurrent())

    def read_request(self, raw_requestline: str) -> Any:
        ok = super().read_request(raw_requestline)
        if self.head_timer is not None:
            self.head_timer.cancel()  # the head is in: what follows is the request's own time
        pool = self._pool()
        if pool is not None:
            pool.busy(gevent.getcurrent())
        cap = self.request_maxbytes
        self.too_large = bool(cap and self.content_length is not None and self.content_length > cap)
        return ok

    def handle_one_response(self) -> None:
        if self.too_large:
            self._refuse(_TOO_LARGE)
            return
        cap = self.request_maxbytes
        if cap and self.content_length is None and self.environ.get("HTTP_TRANSFER_ENCODING"):
            try:
                body = self.wsgi_input.read(cap + 1)
            except (ValueError, OSError):
                self._refuse(_BAD)
                return
            if len(body) > cap:
                self._refuse(_TOO_LARGE)
                return
            self.environ["wsgi.input"] = io.BytesIO(body)
            self.environ["CONTENT_LENGTH"] = str(len(body))
        super().handle_one_response()

    def _refuse(self, response: bytes) -> None:
        self.close_connection = True
        self.response_length = 0
        try:
            self.socket.sendall(response)
        except OSError:
            pass
