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


def _syscr(pid: int) -> int:
    """Read-family system calls the process has made (/proc/PID/io ``syscr``)."""
    with open(f"/proc/{pid}/io") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("syscr:"))


def test_idle_followers_make_no_reads_and_new_lines_arrive(daemon: Any, tmp_path: Any) -> None:
    """Issue 17 follow-up: following is event-driven. While nothing is written, three followers (``tail -f``'s
    /logtail, the REST/GUI SSE follow and /mainlogtail) make the daemon read nothing; a line written later
    reaches each of them without a poll."""
    from webutil import SSE

    port = free_port()
    body = (
        f"[program:echo]\ncommand = cat\nstartsecs = 0\nstdout_logfile = {tmp_path / 'echo.log'}\n"
        "[program:quiet]\ncommand = sleep 1000\nstartsecs = 0\nstdout_logfile = NONE\n"
    )
    d = daemon(body, supervisord=inet_section(port))
    server = wait_ready(port)
    wait_state(server, "echo", "RUNNING")
    tail = Stream(_get(port, "/logtail/echo"))
    sse = SSE(port, "/program/follow/echo/stdout")
    main = Stream(_get(port, "/mainlogtail"))
    server.supervisor.sendProcessStdin("echo", "ready\n")
    tail.until(b"ready\n")
    sse.until(lambda event: "ready" in event.get("data", ""))
    main.until(b"supervisord started")

    def quiet() -> bool:
        before = _syscr(d.proc.pid)
        time.sleep(1.5)  # an observation window, longer than a follower's stat-only check
        return _syscr(d.proc.pid) == before

    # The first window may still see the streams' start-up; an idle one must come, and with polling
    # followers (ten reads a second each) it never did.
    wait_for(quiet, 20, what="a window in which the daemon, followed three times, reads nothing")
    server.supervisor.sendProcessStdin("echo", "after idle\n")
    tail.until(b"after idle\n")
    sse.until(lambda event: "after idle" in event.get("data", ""))
    server.supervisor.stopProcess("quiet")
    main.until(b"stopped: quiet")


def test_follow_loses_nothing_across_the_sinks_rotations(daemon: Any, tmp_path: Any) -> None:
    """Each chunk here ends one file and starts the next (maxbytes 1KB, two 301-byte lines a chunk): a
    follower must send the old file's last line before the new file's first, every time."""
    port = free_port()
    log = tmp_path / "rot.log"
    body = (
        f"[program:echo]\ncommand = cat\nstartsecs = 0\nstdout_logfile = {log}\n"
        "stdout_logfile_maxbytes = 1KB\nstdout_logfile_backups = 2\n"
    )
    daemon(body, supervisord=inet_section(port))
    server = wait_ready(port)
    wait_state(server, "echo", "RUNNING")
    tail = Stream(_get(port, "/logtail/echo"))
    server.supervisor.sendProcessStdin("echo", "ready\n")
    tail.until(b"ready\n")
    changes, inode = 0, log.stat().st_ino  # stable: the sink wrote "ready" before the follower saw it
    expected = [b"ready"]
    for n in range(12):
        pair = [f"{n:03d}a".ljust(300, "x"), f"{n:03d}b".ljust(300, "x")]
        expected += [line.encode() for line in pair]
        server.supervisor.sendProcessStdin("echo", "\n".join(pair) + "\n")
        tail.until(pair[1].encode() + b"\n")
        changes, inode = changes + (log.stat().st_ino != inode), log.stat().st_ino
    assert changes >= 6  # the file was replaced in (at least) every other round
    assert tail.data.split(b"\n")[:-1] == expected
