"""Nothing blocks a worker: a child, a listener or a stdout that stops reading costs a bounded buffer, not a thread.

Each daemon test is built so that the old synchronous writes wedge it: the RPC deadlines below are how long a
client waits before calling the daemon stuck, not latency figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import xmlrpc.client
from pathlib import Path
from typing import Any

from harness import TAG_VAR, Daemon, wait_for
from rpcutil import free_port, inet_section, wait_state

from supervisord.runtime.hubsafe import HubSafeActor
from supervisord.runtime.ioloop import IOLoop
from supervisord.runtime.outlet import Outlet
from supervisord.runtime.pooled import blocking

PY = sys.executable
LISTENERS = Path(__file__).parent / "listeners.py"
NO_FILE = 20


class _Deadline(xmlrpc.client.Transport):
    """An HTTP transport whose every call fails after ``timeout`` seconds (a client that gives up)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host: Any) -> Any:
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


def rpc(port: int, timeout: float) -> Any:
    return xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2", transport=_Deadline(timeout))


def test_stdin_of_a_child_that_never_reads_is_buffered_then_refused(daemon: Any) -> None:
    port = free_port()
    d = daemon(inet_section(port) + "[program:sleeper]\ncommand = sleep 1000\nstartsecs = 0\n")
    server = rpc(port, timeout=10)
    wait_state(server, "sleeper", "RUNNING")
    assert server.supervisor.sendProcessStdin("sleeper", "x" * (128 << 10)) is True  # more than a pipe holds
    fault = None
    for _ in range(64):  # 8 MiB at most: the buffer is bounded well below that
        try:
            server.supervisor.sendProcessStdin("sleeper", "y" * (128 << 10))
        except xmlrpc.client.Fault as exc:
            fault = exc
            break
    assert fault is not None, "the stdin buffer never filled up"
    assert fault.faultCode == NO_FILE
    assert "sleeper: stdin is full" in fault.faultString
    assert rpc(port, timeout=2).supervisor.stopProcess("sleeper") is True  # the actor is not wedged
    assert server.supervisor.getProcessInfo("sleeper")["statename"] == "STOPPED"
    assert d.stop() == 0


def test_a_stdout_nobody_reads_holds_up_neither_processes_nor_rpc(tmp_path: Path) -> None:
    port = free_port()
    chatty = "sh -c 'yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 20000; exec sleep 1000'"
    body = inet_section(port) + (
        "[program:p]\n"
        f"command = {chatty}\n"
        "process_name = %(program_name)s_%(process_num)02d\n"
        "numprocs = 20\n"
        "startsecs = 0\n"
    )
    d = Daemon(tmp_path, body)  # loglevel debug: the children's output is copied into the main log
    with open(d.stderr_path, "wb") as err:
        d.proc = subprocess.Popen(
            d.command(),
            stdout=subprocess.PIPE,  # read by nobody until the end: full after 64 KiB
            stderr=err,
            stdin=subprocess.DEVNULL,
            env={**os.environ, TAG_VAR: d.tag},
            cwd=tmp_path,
            start_new_session=True,
        )
    reader = None
    try:
        server = rpc(port, timeout=30)
        wait_for(lambda: d.count(r"spawned: 'p_\d\d'") == 20, 30, what="20 spawns")
        rounds = 3
        for _ in range(rounds):
            assert all(r["status"] == 80 for r in server.supervisor.stopAllProcesses())
            assert all(r["status"] == 80 for r in server.supervisor.startAllProcesses())
        infos = server.supervisor.getAllProcessInfo()
        assert [i["statename"] for i in infos] == ["RUNNING"] * 20
        for n in range(20):
            name = f"p_{n:02d}"
            assert d.count(rf"spawned: '{name}' with pid \d+") == rounds + 1, name
            assert d.count(rf"stopped: {name} \(terminated by SIGTERM\)") == rounds, name
        reader = threading.Thread(target=d.proc.stdout.read, daemon=True)  # type: ignore[union-attr]
        reader.start()  # a reader at last: the queue drains, and the drops are counted in the log
        d.wait_log(r"stdout was not being read: dropped \d+ writes \(\d+ bytes\) of log output")
        assert d.stop() == 0
    finally:
        d.kill()
        if reader is not None:
            reader.join(5)


def test_a_listener_that_stops_reading_holds_up_no_other_pool(daemon: Any, tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "events.txt"
    stuck = "sh -c 'echo READY; exec sleep 1000'"  # says READY, then never reads an event
    body = inet_section(port) + "".join(
        f"[eventlistener:{name}]\ncommand = {command}\nevents = REMOTE_COMMUNICATION\n"
        for name, command in (
            ("stuck1", stuck),
            ("stuck2", stuck),
            ("rec", f"{PY} {LISTENERS} record {out}"),
        )
    )
    # Two workers and two stuck pools: a pool that blocks in write() would hold every worker.
    d = Daemon(tmp_path, body).start(env={"SUPERVISORD_ACTOR_WORKERS": "2"})
    try:
        server = rpc(port, timeout=10)
        for name in ("stuck1", "stuck2", "rec"):
            wait_state(server, name, "RUNNING")
        big = "x" * (300 << 10)  # an envelope far bigger than the pipe to a listener
        assert server.supervisor.sendRemoteCommEvent("big", big) is True
        assert server.supervisor.sendRemoteCommEvent("small", "after") is True
        got = wait_for(
            lambda: out.exists() and len(lines := out.read_text().splitlines()) >= 2 and lines,
            15,
            what="both events at the healthy listener",
        )
        assert got[0].endswith("type:big|" + big) and got[1].endswith("type:small|after")
        assert len(server.supervisor.getAllProcessInfo()) == 3
        assert d.stop() == 0
    finally:
        d.kill()


def test_outlet_refuses_whole_writes_when_full_and_the_loop_drains_it() -> None:
    loop = IOLoop()
    loop.start()
    read_end, write_end = os.pipe()
    drained: list[tuple[int, int]] = []
    outlet = Outlet(write_end, 1 << 16, loop, on_drained=lambda *counts: drained.append(counts))
    try:
        assert outlet.write(b"a" * (1 << 20))  # an empty queue takes one write of any size
        assert outlet.pending > 0
        assert not outlet.write(b"b" * 10)  # refused whole: nothing of it is queued
        received = bytearray()
        while len(received) < 1 << 20:
            received += os.read(read_end, 1 << 20)
        assert received == b"a" * (1 << 20)
        wait_for(lambda: drained, 5, what="the drop report")
        assert drained == [(1, 10)]
        assert outlet.write(b"c")
        assert os.read(read_end, 10) == b"c"
    finally:
        outlet.close()
        loop.stop()
        os.close(read_end)
    wait_for(lambda: not _is_open(write_end), 5, what="the outlet's fd to be closed")


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


class _Setter(HubSafeActor):
    def on_receive(self, message: Any) -> Any:
        message.set()


class _Waiter(HubSafeActor):
    """Tells the setter from inside ``blocking()``, then waits for what only the setter can do."""

    def __init__(self, setter: Any) -> None:
        super().__init__()
        self.setter = setter

    def on_receive(self, message: Any) -> Any:
        done = threading.Event()
        with blocking():
            self.setter.tell(done)  # must not be parked on this worker, which is about to wait
            return done.wait(5)


def test_a_tell_inside_blocking_is_not_parked_on_the_blocked_worker() -> None:
    setter = _Setter.start()
    waiter = _Waiter.start(setter)
    try:
        for _ in range(20):
            assert waiter.ask("go", timeout=10) is True
    finally:
        waiter.stop()
        setter.stop()
