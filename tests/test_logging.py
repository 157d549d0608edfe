"""Child-log sinks and the main log: pure pieces first, then the real daemon end to end.

End-to-end tests number every line a child writes, so "nothing lost, nothing doubled" is checked by
comparing the concatenated files (oldest backup first) with the exact sequence.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import Daemon, wait_for

from supervisord.capture import BEGIN_TOKEN, END_TOKEN, AnsiStripper, CaptureScanner, strip_ansi
from supervisord.logtargets import FileTarget, clear_auto_logs
from supervisord.runtime.ioloop import Flow, IOLoop

MakeDaemon = Callable[..., Daemon]
INFO = ("-e", "info")  # keep child output out of the main log where volume is high


def numbered(lines: int, start: int = 1) -> str:
    """A shell command writing ``lines`` 64-byte numbered lines (``%%`` survives config expansion)."""
    return f"seq -f %%063.0f {start} {start + lines - 1}"


def series(paths: list[Path]) -> list[int]:
    data = b"".join(p.read_bytes() for p in paths if p.exists())
    assert not data or data.endswith(b"\n"), "a file ends in the middle of a line"
    return [int(x) for x in data.split(b"\n")[:-1]]


def chain(base: Path, backups: int) -> list[Path]:
    """Oldest first: base.N … base.1, base."""
    return [Path(f"{base}.{n}") for n in range(backups, 0, -1)] + [base]


def total_size(paths: list[Path]) -> int:
    """Bytes across the files; 0 when a rotation renames one under our feet (the caller polls again)."""
    try:
        return sum(p.stat().st_size for p in paths if p.exists())
    except FileNotFoundError:
        return 0


# --- pure pieces ---


def test_strip_ansi_one_shot_and_split_across_chunks() -> None:
    assert strip_ansi(b"\x1b[1;31mred\x1b[0m plain \x1b[2K\x1b[10;5H.") == b"red plain ."
    s = AnsiStripper()
    out = s.feed(b"a\x1b[3") + s.feed(b"1mb\x1b") + s.feed(b"[0mc\n")
    assert out == b"abc\n"
    assert s.feed(b"no escapes") == b"no escapes"
    assert s.feed(b"esc at end \x1b") == b"esc at end "
    assert s.flush() == b"\x1b"


@pytest.mark.parametrize("cut", range(1, 60))
def test_capture_scanner_tokens_split_anywhere(cut: int) -> None:
    stream = b"before" + BEGIN_TOKEN + b"secret" + END_TOKEN + b"after\n"
    scanner = CaptureScanner(1024)
    segments = scanner.feed(stream[:cut]) + scanner.feed(stream[cut:])
    logged = b"".join(d for k, d in segments if k == "log")
    captured = b"".join(d for k, d in segments if k == "capture")
    events = [d for k, d in segments if k == "event"]
    assert logged == b"beforeafter\n"
    assert captured == b"secret"
    assert events == [b"secret"]
    assert not scanner.capturing and scanner.pending == b""


def test_capture_scanner_bound_and_false_prefix() -> None:
    scanner = CaptureScanner(4)
    segs = scanner.feed(b"x<!--XSUP")
    assert segs == [("log", b"x")] and scanner.pending == b"<!--XSUP"
    segs = scanner.feed(b"ERNOT a token\n")  # the held-back prefix was plain data after all
    assert b"".join(d for _, d in segs) == b"<!--XSUPERNOT a token\n"
    segs = scanner.feed(BEGIN_TOKEN + b"0123456789" + END_TOKEN)
    assert [d for k, d in segs if k == "event"] == [b"6789"]  # roughly the last capture_maxbytes bytes
    assert scanner.feed(b"tail<!--") == [("log", b"tail")]
    assert scanner.flush() == [("log", b"<!--")]


def test_file_target_rotation_keeps_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "f.log"
    t = FileTarget(str(path), maxbytes=100, backups=3)
    lines = [b"%09d\n" % n for n in range(1, 101)]  # 10-byte lines, 1000 bytes
    data = b"".join(lines)
    for i in range(0, len(data), 37):  # chunks that straddle line and file boundaries
        t.write(data[i : i + 37])
    t.close()
    files = chain(path, 3)
    assert [p.exists() for p in files] == [True, True, True, True]
    # Reaching maxbytes exactly rotates (Supervisor's >=), so the last write left an empty base file and
    # the three backups hold the newest 30 lines; the older ones fell off the end.
    assert series(files) == list(range(71, 101))
    assert path.stat().st_size == 0
    assert all(p.stat().st_size <= 100 for p in files)
    t = FileTarget(str(path), maxbytes=0, backups=3)  # maxbytes 0: never rotates
    t.write(b"x" * 10_000)
    t.close()
    assert path.stat().st_size == 10_000 and not Path(f"{path}.4").exists()


def test_file_target_backups_zero_truncates(tmp_path: Path) -> None:
    path = tmp_path / "f.log"
    t = FileTarget(str(path), maxbytes=50, backups=0)
    for n in range(1, 24):
        t.write(b"%09d\n" % n)
    t.close()
    assert not Path(f"{path}.1").exists()
    assert series([path]) == [21, 22, 23]  # truncated at 50 bytes (lines 1-20), then 3 more lines


def test_clear_auto_logs_only_this_identifier(tmp_path: Path) -> None:
    mine = [tmp_path / "a-stdout---supervisor-x1.log", tmp_path / "a-stdout---supervisor-x1.log.3"]
    theirs = [tmp_path / "a-stdout---other-x1.log", tmp_path / "plain.log"]
    for p in mine + theirs:
        p.write_text("x")
    assert sorted(clear_auto_logs(str(tmp_path), "supervisor")) == sorted(map(str, mine))
    assert all(p.exists() for p in theirs)


def test_flow_pauses_the_pipe_until_acknowledged() -> None:
    """Backpressure: with nothing acknowledged, the loop stops reading once ``limit`` bytes are out."""
    loop = IOLoop()
    loop.start()
    r, w = os.pipe()
    os.set_blocking(w, False)
    got: list[int] = []
    lock = threading.Lock()

    def on_data(data: bytes) -> None:
        with lock:
            got.append(len(data))

    flow = Flow(limit=256 * 1024)
    try:
        loop.watch_pipe(r, on_data, lambda: None, flow)
        chunk = b"x" * 65536
        written = 0

        def fill() -> bool:
            nonlocal written
            try:
                while True:
                    written += os.write(w, chunk)
            except BlockingIOError:
                pass
            _, ready, _ = select.select([], [w], [], 0.05)
            return not ready and flow.paused  # the writer is blocked and the loop has stopped reading

        wait_for(fill, 10, what="the pipe to fill while paused")
        with lock:
            delivered = sum(got)
        assert 256 * 1024 <= delivered < 256 * 1024 + (1 << 20) + 65536
        assert written > delivered  # the rest waits in the pipe, not in memory
        flow.done(delivered)  # the consumer catches up: reading resumes
        wait_for(lambda: sum(got) > delivered, 5, what="reading to resume")
    finally:
        loop.stop()
        os.close(w)


# --- end to end ---


def test_rotation_loses_and_doubles_nothing_at_full_rate(daemon: MakeDaemon, tmp_path: Path) -> None:
    lines = 400_000  # 25.6 MB through 1 MB files
    log = tmp_path / "seq.log"
    d = daemon(
        f"""
        [program:seq]
        command = bash -c "{numbered(lines)}; exec sleep 1000"
        stdout_logfile = {log}
        stdout_logfile_maxbytes = 1MB
        stdout_logfile_backups = 40
        startsecs = 0
        """,
        args=INFO,
    )
    files = chain(log, 40)
    wait_for(lambda: total_size(files) >= lines * 64, 60, what="every line to be logged")
    assert series(files) == list(range(1, lines + 1))
    assert Path(f"{log}.24").exists() and not Path(f"{log}.25").exists()  # 16384 lines per file
    assert all(p.stat().st_size <= 1024 * 1024 for p in files if p.exists())
    d.stop()


def _pump(target: FileTarget, lines: int) -> None:
    """Feed ``lines`` numbered 64-byte lines through a real pipe into ``target.move_from`` until EOF."""
    r, w = os.pipe()
    os.set_blocking(r, False)

    def writer() -> None:
        with os.fdopen(w, "wb") as out:
            for n in range(1, lines + 1, 1000):
                out.write(b"".join(b"%063d\n" % k for k in range(n, min(n + 1000, lines + 1))))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while True:
            moved = target.move_from(r, 1 << 20)
            if moved == 0:
                break
            if moved is None:
                select.select([r], [], [], 5)
    finally:
        thread.join()
        os.close(r)
        target.close()


def test_move_from_splices_and_still_rotates_after_whole_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sink's fast path (issue 13): bytes go pipe to file by splice(), except the last MiB before
    maxbytes, which is read so that each file still ends after a whole line; nothing lost or doubled."""
    calls = []
    splice = os.splice

    def counting(*args: object, **kwargs: object) -> int:
        calls.append(args)
        return splice(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "splice", counting)
    log = tmp_path / "fast.log"
    target = FileTarget(str(log), 3 * 1024 * 1024, 20)
    lines = 200_000  # 12.8 MB: five files of at most 3 MiB
    _pump(target, lines)
    files = chain(log, 20)
    assert series(files) == list(range(1, lines + 1))
    assert all(p.stat().st_size <= 3 * 1024 * 1024 for p in files if p.exists())
    assert Path(f"{log}.4").exists() and not Path(f"{log}.5").exists()
    assert calls and target.spliceable  # spliced, and never had to fall back


