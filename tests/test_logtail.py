"""The streaming log endpoints ``/logtail/<name>[/channel]`` and ``/mainlogtail`` (python-supervisor.md §1.1)."""

from __future__ import annotations

import http.client
import time
from typing import Any

from harness import wait_for
from rpcutil import free_port, inet_section, wait_ready, wait_state


def _start(daemon: Any, tmp_path: Any) -> tuple[Any, int]:
    port = free_port()
    body = (
        "[program:echo]\ncommand = cat\nstartsecs = 0\n"
        f"stdout_logfile = {tmp_path / 'echo.log'}\n"
        "[program:quiet]\ncommand = sleep 1000\nstartsecs = 0\nstdout_logfile = NONE\n"
    )
    daemon(body, supervisord=inet_section(port))
    server = wait_ready(port)
    wait_state(server, "echo", "RUNNING")
    return server, port


def _get(port: int, path: str, method: str = "GET") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path)
    return conn.getresponse()


class Stream:
    """Collects what a chunked response delivers, without waiting for it to end (it never does)."""

    def __init__(self, resp: http.client.HTTPResponse) -> None:
        self.resp = resp
        self.data = b""

    def until(self, needle: bytes, timeout: float = 10) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.data:
            assert time.monotonic() < deadline, f"{needle!r} never arrived; got {self.data!r}"
            self.data += self.resp.read1(65536)
        return self.data


def test_not_found_and_bad_method(daemon: Any, tmp_path: Any) -> None:
    _, port = _start(daemon, tmp_path)
    assert _get(port, "/logtail/nosuch").status == 404
    assert _get(port, "/logtail/echo:*").status == 404
    assert _get(port, "/logtail/quiet").status == 404  # no log file
    empty = _get(port, "/logtail/echo/stderr")  # an empty log: the headers still arrive at once
    assert empty.status == 200
    empty.close()
    assert _get(port, "/logtail/echo/bogus").status == 404
    assert _get(port, "/logtail/echo", method="POST").status == 400


def test_follow_head_append_truncate(daemon: Any, tmp_path: Any) -> None:
    server, port = _start(daemon, tmp_path)
    server.supervisor.sendProcessStdin("echo", "x" * 3000 + "\nEND-OF-HEAD\n")
    wait_for(lambda: "END-OF-HEAD" in server.supervisor.readProcessStdoutLog("echo", 0, 0), what="head")
    resp = _get(port, "/logtail/echo")
    assert resp.status == 200
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.getheader("Content-Type") == "text/plain;charset=utf-8"
    stream = Stream(resp)
    head = stream.until(b"END-OF-HEAD\n")
    assert len(head) == 1024  # only the last 1 KiB of a bigger file
    server.supervisor.sendProcessStdin("echo", "appended\n")
    stream.until(b"appended\n")
    server.supervisor.clearProcessLogs("echo")
    stream.until(b"==> File truncated <==\n")
    server.supervisor.sendProcessStdin("echo", "after-clear\n")
    stream.until(b"after-clear\n")
    resp.close()


def test_follow_rotation_by_rename(daemon: Any, tmp_path: Any) -> None:
    server, port = _start(daemon, tmp_path)
    stream = Stream(_get(port, "/logtail/echo/stdout"))
    server.supervisor.sendProcessStdin("echo", "before\n")
    stream.until(b"before\n")
    log = tmp_path / "echo.log"
    log.rename(tmp_path / "echo.log.1")
    log.write_bytes(b"fresh file\n")  # a new inode at the same path: followed from its start
    stream.until(b"fresh file\n")


def test_mainlogtail(daemon: Any, tmp_path: Any) -> None:
    server, port = _start(daemon, tmp_path)
    resp = _get(port, "/mainlogtail")
    assert resp.status == 200
    stream = Stream(resp)
    stream.data = resp.read1(65536)
    server.supervisor.stopProcess("quiet")
    stream.until(b"stopped: quiet")
