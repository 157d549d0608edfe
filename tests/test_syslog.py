"""Unit tests for syslog framing, line splitting, the bounded queue and the real-socket transports."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import wait_for

from supervisord.syslog import (
    DatagramTransport,
    LineSplitter,
    StreamTransport,
    SyslogQueue,
    Transport,
    newline_framed,
    octet_counted,
    pri,
    rfc3164,
    rfc5424,
)

NOW = 1_700_000_000.25  # 2023-11-14T22:13:20.25Z


def test_pri_values() -> None:
    assert pri("user", "info") == 14
    assert pri("local0", "err") == 131
    assert pri("LOCAL7", "DEBUG") == 23 * 8 + 7
    assert pri("kern", "emerg") == 0
    assert pri("daemon", "warn") == pri("daemon", "warning") == 28
    assert pri("nonsense", "nonsense") == 14


def test_rfc3164_local_and_remote() -> None:
    stamp = time.localtime(NOW)
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[
        stamp.tm_mon - 1
    ]
    local = rfc3164(14, "web", b"hello", pid=42, now=NOW)
    assert (
        local == f"<14>{month} {stamp.tm_mday:2d} {time.strftime('%H:%M:%S', stamp)} web[42]: hello".encode()
    )
    remote = rfc3164(131, "my tag", b"x y", hostname="box", now=NOW)
    assert re.fullmatch(rb"<131>\w{3} [ \d]\d \d\d:\d\d:\d\d box my_tag: x y", remote), remote


def test_rfc5424() -> None:
    frame = rfc5424(165, "app", b"msg here", hostname="host1", pid=7, now=NOW)
    assert frame == b"<165>1 2023-11-14T22:13:20.250000Z host1 app 7 - - msg here"
    assert rfc5424(14, "a", b"m", now=NOW).startswith(b"<14>1 2023-11-14T22:13:20.250000Z - a - - - m")


def test_tcp_framings() -> None:
    assert octet_counted(b"<14>1 abc") == b"9 <14>1 abc"
    assert octet_counted("é".encode()) == b"2 \xc3\xa9"  # octets, not characters
    assert newline_framed(b"a\nb") == b"a b\n"


def test_line_splitter_holds_partial_and_splits_long_lines() -> None:
    s = LineSplitter(limit=10)
    assert s.feed(b"one\ntw") == [b"one"]
    assert s.feed(b"o\r\nthree\n") == [b"two", b"three"]
    assert s.feed(b"x" * 25) == [b"x" * 10, b"x" * 10]
    assert s.partial == b"x" * 5
    assert s.flush() == [b"x" * 5]
    assert s.flush() == []
    assert s.feed(b"y" * 23 + b"\n") == [b"y" * 10, b"y" * 10, b"yyy"]


class _Flaky(Transport):
    def __init__(self) -> None:
        self.up = False
        self.sent: list[bytes] = []

    def send(self, frame: bytes) -> bool:
        if self.up:
            self.sent.append(frame)
        return self.up


def test_queue_bounds_drops_oldest_and_counts() -> None:
    transport = _Flaky()
    q = SyslogQueue(transport, limit=30)
    q.put([b"a" * 10, b"b" * 10, b"c" * 10])
    assert not q.flush()
    q.put([b"d" * 10])
    assert q.dropped == 1 and q.size == 30
    transport.up = True
    assert q.flush()
    assert transport.sent == [b"b" * 10, b"c" * 10, b"d" * 10]
    assert q.size == 0


def test_udp_transport_real_socket() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(5)
    t = DatagramTransport(("127.0.0.1", server.getsockname()[1]))
    try:
        assert t.send(b"<14>one")
        assert t.send(b"<14>two")
        assert server.recv(100) == b"<14>one"
        assert server.recv(100) == b"<14>two"
    finally:
        t.close()
        server.close()


def test_unix_datagram_transport_waits_for_missing_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    t = DatagramTransport(path)
    q = SyslogQueue(t)
    q.put([b"early"])
    assert not q.flush()  # no syslog daemon yet: kept, not lost
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(5)
    try:
        assert q.flush()
        assert server.recv(100) == b"early"
    finally:
        t.close()
        server.close()


@pytest.fixture
def tcp_port() -> Iterator[int]:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    yield port


def _listen(port: int) -> socket.socket:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(5)
    srv.settimeout(5)
    return srv


def _read_frames(conn: socket.socket, count: int) -> list[bytes]:
    """Parse RFC 6587 octet-counted frames until ``count`` arrived."""
    buf = b""
    frames: list[bytes] = []
    conn.settimeout(5)
    while len(frames) < count:
        m = re.match(rb"(\d+) ", buf)
        if m and len(buf) >= m.end() + int(m.group(1)):
            end = m.end() + int(m.group(1))
            frames.append(buf[m.end() : end])
            buf = buf[end:]
            continue
        data = conn.recv(65536)
        assert data, f"connection closed after {frames}"
        buf += data
    return frames


def test_tcp_transport_reconnects_after_server_restart(tcp_port: int) -> None:
    srv = _listen(tcp_port)
    t = StreamTransport("127.0.0.1", tcp_port)
    q = SyslogQueue(t)
    try:
        q.put([b"first"])
        wait_for(q.flush, 5, what="connect")
        conn, _ = srv.accept()
        assert _read_frames(conn, 1) == [b"first"]
        conn.close()
        srv.close()  # the server goes away entirely
        q.put([b"while-down"])
        wait_for(lambda: t.sock is None or not q.flush(), 5, what="the dead peer to be noticed")
        srv = _listen(tcp_port)
        q.put([b"after"])
        wait_for(q.flush, 10, interval=0.05, what="reconnect and flush")
        conn, _ = srv.accept()
        assert _read_frames(conn, 2) == [b"while-down", b"after"]
        assert t.connects == 2
        conn.close()
    finally:
        t.close()
        srv.close()