def test_move_from_appends_when_another_target_has_the_file_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """splice() writes at a position (O_APPEND is refused), so a file two targets share is only appended to."""
    calls = []
    monkeypatch.setattr(os, "splice", lambda *a, **k: calls.append(a) or 0)
    log = tmp_path / "shared.log"
    other = FileTarget(str(log), 0, 0)
    other.write(b"%063d\n" % 0)  # opened by the other channel
    target = FileTarget(str(log), 0, 0)
    _pump(target, 5_000)
    other.write(b"%063d\n" % 5_001)
    other.close()
    assert calls == []
    assert series([log]) == list(range(0, 5_002))


def test_spliced_log_loses_and_doubles_nothing_across_rotations(daemon: MakeDaemon, tmp_path: Path) -> None:
    """A plain one-file channel is moved pipe to file by splice() in the daemon too (3 MB files: the
    first 2 MB of each spliced, the last MiB read and cut after a whole line)."""
    lines = 200_000  # 12.8 MB
    log = tmp_path / "seq.log"
    d = daemon(
        f"""
        [program:seq]
        command = bash -c "{numbered(lines)}; exec sleep 1000"
        stdout_logfile = {log}
        stdout_logfile_maxbytes = 3MB
        stdout_logfile_backups = 10
        startsecs = 0
        """,
        args=INFO,
    )
    files = chain(log, 10)
    wait_for(lambda: total_size(files) >= lines * 64, 60, what="every line to be logged")
    assert series(files) == list(range(1, lines + 1))
    assert Path(f"{log}.4").exists() and not Path(f"{log}.5").exists()
    assert all(p.stat().st_size <= 3 * 1024 * 1024 for p in files if p.exists())
    d.stop()


