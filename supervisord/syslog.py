"""Syslog framing and non-blocking transports for child output (and ``*_syslog`` copies).

Why our own code instead of ``logging.handlers.SysLogHandler``: that handler blocks on TCP connect and
send, never reconnects after the server restarts, and has no bound on what it holds. A log sink must never
stall a child because a syslog server is slow or gone, so here every transport is non-blocking and sits
behind a :class:`SyslogQueue` that keeps at most ``limit`` bytes, drops the oldest frames when full and
counts the drops.

Framing follows what rsyslog accepts out of the box:

* local ``/dev/log`` (unix datagram): RFC 3164 without a host name, as glibc's ``syslog(3)`` sends it;
* UDP: RFC 3164 with the host name, one datagram per message;
* TCP: RFC 5424 with RFC 6587 octet counting (``LEN SP MSG``); newline framing is available too.
"""

from __future__ import annotations

import collections
import errno
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

from supervisord.config.model import LogDestination, SyslogConfig
from supervisord.mainlog import LOGGER_NAME

FACILITIES = {
    "kern": 0,
    "kernel": 0,
    "user": 1,
    "mail": 2,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "lpr": 6,
    "news": 7,
    "uucp": 8,
    "cron": 9,
    "authpriv": 10,
    "ftp": 11,
    **{f"local{n}": 16 + n for n in range(8)},
}
PRIORITIES = {
    "emerg": 0,
    "alert": 1,
    "crit": 2,
    "err": 3,
    "error": 3,
    "warning": 4,
    "warn": 4,
    "notice": 5,
    "info": 6,
    "debug": 7,
}
SOCKET_ENV = "SUPERVISORD_SYSLOG_SOCKET"  # tests point local syslog at their own socket
DEFAULT_SOCKET = "/dev/log"
MAX_MESSAGE = 8000  # rsyslog's default maxMessageSize is 8 KiB; longer lines are split, not cut
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def local_socket_path() -> str:
    return os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET


def pri(facility: str, priority: str) -> int:
    """The PRI value: facility * 8 + severity (unknown names fall back to user / info)."""
    return FACILITIES.get(facility.lower(), 1) * 8 + PRIORITIES.get(priority.lower(), 6)


def _clean_tag(tag: str) -> str:
    """RFC 3164 tags are printable ASCII without spaces, at most 32 characters (48 for an APP-NAME)."""
    cleaned = "".join(ch if 33 <= ord(ch) < 127 and ch not in "[]:" else "_" for ch in tag)
    return cleaned[:32] or "-"


def rfc3164(
    pri_value: int,
    tag: str,
    message: bytes,
    *,
    hostname: str | None = None,
    pid: int | None = None,
    now: float | None = None,
) -> bytes:
    """``<PRI>Mmm dd hh:mm:ss [host ]tag[pid]: message`` (the BSD format; local time, no year)."""
    t = time.localtime(now)
    stamp = f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    host = f"{hostname} " if hostname else ""
    ident = _clean_tag(tag) + (f"[{pid}]" if pid else "")
    return f"<{pri_value}>{stamp} {host}{ident}: ".encode() + message


def rfc5424(
    pri_value: int,
    tag: str,
    message: bytes,
    *,
    hostname: str | None = None,
    pid: int | None = None,
    now: float | None = None,
) -> bytes:
    """``<PRI>1 TIMESTAMP HOST APP PROCID - - MSG`` with a UTC timestamp in microseconds."""
    when = time.time() if now is None else now
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1e6):06d}Z"
    host = _clean_tag(hostname or "-")[:255]
    app = _clean_tag(tag)[:48]
    procid = str(pid) if pid else "-"
    return f"<{pri_value}>1 {stamp} {host} {app} {procid} - - ".encode() + message


def octet_counted(frame: bytes) -> bytes:
    """RFC 6587 §3.4.1: ``LEN SP frame`` (no trailer, so a message may contain newlines)."""
    return b"%d " % len(frame) + frame


def newline_framed(frame: bytes) -> bytes:
    """RFC 6587 §3.4.2: the frame followed by LF (embedded LFs would split it, so they become spaces)."""
    return frame.replace(b"\n", b" ") + b"\n"


class LineSplitter:
    """Turns a byte stream into lines (one syslog message each), holding a partial last line back.

    A line longer than ``limit`` is emitted in ``limit``-sized pieces so the held-back buffer is bounded.
    """

    def __init__(self, limit: int = MAX_MESSAGE) -> None:
        self.limit = limit
        self.partial = b""

    def feed(self, data: bytes) -> list[bytes]:
        data = self.partial + data if self.partial else data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        out: list[bytes] = []
        for line in lines:
            out.extend(self._pieces(line.rstrip(b"\r")))
        while len(self.partial) >= self.limit:
            out.append(self.partial[: self.limit])
            self.partial = self.partial[self.limit :]
        return out

    def flush(self) -> list[bytes]:
        """The held-back partial line, if any (at EOF or shutdown)."""
        rest, self.partial = self.partial, b""
        return self._pieces(rest) if rest else []

    def _pieces(self, line: bytes) -> list[bytes]:
        if len(line) <= self.limit:
            return [line]
        return [line[i : i + self.limit] for i in range(0, len(line), self.limit)]


