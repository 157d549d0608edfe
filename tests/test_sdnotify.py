"""systemd's notify protocol, spoken by the real daemon to a datagram socket the test binds."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest
from harness import wait_for
from rpcutil import free_port, inet_section, proxy


def receive(sock: socket.socket, timeout: float = 20.0) -> dict[str, str]:
    sock.settimeout(timeout)
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines() if line)


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_reloading_and_stopping_reach_the_notify_socket(daemon, tmp_path: Path, abstract: bool) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"supervisord-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name)
        notify_socket = "@" + name
    else:
        notify_socket = str(tmp_path / "notify")
        sock.bind(notify_socket)
    env_file = tmp_path / "child.env"
    port = free_port()
    d = daemon(
        inet_section(port)
        + f"""
[program:first]
command = sh -c 'env > {env_file}; exec sleep 1000'
startsecs = 0
""",
        start=False,
    )
    try:
        d.start(env={"NOTIFY_SOCKET": notify_socket})
        ready = receive(sock)
        assert ready["READY"] == "1"
        # READY=1 means: the first wave has forked and HTTP answers.
        assert "spawned: 'first'" in d.log()
        assert proxy(port).supervisor.getState()["statename"] == "RUNNING"
        wait_for(lambda: env_file.exists() and env_file.read_text(), what="the child's environment")
        assert "NOTIFY_SOCKET" not in env_file.read_text()

        d.signal(signal.SIGHUP)
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        reloading = receive(sock)
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert reloading["RELOADING"] == "1"
        assert before - 5_000_000 <= int(reloading["MONOTONIC_USEC"]) <= after
        assert receive(sock)["READY"] == "1"
        assert proxy(port).supervisor.getState()["statename"] == "RUNNING"

        d.signal(signal.SIGTERM)
        assert receive(sock)["STOPPING"] == "1"
        assert d.stop() == 0
    finally:
        sock.close()
        if not abstract:
            os.unlink(notify_socket)


def test_a_missing_notify_socket_does_not_stop_the_daemon(daemon, tmp_path: Path) -> None:
    d = daemon("[program:p]\ncommand = sleep 1000\nstartsecs = 0\n", start=False)
    d.start(env={"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    d.wait_log(r"success: p entered RUNNING")
    d.wait_log(r"could not notify systemd")
    assert d.stop() == 0
