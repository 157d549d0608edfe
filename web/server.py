"""The HTTP listeners: bound with stdlib sockets in the foreground, served by gevent in the daemon.

Binding happens before daemonizing (so "address in use" reaches the terminal) and before the gevent hub
exists (architecture.md §3); serving wraps the same sockets in gevent sockets once the hub is bound.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from supervisord.config.model import Config

if TYPE_CHECKING:
    from supervisord.daemon import Daemon


class ListenError(Exception):
    """A listener could not be opened; the message says which and why."""


@dataclass
class Listeners:
    inet: socket.socket | None = None
    unix: socket.socket | None = None
    unix_path: str | None = None
    servers: list[Any] = field(default_factory=list)

    def fds(self) -> list[int]:
        return [s.fileno() for s in (self.inet, self.unix) if s is not None]

    def close(self) -> None:
        for sock in (self.inet, self.unix):
            if sock is not None:
                sock.close()
        if self.unix_path:
            try:
                os.unlink(self.unix_path)
            except OSError:
                pass
        self.inet = self.unix = None


def _socket_answers(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def bind_listeners(config: Config) -> Listeners:
    """Open the configured TCP and unix sockets (no section, no server)."""
    listeners = Listeners()
    inet = config.inet_http_server
    if inet is not None:
        host = "" if inet.host in ("", "*") else inet.host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, inet.port))
        except OSError as exc:
            sock.close()
            raise ListenError(f"Cannot open an HTTP server: socket.error reported {exc}") from None
        sock.listen(128)
        listeners.inet = sock
    unix = config.unix_http_server
    if unix is not None:
        path = unix.file
        if os.path.exists(path):
            if not stat.S_ISSOCK(os.stat(path).st_mode):
                listeners.close()
                raise ListenError(
                    f"Cannot open an HTTP server: {path} exists and is not a socket; remove it or set "
                    f"another [unix_http_server] file"
                )
            if _socket_answers(path):
                listeners.close()
                raise ListenError(
                    f"Another program is already listening on a port that one of our HTTP servers is "
                    f"configured to use ({path}).  Shut this program down first before starting supervisord."
                )
            os.unlink(path)  # stale: nothing answers there
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # born 0600: nobody else can connect before the chmod below
        try:
            sock.bind(path)
        except OSError as exc:
            sock.close()
            listeners.close()
            if exc.errno == errno.ENOENT:
                raise ListenError(f"Cannot open an HTTP server: no such directory for {path}") from None
            raise ListenError(f"Cannot open an HTTP server: socket.error reported {exc}") from None
        finally:
            os.umask(old)
        try:
            _set_owner_and_mode(path, unix.chmod, unix.chown)
        except ListenError:
            sock.close()
            listeners.close()
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        sock.listen(128)
        listeners.unix = sock
        listeners.unix_path = path
    return listeners


def rebind_listeners(listeners: Listeners, old: Config, new: Config) -> None:
    """On reload, make ``listeners`` match ``new``: what changed is bound afresh, the rest kept as it is.

    Supervisor re-opens its servers on every reload, so a new port, socket file, ``chmod`` or ``chown``
    takes effect; a listener whose settings did not change keeps its socket here, so clients queued in
    its backlog are not dropped. The new addresses are bound before the old ones close; when they overlap
    (the same port on another host, the same socket path) the old one is closed first. If a new address
    cannot be bound, the old listeners are restored and ListenError is raised (the caller keeps the old
    config).
    """
    inet_changed = _inet_key(old) != _inet_key(new)
    unix_changed = _unix_key(old) != _unix_key(new)
    if not (inet_changed or unix_changed):
        return
    wanted = replace(
        new,
        inet_http_server=new.inet_http_server if inet_changed else None,
        unix_http_server=new.unix_http_server if unix_changed else None,
    )
    try:
        fresh = _bind(wanted)
    except ListenError:
        if not _overlap(wanted, old):
            raise  # the old listeners are untouched
        _drop(listeners, inet_changed, unix_changed)
        try:
            fresh = _bind(wanted)
        except ListenError:
            previous = replace(
                old,
                inet_http_server=old.inet_http_server if inet_changed else None,
                unix_http_server=old.unix_http_server if unix_changed else None,
            )
            _adopt(listeners, _bind(previous), inet_changed, unix_changed)
            raise
    else:
        _drop(listeners, inet_changed, unix_changed, keep_path=fresh.unix_path)
    _adopt(listeners, fresh, inet_changed, unix_changed)


def _overlap(wanted: Config, old: Config) -> bool:
    """Whether a listener to bind may collide with an old one: the same port, or the same socket path."""
    a, b = old.inet_http_server, wanted.inet_http_server
    u, v = old.unix_http_server, wanted.unix_http_server
    return (a is not None and b is not None and a.port == b.port) or (
        u is not None and v is not None and u.file == v.file
    )


def _bind(config: Config) -> Listeners:
    """bind_listeners, any OS failure (out of descriptors, say) a ListenError: a reload must not die."""
    try:
        return bind_listeners(config)
    except OSError as exc:
        raise ListenError(f"Cannot open an HTTP server: {exc}") from None


def _inet_key(config: Config) -> tuple[str, int] | None:
    inet = config.inet_http_server
    return None if inet is None else (inet.host, inet.port)


def _unix_key(config: Config) -> tuple[str, int, str | None] | None:
    unix = config.unix_http_server
    return None if unix is None else (unix.file, unix.chmod, unix.chown)


def _drop(listeners: Listeners, inet: bool, unix: bool, keep_path: str | None = None) -> None:
    """Close the inet and/or unix listener (and remove its socket file unless a new one lives there)."""
    if inet and listeners.inet is not None:
        listeners.inet.close()
        listeners.inet = None
    if unix and listeners.unix is not None:
        listeners.unix.close()
        listeners.unix = None
        if listeners.unix_path and listeners.unix_path != keep_path:
            try:
                os.unlink(listeners.unix_path)
            except OSError:
                pass
        listeners.unix_path = None


def _adopt(listeners: Listeners, fresh: Listeners, inet: bool, unix: bool) -> None:
    if inet:
        listeners.inet = fresh.inet
    if unix:
        listeners.unix, listeners.unix_path = fresh.unix, fresh.unix_path


def _set_owner_and_mode(path: str, mode: int, owner: str | None) -> None:
    """``chmod`` and ``chown`` of the socket file; a refusal is a ListenError (a reload can hit it too)."""
    from supervisord.runtime.spawn import SpawnError, resolve_user

    try:
        os.chmod(path, mode)
        if owner:
            creds = resolve_user(owner)
            os.chown(path, creds.uid, creds.gid if ":" in owner else -1)
    except SpawnError as exc:
        raise ListenError(f"Cannot open an HTTP server: chown={owner}: {exc}") from None
    except OSError as exc:
        raise ListenError(
            f"Cannot set chmod={mode:o} chown={owner or '-'} on {path}: {exc.strerror}; adjust these "
            "values in [unix_http_server] to ones the current user may set"
        ) from None


SOCKET_KEY = "supervisord.socket"  # environ key: the client's socket, so streams can notice a hang-up


def _handler_class(section: Any = None) -> type[Any]:
    """A pywsgi handler that sends a fixed-length response in one write and exposes the client socket.

    pywsgi writes the headers and the first body chunk with two ``sendall`` calls; with TCP_NODELAY that
    is two segments, and some clients (and the reference tests) expect a reply in one. The base class
    enforces the listener's limits (web/connections.py).
    """
    from supervisord.web.connections import GuardedHandler

    class OneWriteHandler(GuardedHandler):
        request_maxbytes = getattr(section, "request_maxbytes", GuardedHandler.request_maxbytes)
        header_timeout = getattr(section, "header_timeout", GuardedHandler.header_timeout)
        idle_timeout = getattr(section, "idle_timeout", GuardedHandler.idle_timeout)

        def get_environ(self) -> dict[str, Any]:
            environ: dict[str, Any] = super().get_environ()
            environ[SOCKET_KEY] = self.socket
            return environ

        def process_result(self) -> None:
            # A log stream (marked by X-Accel-Buffering) may have nothing to say for a while: send the
            # headers at once, as Supervisor does, so clients see the 200 before the first line.
            streaming = any(h.lower() == b"x-accel-buffering" for h, _ in self.response_headers)
            if streaming and not self.headers_sent:
                self._write_with_headers(b"")
            super().process_result()

        def _write_with_headers(self, data: bytes) -> None:
            self.headers_sent = True
            self.finalize_headers()
            out = bytearray(b"HTTP/1.1 ")
            out += self.status
            out += b"\r\n"
            for header, value in self.response_headers:
                out += header + b": " + value + b"\r\n"
            out += b"\r\n"
            if data:
                if self.response_use_chunked:
                    out += b"%x\r\n" % len(data) + data + b"\r\n"
                else:
                    out += data
            self._sendall(out)

    return OneWriteHandler


def start_http_servers(daemon: Daemon, listeners: Listeners, app: Any = None) -> Callable[[], None]:
    """Serve the WSGI app on every bound listener; returns the function that stops them.

    The bound sockets live as long as their settings do not change (see :func:`rebind_listeners`); each run
    of the runtime (a reload is a new run) serves a dup of them, so a restart never drops an unchanged
    listening address and clients queue in the backlog meanwhile.
    """
    import gevent.socket
    from gevent.pywsgi import WSGIServer

    from supervisord.web.app import build_app, for_listener
    from supervisord.web.connections import ConnectionPool, connection_cap

    if app is None:
        app = build_app(daemon)
    servers = []

    config = daemon.config
    pool = ConnectionPool(connection_cap(config))  # one cap for every listener
    for sock, section in (
        (listeners.inet, config.inet_http_server),
        (listeners.unix, config.unix_http_server),
    ):
        if sock is None:
            continue
        gsock = gevent.socket.socket(sock.family, sock.type, fileno=os.dup(sock.fileno()))
        environ: dict[str, str] = {}
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            gsock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # The bound address as SERVER_NAME: otherwise pywsgi asks getfqdn(), a reverse DNS lookup that
            # can stall start-up on a broken resolver and starts gevent's resolver thread pool for nothing.
            environ["SERVER_NAME"] = gsock.getsockname()[0]
        # A pool, so stop() can end idle keep-alive connections: left alive they would keep serving the
        # previous run's app (answering SHUTDOWN_STATE) after a restart.
        server = WSGIServer(
            gsock,
            for_listener(app, section),
            log=None,
            error_log=None,
            handler_class=_handler_class(section),
            spawn=pool,
            environ=environ,
        )
        server.max_accept = 1  # one accept per loop turn, so admission (connections.py) keeps up with a flood
        server.start()
        servers.append(server)

    def stop() -> None:
        for server in servers:
            server.stop(timeout=0.5)

    return stop