class Transport:
    """A non-blocking datagram or stream sender. ``send`` returns False when the frame must wait."""

    def send(self, frame: bytes) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        pass


class DatagramTransport(Transport):
    """UDP, or a unix datagram socket such as ``/dev/log``. Each frame is one datagram.

    A missing or refusing local socket (no syslog daemon yet) is "try later"; other errors drop the frame,
    since a datagram that cannot be sent now (too big, no route) will not fit later either.
    """

    def __init__(self, address: str | tuple[str, int]) -> None:
        self.address = address
        self.sock: socket.socket | None = None
        self.target: Any = None  # the resolved address (a host name is looked up once, not per datagram)
        self.unreachable: str | None = None  # why the local socket took nothing last time (None: it did)

    def _socket(self) -> socket.socket:
        if self.sock is None:
            if isinstance(self.address, str):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self.target = self.address
            else:
                family, kind, proto, _, addr = socket.getaddrinfo(*self.address, type=socket.SOCK_DGRAM)[0]
                sock = socket.socket(family, kind, proto)
                self.target = addr
            sock.setblocking(False)
            self.sock = sock
        return self.sock

    def send(self, frame: bytes) -> bool:
        try:
            self._socket().sendto(frame, self.target)
        except socket.gaierror:
            return False  # the name does not resolve (yet): keep the frame, try again later
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOBUFS, errno.ENOTCONN):
                local = isinstance(self.address, str)
                if local and exc.errno != errno.ENOBUFS:
                    self.unreachable = exc.strerror or str(exc)  # no syslog daemon listens there
                # A remote ECONNREFUSED is a stale ICMP error from an earlier datagram: this one can go.
                return exc.errno == errno.ECONNREFUSED and not local
            if exc.errno == errno.EMSGSIZE:
                return True  # cannot ever fit: count it as gone rather than wedge the queue
            raise
        self.unreachable = None
        return True

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class StreamTransport(Transport):
    """TCP with reconnect: a non-blocking connect, partial sends kept, a closed peer noticed before we send.

    After the server restarts, the old connection is half-dead: the first send would "succeed" into the
    kernel and be lost. So before sending we poll the socket: readable with EOF (or an error) means the
    server went away, and we reconnect first. Reconnects back off from 0.1 s up to 5 s.
    """

    def __init__(self, host: str, port: int, *, framing: str = "octet") -> None:
        self.host = host
        self.port = port
        self.framing = framing
        self.sock: socket.socket | None = None
        self.connected = False
        self.partial = b""  # the unsent tail of a frame that went out in part
        self.retry_at = 0.0
        self.backoff = 0.1
        self.connects = 0  # successful connections, for diagnostics and tests

    def _frame(self, frame: bytes) -> bytes:
        return octet_counted(frame) if self.framing == "octet" else newline_framed(frame)

    def _reset(self, now: float) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.connected = False
        self.partial = b""  # a half-sent frame cannot be completed on a new connection
        self.retry_at = now + self.backoff
        self.backoff = min(self.backoff * 2, 5.0)

    def _ready(self) -> bool:
        """True when connected and writable-enough to try; starts or completes a connect as needed."""
        now = time.monotonic()
        if self.sock is None:
            if now < self.retry_at:
                return False
            try:
                infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
                family, kind, proto, _, addr = infos[0]
                sock = socket.socket(family, kind, proto)
            except OSError:
                self._reset(now)
                return False
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = sock
            err = sock.connect_ex(addr)
            if err not in (0, errno.EINPROGRESS):
                self._reset(now)
                return False
        sock = self.sock
        assert sock is not None
        poller = select.poll()
        poller.register(sock, select.POLLOUT | select.POLLIN | select.POLLRDHUP)
        events = poller.poll(0)
        mask = events[0][1] if events else 0
        if not self.connected:
            if not mask:
                return False  # still connecting
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0 or mask & (
                select.POLLERR | select.POLLHUP
            ):
                self._reset(now)
                return False
            self.connected = True
            self.backoff = 0.1
            self.connects += 1
        if mask & (select.POLLIN | select.POLLRDHUP | select.POLLHUP | select.POLLERR):
            try:
                gone = sock.recv(4096) == b""  # syslog servers never talk back; EOF means closed
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if gone:
                self._reset(now)
                self.retry_at = now  # the server is probably back already: try at once
                return self._ready()
        return bool(mask & select.POLLOUT)

    def send(self, frame: bytes) -> bool:
        if not self._ready():
            return False
        assert self.sock is not None
        if self.partial and not self._push(self.partial):
            return False
        data = self._frame(frame)
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self._reset(time.monotonic())
            return False
        if sent < len(data):
            self.partial = data[sent:]  # the frame counts as sent; its tail goes first next time
        return True

    def _push(self, data: bytes) -> bool:
        assert self.sock is not None
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self._reset(time.monotonic())
            return False
        self.partial = data[sent:]
        return not self.partial

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.connected = False


