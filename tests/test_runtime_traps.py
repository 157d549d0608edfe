"""The runtime's known traps (architecture.md §0), each reproduced against the real daemon.

* a blocked actor must not stall HTTP (the hub never waits on an OS primitive);
* a stop sent right after a spawn must not be lost, in any state;
* every stop signal gives an ordered shutdown and exit 0, leaving nothing behind.
"""

from __future__ import annotations

import fcntl
import http.client
import os
import signal
import struct
import subprocess
import termios
import textwrap
import threading
import xmlrpc.client
from pathlib import Path
from typing import Any

import pytest
from harness import Daemon, wait_for
from rpcutil import free_port, inet_section

HANG = 10.0  # seconds: a call that takes this long is stuck, not slow (how fast calls are: scripts/bench runtime)


class _Transport(xmlrpc.client.Transport):
    """An XML-RPC client that gives up after HANG seconds instead of waiting for ever."""

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        conn = super().make_connection(host)
        conn.timeout = HANG
        return conn


def _proxy(port: int) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2", transport=_Transport())


def _pipe_bytes(fd: int) -> int:
    """Bytes written into a pipe and not read yet."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def test_http_stays_responsive_while_an_actor_is_blocked(tmp_path: Path) -> None:
    """A sink blocked writing to the daemon's full, unread stdout holds one worker; HTTP must not notice."""
    port = free_port()
    d = Daemon(
        tmp_path,
        inet_section(port)
        + textwrap.dedent(
            """
        [program:flood]
        command = yes
        stdout_logfile = /dev/stdout
        stdout_logfile_maxbytes = 0
        startsecs = 0
        [program:quiet]
        command = sleep 1000
        startsecs = 0
        """
        ),
    )
    d.stdout_path = None  # type: ignore[assignment]
    full_env = {"SUPERVISORD_PY_TEST_TAG": d.tag}
    proc = subprocess.Popen(
        d.command(),
        stdout=subprocess.PIPE,  # never read until the end: the pipe fills and the sink blocks in write()
        stderr=subprocess.DEVNULL,
        env={**os.environ, **full_env},
        cwd=tmp_path,
        start_new_session=True,
    )
    d.proc = proc
    try:
        rpc = _proxy(port)
        wait_for(lambda: _try(rpc.supervisor.getPID) == proc.pid, what="the RPC interface")
        assert proc.stdout is not None
        # the flood fills the unread 64 KiB pipe: from then on the sink cannot write to it
        wait_for(
            lambda: _pipe_bytes(proc.stdout.fileno()) >= 48 * 1024, what="the daemon's stdout pipe to fill"
        )
        for _ in range(50):  # each call fails the test if it hangs (HANG), however slow the machine
            assert rpc.supervisor.getPID() == proc.pid
            assert {p["name"] for p in rpc.supervisor.getAllProcessInfo()} == {"flood", "quiet"}
    finally:
        drain = threading.Thread(target=lambda: proc.stdout.read() if proc.stdout else None, daemon=True)
        drain.start()
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        d.kill()
    assert proc.returncode == 0


def _try(fn):  # type: ignore[no-untyped-def]
    try:
        return fn()
    except OSError:
        return None


@pytest.mark.parametrize("startsecs", [0, 5])
def test_stop_right_after_start_is_prompt(daemon, startsecs: int) -> None:
    port = free_port()
    d = daemon(
        inet_section(port)
        + textwrap.dedent(
            f"""
        [program:p]
        command = sleep 1000
        autostart = false
        startsecs = {startsecs}
        stopwaitsecs = 30
        """
        )
    )
    rpc = _proxy(port)  # gives up after HANG (10 s) < stopwaitsecs (30 s): a lost stop fails the test
    for n in range(1, 6):
        assert rpc.supervisor.startProcess("p", False) is True
        assert rpc.supervisor.stopProcess("p", True) is True
        assert rpc.supervisor.getProcessInfo("p")["statename"] == "STOPPED"
        assert d.count(r"stopped: p \(terminated by SIGTERM\)") == n
    assert d.stop() == 0


def test_stop_from_backoff_is_immediate(daemon) -> None:
    port = free_port()
    d = daemon(
        inet_section(port)
        + textwrap.dedent(
            """
        [program:flap]
        command = sh -c 'exit 1'
        startsecs = 1
        startretries = 100
        """
        )
    )
    rpc = _proxy(port)
    wait_for(lambda: rpc.supervisor.getProcessInfo("flap")["statename"] == "BACKOFF", what="BACKOFF")
    assert rpc.supervisor.stopProcess("flap") is True  # no child to signal: it does not wait for the retry
    assert rpc.supervisor.getProcessInfo("flap")["statename"] == "STOPPED"
    assert d.stop() == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT])
def test_every_stop_signal_shuts_down_in_order(daemon, signum: int) -> None:
    d = daemon(
        """
        [program:first]
        command = sleep 1000
        priority = 1
        startsecs = 0
        [program:last]
        command = sleep 1000
        priority = 2
        startsecs = 0
        """
    )
    d.wait_log(r"spawned: 'last'")
    d.signal(signum)
    assert d.stop() == 0
    name = signal.Signals(signum).name
    assert d.count(rf"received {name} indicating exit request") == 1
    assert d.times(r"stopped: last ")[0] <= d.times(r"stopped: first ")[0]


def test_pidfile_removed_at_exit(daemon, tmp_path: Path) -> None:
    d = daemon("[program:x]\ncommand = sleep 1000\n")
    pidfile = tmp_path / "supervisord.pid"
    assert d.proc is not None and pidfile.read_text().strip() == str(d.proc.pid)
    assert d.stop() == 0
    assert not pidfile.exists()