def test_backups_zero_truncates_and_maxbytes_zero_never_rotates(daemon: MakeDaemon, tmp_path: Path) -> None:
    trunc, whole = tmp_path / "trunc.log", tmp_path / "whole.log"
    d = daemon(
        f"""
        [program:trunc]
        command = bash -c "{numbered(10_000)}; exec sleep 1000"
        stdout_logfile = {trunc}
        stdout_logfile_maxbytes = 64KB
        stdout_logfile_backups = 0
        startsecs = 0

        [program:whole]
        command = bash -c "{numbered(100_000)}; exec sleep 1000"
        stdout_logfile = {whole}
        stdout_logfile_maxbytes = 0
        startsecs = 0
        """,
        args=INFO,
    )
    wait_for(lambda: whole.exists() and whole.stat().st_size >= 6_400_000, 30, what="whole.log complete")
    assert series([whole]) == list(range(1, 100_001))
    wait_for(
        lambda: trunc.exists() and series([trunc])[-1:] == [10_000], 30, what="trunc.log to end at 10000"
    )
    got = series([trunc])
    assert got == list(range(got[0], 10_001)) and len(got) * 64 < 64 * 1024
    assert not Path(f"{trunc}.1").exists()
    d.stop()


def test_auto_log_naming_and_cleanup(daemon: MakeDaemon, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    stale = logs / "old-stdout---supervisor-abc123.log.2"
    foreign = logs / "old-stdout---otherid-abc123.log"
    stale.write_text("stale")
    foreign.write_text("foreign")
    d = daemon(
        """
        [program:auto]
        command = bash -c "echo auto-out; echo auto-err >&2; exec sleep 1000"
        startsecs = 0
        """
    )
    d.wait_log("supervisord started with pid")  # the cleanup happens before this line
    assert not stale.exists() and foreign.exists()
    out = wait_for(lambda: list(logs.glob("auto-stdout---supervisor-*.log")), what="AUTO stdout log")
    err = wait_for(lambda: list(logs.glob("auto-stderr---supervisor-*.log")), what="AUTO stderr log")
    wait_for(lambda: out[0].read_text() == "auto-out\n", what="stdout in the AUTO file")
    wait_for(lambda: err[0].read_text() == "auto-err\n", what="stderr in the AUTO file")
    assert d.stop() == 0
    assert not out[0].exists() and not err[0].exists()
    assert foreign.exists()


def test_auto_logs_kept_with_nocleanup(daemon: MakeDaemon, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    stale = logs / "old-stdout---supervisor-abc123.log"
    stale.write_text("stale")
    d = daemon(
        """
        [program:auto]
        command = bash -c "echo kept; exec sleep 1000"
        startsecs = 0
        """,
        supervisord="nocleanup = true\n",
    )
    d.wait_log("supervisord started with pid")
    out = wait_for(lambda: list(logs.glob("auto-stdout---supervisor-*.log")), what="AUTO stdout log")
    wait_for(lambda: out[0].read_text() == "kept\n", what="output in the AUTO file")
    d.stop()
    assert out[0].exists() and stale.exists()


def test_dev_stdout_and_multiple_destinations(daemon: MakeDaemon, tmp_path: Path) -> None:
    a = tmp_path / "a.log"
    d = daemon(
        f"""
        [program:both]
        command = bash -c "echo to-both-$((6*7)); echo on-stderr >&2; exec sleep 1000"
        stdout_logfile = {a}, /dev/stdout
        stderr_logfile = /dev/stderr
        startsecs = 0
        """,
        args=INFO,  # at debug the main log (echoed on stdout) would quote the child's stderr
    )
    wait_for(lambda: "to-both-42\n" in d.stdout(), what="the line on the daemon's stdout")
    wait_for(lambda: a.exists() and a.read_text() == "to-both-42\n", what="the line in a.log")
    wait_for(lambda: "on-stderr\n" in d.stderr(), what="stderr on the daemon's stderr")
    assert "on-stderr" not in d.stdout()
    d.stop()


def test_main_log_on_dev_stdout_is_not_doubled(tmp_path: Path) -> None:
    d = Daemon(tmp_path, "", args=("-l", "/dev/stdout"))
    d.logfile = d.stdout_path  # the harness polls the main log: it now lives on stdout
    try:
        d.start()
        d.signal(signal.SIGUSR2)
        d.wait_log("log reopen request")
        assert d.stop() == 0
        out = d.stdout()
        assert out.count("supervisord started with pid") == 1, out
        assert not (tmp_path / "supervisord.log").exists()
    finally:
        d.kill()


def _udp_server() -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(10)
    return server


def test_remote_udp_syslog_frames(daemon: MakeDaemon) -> None:
    server = _udp_server()
    port = server.getsockname()[1]
    try:
        d = daemon(
            f"""
            [program:udp]
            command = bash -c "printf 'hello\\nworld\\n'; sleep 0.2; echo oops >&2; exec sleep 1000"
            stdout_logfile = syslog @udp:127.0.0.1:{port}
            stderr_logfile = syslog @127.0.0.1:{port}
            syslog_facility = local3
            syslog_tag = mytag
            syslog_stdout_priority = notice
            syslog_stderr_priority = err
            startsecs = 0
            """
        )
        got = [server.recv(65536) for _ in range(3)]
        pid = d.pid_of("udp")
        host = re.escape(socket.gethostname().encode())
        frame = rb"<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d " + host + rb" mytag\[(\d+)\]: (.*)"
        parsed = [re.fullmatch(frame, g) for g in got]
        assert all(parsed), got
        assert [(m.group(1), m.group(3)) for m in parsed if m] == [
            (b"157", b"hello"),  # local3 (19) * 8 + notice (5)
            (b"157", b"world"),
            (b"155", b"oops"),  # local3 * 8 + err (3)
        ]
        assert {int(m.group(2)) for m in parsed if m} == {pid}
        d.stop()
    finally:
        server.close()


def _read_octet_frames(conn: socket.socket, count: int, buf: bytearray) -> list[bytes]:
    frames: list[bytes] = []
    while len(frames) < count:
        m = re.match(rb"(\d+) ", bytes(buf[:12]))
        if m and len(buf) >= m.end() + int(m.group(1)):
            end = m.end() + int(m.group(1))
            frames.append(bytes(buf[m.end() : end]))
            del buf[:end]
            continue
        data = conn.recv(65536)
        assert data, f"connection closed after {frames}"
        buf += data
    return frames


def _listen(port: int = 0) -> socket.socket:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(5)
    srv.settimeout(15)
    return srv


def test_remote_tcp_syslog_frames_and_reconnect(daemon: MakeDaemon, tmp_path: Path) -> None:
    srv = _listen()
    port = srv.getsockname()[1]
    go = tmp_path / "go"
    try:
        d = daemon(
            f"""
            [program:tcp]
            command = bash -c "echo one; echo two; while [ ! -e {go} ]; do sleep 0.02; done; \
                for i in $(seq 3 40); do echo $i; sleep 0.02; done; exec sleep 1000"
            stdout_logfile = syslog @tcp:127.0.0.1:{port}
            syslog_facility = daemon
            startsecs = 0
            """
        )
        conn, _ = srv.accept()
        conn.settimeout(15)
        buf = bytearray()
        first = _read_octet_frames(conn, 2, buf)
        pid = d.pid_of("tcp")
        host = re.escape(socket.gethostname().encode())
        pattern = rb"<30>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z " + host + rb" tcp %d - - (.*)" % pid
        assert [re.fullmatch(pattern, f).group(1) for f in first] == [b"one", b"two"]  # type: ignore[union-attr]
        conn.close()  # the server restarts: the old connection is gone ...
        srv.close()
        srv = _listen(port)  # ... and it listens again on the same port
        go.touch()
        conn, _ = srv.accept()
        conn.settimeout(15)
        buf = bytearray()
        rest = _read_octet_frames(conn, 38, buf)
        assert [re.fullmatch(pattern, f).group(1) for f in rest] == [  # type: ignore[union-attr]
            str(n).encode() for n in range(3, 41)
        ]
        d.stop()
    finally:
        srv.close()


def test_local_syslog_and_supervisor_style_copy(daemon: MakeDaemon, tmp_path: Path) -> None:
    path = tmp_path / "log.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(10)
    plain = tmp_path / "plain.log"
    try:
        d = daemon(
            f"""
            [program:loc]
            command = bash -c "echo via-dest; exec sleep 1000"
            stdout_logfile = syslog
            startsecs = 0

            [program:copy]
            command = bash -c "sleep 0.3; echo via-copy; exec sleep 1000"
            stdout_logfile = {plain}
            stdout_syslog = true
            startsecs = 0
            """,
            start=False,
        )
        d.start(env={"SUPERVISORD_SYSLOG_SOCKET": str(path)})
        got = sorted(server.recv(65536) for _ in range(2))
        stamp = rb"\w{3} [ \d]\d \d\d:\d\d:\d\d"
        assert re.fullmatch(rb"<14>" + stamp + rb" supervisord: copy via-copy", got[1]), got
        assert re.fullmatch(rb"<14>" + stamp + rb" loc\[%d\]: via-dest" % d.pid_of("loc"), got[0]), got
        assert plain.read_text() == "via-copy\n"
        d.stop()
    finally:
        server.close()


def test_strip_ansi(daemon: MakeDaemon, tmp_path: Path) -> None:
    log = tmp_path / "color.log"
    daemon(
        f"""
        [program:color]
        command = printf '\\033[1;31mred\\033[0m and \\033[32mgreen\\033[0m\\n'
        stdout_logfile = {log}
        autorestart = false
        startsecs = 0
        """,
        supervisord="strip_ansi = true\n",
    )
    wait_for(lambda: log.exists() and log.read_bytes() == b"red and green\n", what="stripped output")


def test_capture_mode_split_tokens(daemon: MakeDaemon, tmp_path: Path) -> None:
    log = tmp_path / "cap.log"
    # The tokens reach the daemon in pieces (separate writes, apart in time), so each is split across reads.
    d = daemon(
        f"""
        [program:cap]
        command = bash -c "printf 'before<!--XSUPER'; sleep 0.2; printf 'VISOR:BEGIN-->sec'; sleep 0.2; \
            printf 'ret<!--XSUPERVISOR:E'; sleep 0.2; printf 'ND-->after\\n'; exec sleep 1000"
        stdout_logfile = {log}
        stdout_capture_maxbytes = 1MB
        stdout_events_enabled = true
        startsecs = 0
        """
    )
    d.wait_log(r"'cap' stdout emitted a comm event")
    wait_for(lambda: log.exists() and log.read_text() == "beforeafter\n", what="the log without the capture")
    d.stop()


def test_sigusr2_reopens_after_mv(daemon: MakeDaemon, tmp_path: Path) -> None:
    log = tmp_path / "mv.log"
    moved = tmp_path / "mv.log.old"
    d = daemon(
        f"""
        [program:ticker]
        command = bash -c "for i in $(seq 1 100000); do echo $i; sleep 0.002; done"
        stdout_logfile = {log}
        startsecs = 0
        autorestart = false
        """,
        args=INFO,
    )
    wait_for(lambda: log.exists() and log.stat().st_size > 100, what="some output")
    os.rename(log, moved)
    wait_for(
        lambda: moved.stat().st_size > 0 and len(series([moved])) > 50, what="writes into the moved file"
    )
    d.signal(signal.SIGUSR2)
    wait_for(lambda: log.exists() and len(series([log])) > 50, what="a new file after SIGUSR2")
    d.stop()
    old, new = series([moved]), series([log])
    assert old + new == list(range(1, len(old) + len(new) + 1))


def test_main_log_rotation(daemon: MakeDaemon, tmp_path: Path) -> None:
    d = daemon(
        """
        [program:flap]
        command = sleep 0.05
        startsecs = 0
        autorestart = true
        """,
        supervisord="logfile_maxbytes = 2KB\nlogfile_backups = 2\n",
    )
    main = d.logfile
    wait_for(lambda: Path(f"{main}.2").exists(), 30, what="two rotations of the main log")
    d.stop()
    assert not Path(f"{main}.3").exists()
    for p in (Path(f"{main}.1"), Path(f"{main}.2")):
        size = p.stat().st_size
        assert 2048 <= size < 2048 + 400, size  # rotated after the write that reached maxbytes
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \w{4} ", p.read_text())


class _Bus:
    """Stands in for the event bus ref: records what the sink tells it."""

    def __init__(self) -> None:
        self.events: list[object] = []

    def tell(self, message: object) -> None:
        self.events.append(message)


def test_sink_publishes_log_and_communication_events(tmp_path: Path) -> None:
    import logging

    from supervisord.actors.logsink import Chunk, Eof, LogSinkActor
    from supervisord.actors.messages import ProcessCommunicationEvent, ProcessLogEvent
    from supervisord.config.model import (
        LogDestination,
        LogKind,
        ProcessConfig,
        StreamLogConfig,
        SupervisordConfig,
    )
    from supervisord.runtime.context import RuntimeContext
    from supervisord.runtime.spawn import ManagedPids

    log = tmp_path / "ev.log"
    stream = StreamLogConfig(
        destinations=(LogDestination(LogKind.FILE, path=str(log)),),
        capture_maxbytes=1024,
        events_enabled=True,
    )
    config = ProcessConfig(name="p", group="g", program_name="p", command="x", stdout=stream)
    bus = _Bus()
    ctx = RuntimeContext(
        ioloop=IOLoop(),
        pids=ManagedPids(),
        logger=logging.getLogger("test-sink"),
        settings=SupervisordConfig(strip_ansi=True),
        base_environ={},
        serverurl=None,
        eventbus=bus,  # type: ignore[arg-type]
    )
    flow = Flow()
    flow.sent(200)
    sink = LogSinkActor.start(config, ctx, {"stdout": None})
    try:
        sink.tell(Chunk(b"\x1b[31mbefore\x1b[0m" + BEGIN_TOKEN[:5], 42, flow))
        sink.tell(Chunk(BEGIN_TOKEN[5:] + b"secret" + END_TOKEN + b"after\n", 42, flow))
        sink.ask(Eof(42), timeout=5)
    finally:
        sink.stop(timeout=5)
    assert log.read_bytes() == b"beforeafter\n"
    assert bus.events == [
        ProcessLogEvent("p", "g", 42, "stdout", b"before"),
        ProcessLogEvent("p", "g", 42, "stdout", b"secret"),  # captured output is a log event too
        ProcessCommunicationEvent("p", "g", 42, "stdout", b"secret"),
        ProcessLogEvent("p", "g", 42, "stdout", b"after\n"),
    ]
    expected_pending = (
        200 - len(b"\x1b[31mbefore\x1b[0m") - len(BEGIN_TOKEN) - len(b"secret") - len(END_TOKEN)
    )
    assert flow.pending == expected_pending - len(b"after\n")  # every chunk acknowledged


def _sink_ctx(tmp_path: Path, level: int = 20) -> object:
    import logging

    from supervisord.config.model import SupervisordConfig
    from supervisord.runtime.context import RuntimeContext
    from supervisord.runtime.spawn import ManagedPids

    logger = logging.getLogger(f"test-sink-{level}")
    logger.setLevel(level)
    settings = SupervisordConfig(childlogdir=str(tmp_path), identifier="t")
    return RuntimeContext(
        ioloop=IOLoop(),
        pids=ManagedPids(),
        logger=logger,
        settings=settings,
        base_environ={},
        serverurl=None,
    )


def test_one_sink_actor_per_process_and_none_for_discarded_output(tmp_path: Path) -> None:
    """Issue 13: a process costs one sink actor for both channels, and none when its output goes nowhere
    (NONE, /dev/null, redirect_stderr) unless events, capture, syslog or a debug main log need it."""
    import dataclasses
    import logging

    from supervisord.actors.logsink import LogSink
    from supervisord.config.model import LogDestination, LogKind, ProcessConfig, StreamLogConfig

    null = StreamLogConfig(destinations=(LogDestination(LogKind.NULL),))
    base = ProcessConfig(name="p", group="p", program_name="p", command="x")
    ctx = _sink_ctx(tmp_path)
    cases = {
        "auto both": (base, {"stdout", "stderr"}),
        "both NONE": (dataclasses.replace(base, stdout=null, stderr=null), set()),
        "stdout NONE, stderr AUTO": (dataclasses.replace(base, stdout=null), {"stderr"}),
        "/dev/null + redirect_stderr": (dataclasses.replace(base, stdout=null, redirect_stderr=True), set()),
        "NONE but events": (
            dataclasses.replace(base, stdout=dataclasses.replace(null, events_enabled=True), stderr=null),
            {"stdout"},
        ),
        "NONE but capture mode": (
            dataclasses.replace(base, stdout=dataclasses.replace(null, capture_maxbytes=100), stderr=null),
            {"stdout"},
        ),
    }
    for what, (config, channels) in cases.items():
        sink = LogSink(config, ctx)  # type: ignore[arg-type]
        try:
            assert set(sink.channels) == channels, what
            assert (sink.ref is None) == (not channels), what
            for channel in ("stdout", "stderr"):
                assert (sink.for_channel(channel) is not None) == (channel in channels), (what, channel)
                stream = config.stdout if channel == "stdout" else config.stderr
                has_file = stream.primary_file is not None and not (
                    channel == "stderr" and config.redirect_stderr
                )
                assert bool(sink.logfiles[channel]) == has_file, (what, channel)
        finally:
            sink.stop()
    debug = LogSink(dataclasses.replace(base, stdout=null, stderr=null), _sink_ctx(tmp_path, logging.DEBUG))  # type: ignore[arg-type]
    try:
        assert debug.channels == {"stdout", "stderr"}  # the main log copies output at loglevel debug
    finally:
        debug.stop()


def test_one_sink_writes_both_channels_in_order_and_closes_their_files(tmp_path: Path) -> None:
    from supervisord.actors.logsink import Begin, Chunk, Eof, LogSinkActor
    from supervisord.config.model import LogDestination, LogKind, ProcessConfig, StreamLogConfig

    out, err = tmp_path / "out.log", tmp_path / "err.log"

    def stream(path: Path) -> StreamLogConfig:
        return StreamLogConfig(
            destinations=(LogDestination(LogKind.FILE, path=str(path)),), maxbytes=60, backups=3
        )

    config = ProcessConfig(
        name="p", group="p", program_name="p", command="x", stdout=stream(out), stderr=stream(err)
    )
    flow = Flow()
    flow.sent(10_000)
    sink = LogSinkActor.start(config, _sink_ctx(tmp_path), {"stdout": None, "stderr": None})
    try:
        sink.tell(Begin(7, "stdout"))
        sink.tell(Begin(7, "stderr"))
        for n in range(20):
            channel = "stdout" if n % 3 else "stderr"
            sink.tell(Chunk(f"{channel} {n:02d}\n".encode(), 7, flow, channel))
        sink.ask(Eof(7, "stdout"), timeout=5)
        stdout_files = sink.proxy().channels.get()["stdout"].files()
        assert all(f.fd == -1 for f in stdout_files)  # closed once its child closed the pipe
        assert all(f.fd >= 0 for f in sink.proxy().channels.get()["stderr"].files())  # stderr still open
        sink.ask(Eof(7, "stderr"), timeout=5)
    finally:
        sink.stop(timeout=5)

    def lines(path: Path) -> list[str]:
        found = [Path(f"{path}.{n}") for n in (3, 2, 1)] + [path]
        return "".join(f.read_text() for f in found if f.exists()).split()

    assert lines(out) == [w for n in range(20) if n % 3 for w in ("stdout", f"{n:02d}")]
    assert lines(err) == [w for n in range(20) if not n % 3 for w in ("stderr", f"{n:02d}")]
    assert Path(f"{out}.1").exists()  # rotated (maxbytes 60) per channel
    assert flow.pending == 10_000 - sum(len(f"stdout {n:02d}\n") for n in range(20))


def test_redirect_stderr_goes_to_the_stdout_log(daemon: MakeDaemon, tmp_path: Path) -> None:
    log = tmp_path / "both.log"
    d = daemon(
        f"""
        [program:merged]
        command = bash -c "echo out; sleep 0.1; echo err >&2; exec sleep 1000"
        stdout_logfile = {log}
        redirect_stderr = true
        startsecs = 0
        """
    )
    wait_for(lambda: log.exists() and log.read_text() == "out\nerr\n", what="both streams in one file")
    assert not list((tmp_path / "logs").glob("merged-stderr---*"))
    d.stop()


def test_main_log_reopened_on_sigusr2_after_mv(daemon: MakeDaemon, tmp_path: Path) -> None:
    d = daemon("")
    d.wait_log("supervisord started with pid")
    moved = tmp_path / "supervisord.log.old"
    os.rename(d.logfile, moved)
    d.signal(signal.SIGUSR2)
    d.wait_log("received SIGUSR2 indicating log reopen request")  # in the new file at the old path
    assert "supervisord started with pid" in moved.read_text()
    assert "supervisord started with pid" not in d.log()
    d.stop()


def test_rotation_never_renames_over_an_existing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On ext4 a rename that replaces a file forces the renamed file to disk (auto_da_alloc): rotation
    removes the oldest backup first, as Supervisor does, and then only renames onto free names."""
    from supervisord import rotation

    log = tmp_path / "r.log"
    for suffix in ("", ".1", ".2", ".3"):
        Path(f"{log}{suffix}").write_text(suffix or "base")
    replaced = []
    rename = os.rename

    def checked(src: str, dst: str) -> None:
        if os.path.exists(dst):
            replaced.append(dst)
        rename(src, dst)

    monkeypatch.setattr(os, "rename", checked)
    monkeypatch.setattr(os, "replace", checked)
    rotation.shift_backups(str(log), 3)
    assert replaced == []
    assert [Path(f"{log}.{n}").read_text() for n in (1, 2, 3)] == ["base", ".1", ".2"]
    assert not log.exists()