class SyslogQueue:
    """Frames waiting for a transport, at most ``limit`` bytes; the oldest are dropped (and counted)."""

    def __init__(self, transport: Transport, limit: int = 1 << 20) -> None:
        self.transport = transport
        self.limit = limit
        self.frames: collections.deque[bytes] = collections.deque()
        self.size = 0
        self.dropped = 0  # frames dropped since start

    def put(self, frames: Iterable[bytes]) -> None:
        for frame in frames:
            self.frames.append(frame)
            self.size += len(frame)
        while self.size > self.limit and self.frames:
            self.size -= len(self.frames.popleft())
            self.dropped += 1

    def flush(self) -> bool:
        """Send what the transport takes now; True when nothing is left waiting."""
        frames = self.frames
        send = self.transport.send
        while frames:
            if not send(frames[0]):
                return False
            self.size -= len(frames.popleft())
        return True

    def close(self) -> None:
        self.transport.close()


_warned_lock = threading.Lock()
_warned_paths: set[str] = set()  # local sockets already reported unreachable (once per daemon)


class SyslogTarget:
    """One message per line to local or remote syslog, through a bounded, non-blocking queue.

    ``style`` ``"supervisor"`` is Supervisor's ``*_syslog=true``: ``supervisord: <procname> <line>`` at
    user.info, as Python's ``syslog.syslog`` would send it. ``"config"`` uses syslog_facility/priority/tag.
    """

    def __init__(
        self,
        dest: LogDestination,
        syslog: SyslogConfig,
        name: str,
        channel: str,
        *,
        style: str = "config",
    ) -> None:
        self.splitter = LineSplitter()
        self.remote = dest.host is not None
        self.prefix = b""
        if style == "supervisor":
            self.tag = "supervisord"  # Python's syslog.syslog() ident under the supervisord script
            self.pri = pri("user", "info")
            self.prefix = name.encode() + b" "
        else:
            self.tag = syslog.tag or name
            priority = syslog.stderr_priority if channel == "stderr" else syslog.stdout_priority
            self.pri = pri(syslog.facility, priority)
        self.hostname = socket.gethostname() if self.remote else None
        self.pid: int | None = None
        self.tcp = dest.protocol == "tcp" and self.remote
        if dest.host is None:
            transport: Any = DatagramTransport(local_socket_path())
        elif self.tcp:
            transport = StreamTransport(dest.host, dest.port or 6514)
        else:
            transport = DatagramTransport((dest.host, dest.port or 514))
        self.queue = SyslogQueue(transport)
        self.reported_drops = 0
        self.report_after = 0.0
        self.name = name
        self.channel = channel
        self.warned_unreachable = False

    def write(self, data: bytes) -> None:
        self._put(self.splitter.feed(data))

    def end(self) -> None:
        self._put(self.splitter.flush())

    def _put(self, lines: list[bytes]) -> None:
        if not lines:
            return
        fmt = rfc5424 if self.tcp else rfc3164
        now = time.time()
        prefix, tag, pri_value, host, pid = self.prefix, self.tag, self.pri, self.hostname, self.pid
        self.queue.put(fmt(pri_value, tag, prefix + line, hostname=host, pid=pid, now=now) for line in lines)
        self.flush()

    def pending(self) -> bool:
        return bool(self.queue.frames)

    def flush(self) -> None:
        self.queue.flush()
        if not self.warned_unreachable:
            self._warn_if_unreachable()

    def _warn_if_unreachable(self) -> None:
        """Say in the main log that no syslog daemon takes this output, rather than lose it silently.

        Once per socket path for the daemon's life: a thousand processes logging there get one warning,
        naming the first of them.
        """
        transport = self.queue.transport
        if not isinstance(transport, DatagramTransport) or transport.unreachable is None:
            return
        self.warned_unreachable = True
        with _warned_lock:
            if str(transport.address) in _warned_paths:
                return
            _warned_paths.add(str(transport.address))
        logging.getLogger(LOGGER_NAME).warning(
            "%s %s is logged to syslog, but nothing receives it at %s (%s): its lines, and those of any "
            "other program logging there, are held (up to %d KiB each) and the oldest dropped beyond that, "
            "until a syslog daemon listens there",
            self.name,
            self.channel,
            transport.address,
            transport.unreachable,
            self.queue.limit // 1024,
        )

    def reopen(self) -> None:
        pass

    def clear(self) -> None:
        pass

    def close(self) -> None:
        self.queue.flush()
        self.queue.close()
