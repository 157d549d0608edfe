"""Bad input and internal faults: rejected at load with file and line, or survived, never a deaf daemon."""

from __future__ import annotations

import gc
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import Daemon, proc_state, tagged_pids, wait_for
from rpcutil import free_port
from webutil import SSE

from supervisord.runtime import faults
from supervisord.runtime.hubsafe import HubSafeActor
from supervisord.runtime.ioloop import Flow, IOLoop

PY = sys.executable


def load_error(tmp_path: Path, body: str) -> tuple[int, str]:
    """Run the daemon on a config expected to be refused; (exit status, stderr)."""
    d = Daemon(tmp_path, body)
    proc = subprocess.run(d.command(), capture_output=True, text=True, timeout=30, cwd=tmp_path)
    return proc.returncode, proc.stderr


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


# -- rejected at load --


def test_nul_byte_in_environment_is_a_config_error(tmp_path: Path) -> None:
    rc, err = load_error(tmp_path, '[program:a]\ncommand = sleep 100\nenvironment = A="x\0y",B=2\n')
    config = tmp_path / "supervisord.conf"
    assert rc == 2, err
    assert f"{config}:{line_of(config, 'environment =')}: [program:a] environment:" in err
    assert "NUL byte" in err and "'A'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("key", ["startsecs", "stopwaitsecs", "killwaitsecs", "restartpause"])
def test_absurd_seconds_are_a_config_error(tmp_path: Path, key: str) -> None:
    """1e10 used to reach the I/O thread as a timer and kill it (OverflowError in epoll_wait)."""
    rc, err = load_error(tmp_path, f"[program:a]\ncommand = sleep 100\n{key} = 1e10\n")
    config = tmp_path / "supervisord.conf"
    assert rc == 2, err
    assert (
        f"{config}:{line_of(config, f'{key} =')}: [program:a] {key}: expected a number of seconds <= 31536000"
        in err
    )
    assert "Traceback" not in err


# -- survived at run time --


def test_an_exception_while_spawning_is_a_spawn_error(daemon, tmp_path: Path) -> None:
    """Popen raises ValueError for a NUL byte in an argument; the actor used to die of it, silently, and
    the daemon then ignored SIGTERM. Now: spawnerr, BACKOFF, FATAL, and a daemon that still answers."""
    port = free_port()
    d = daemon(
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [program:nul]
        command = /bin/echo a\0b
        startsecs = 0
        startretries = 1
        [program:ok]
        command = sleep 1000
        autostart = false
        """
    )
    d.wait_log(r"gave up: nul entered FATAL state, too many start retries too quickly")
    assert d.count(r"spawnerr: unknown error during spawn of 'nul': ValueError: embedded null byte") == 2
    rpc = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
    info = rpc.supervisor.getProcessInfo("nul")
    assert info["statename"] == "FATAL" and "embedded null byte" in info["description"]
    with pytest.raises(xmlrpc.client.Fault) as fault:
        rpc.supervisor.startProcess("nul")
    assert fault.value.faultCode == 50  # SPAWN_ERROR, like any other failed start
    assert rpc.supervisor.startProcess("ok") is True
    assert "died unexpectedly" not in d.log()
    assert d.stop() == 0


# -- the runtime's own faults are reported, never silent --


@pytest.fixture
def reported() -> Iterator[list[str]]:
    seen: list[str] = []
    event = threading.Event()

    def on_death(what: str) -> None:
        seen.append(what)
        event.set()

    faults.install(on_death)
    try:
        yield seen
    finally:
        faults.install(None)


class Broken(HubSafeActor):
    def on_receive(self, message: Any) -> Any:
        raise RuntimeError("a bug")


def test_an_actor_that_dies_is_reported(reported: list[str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="supervisord")
    ref = Broken.start()
    ref.tell("anything")
    wait_for(lambda: reported, what="the death to be reported")
    assert reported == ["actor Broken"]
    assert faults.deaths() == ["actor Broken"]
    record = next(r for r in caplog.records if r.name == "supervisord")
    assert record.levelno == logging.CRITICAL
    assert record.getMessage() == "actor Broken died unexpectedly; shutting down"
    assert record.exc_info is not None and "a bug" in str(record.exc_info[1])
    assert not ref.is_alive()


def test_io_loop_survives_a_timer_far_away() -> None:
    """A timer 1e10 s away used to overflow epoll_wait's timeout and kill the loop thread."""
    loop = IOLoop()
    loop.start()
    try:
        fired = threading.Event()
        loop.call_at(time.monotonic() + 1e10, lambda: None)
        wait_for(lambda: len(loop._timers) == 1, what="the loop to take the timer")  # then it waits on it
        loop.call_at(float("nan"), lambda: None)
        loop.call_at(time.monotonic() + 0.01, fired.set)
        assert fired.wait(5), "the loop stopped firing timers"
        assert loop._thread is not None and loop._thread.is_alive()
    finally:
        loop.stop()


def test_io_loop_failure_is_reported_and_the_loop_goes_on(
    reported: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL, logger="supervisord")
    loop = IOLoop()
    real = loop._next_timeout
    calls = {"n": 0}

    def failing_once() -> float:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OverflowError("timeout is too large")
        return real()

    loop._next_timeout = failing_once  # type: ignore[method-assign]
    loop.start()
    try:
        wait_for(lambda: reported, what="the failure to be reported")
        assert reported == ["the I/O loop"]
        fired = threading.Event()
        loop.call_at(time.monotonic(), fired.set)
        assert fired.wait(5), "the loop did not go on after its failure"
    finally:
        loop.stop()
    assert any("the I/O loop died unexpectedly" in r.getMessage() for r in caplog.records)


# -- descriptors --


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def kill_tagged(tag: str, argv0: bytes) -> None:
    """Grandchildren that left their parent behind (ours by the test tag): no supervisor stops them."""
    for pid in tagged_pids(tag):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if fh.read().split(b"\0")[0] == argv0:
                    os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def test_pipes_held_by_a_grandchild_are_closed_when_the_child_is_reaped(daemon, tmp_path: Path) -> None:
    """A grandchild holding the child's stdout used to cost the daemon two descriptors per restart."""
    port = free_port()
    d = daemon(
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [program:leaky]
        command = sh -c 'echo hello; (exec sleep 1300 &); echo bye; exit 0'
        startsecs = 0
        autorestart = false
        """
    )
    try:
        rpc = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
        exited = lambda: rpc.supervisor.getProcessInfo("leaky")["statename"] == "EXITED"  # noqa: E731
        wait_for(exited, what="the first run to exit")
        assert d.proc is not None
        before = fd_count(d.proc.pid)
        for _ in range(30):
            rpc.supervisor.startProcess("leaky")
            wait_for(exited, what="the run to exit")
        # a leak never comes back; what the last exit holds for a moment (its log files until the sink has
        # written the last output, a child-journal write) does
        pid = d.proc.pid
        wait_for(lambda: fd_count(pid) <= before + 2, 5, what="descriptors back to the baseline (no leak)")
        # nothing the child wrote before it exited is lost
        log = Path(rpc.supervisor.getProcessInfo("leaky")["stdout_logfile"]).read_text()
        assert log.count("hello\nbye\n") == 31
    finally:
        kill_tagged(d.tag, b"sleep")
    assert d.stop() == 0


def test_unstarted_processes_cost_no_descriptors(daemon, tmp_path: Path) -> None:
    """600 autostart=false programs under ``ulimit -n 1024``: two log files each used to be opened at
    start-up, and the daemon died of EMFILE. Log files are now opened when a process spawns."""
    port = free_port()
    d = daemon(
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [program:p]
        command = sh -c 'echo out-%(process_num)d; echo err-%(process_num)d >&2; exec sleep 1000'
        process_name = p%(process_num)d
        numprocs = 600
        autostart = false
        """,
        start=False,
    )
    d.start(prefix=["prlimit", "--nofile=1024:1024", "--"])
    rpc = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
    wait_for(lambda: len(rpc.supervisor.getAllProcessInfo()) == 600, what="all 600 processes")
    assert d.proc is not None and fd_count(d.proc.pid) < 100
    for n in (0, 599):
        assert rpc.supervisor.startProcess(f"p:p{n}") is True
        wait_for(lambda n=n: rpc.supervisor.readProcessStdoutLog(f"p:p{n}", 0, 0) == f"out-{n}\n")
        wait_for(lambda n=n: rpc.supervisor.readProcessStderrLog(f"p:p{n}", 0, 0) == f"err-{n}\n")
    rpc.supervisor.stopProcess("p:p0")
    assert rpc.supervisor.readProcessStdoutLog("p:p0", 0, 0) == "out-0\n"  # read by path after the exit
    assert "Traceback" not in d.stderr() + d.stdout()
    assert d.stop() == 0


def test_a_descriptor_budget_beyond_the_limit_is_a_warning_at_load(daemon, tmp_path: Path) -> None:
    d = daemon(
        """
        [program:p]
        command = sleep 1000
        process_name = p%(process_num)d
        numprocs = 40
        """,
        supervisord="minfds = 256\n",
        start=False,
    )
    d.start(prefix=["prlimit", "--nofile=256:256", "--"])
    d.wait_log(
        r"40 autostart processes need about 304 file descriptors .* only 256 are allowed: raise minfds"
    )
    d.wait_log(r"success: p39 entered RUNNING state")
    assert d.stop() == 0


# -- a full disk --

CHATTY = (
    "import os, sys, time\n"
    "n = 0\n"
    "while True:\n"
    "    n += 1\n"
    "    sys.stdout.write('%098d\\n' % n); sys.stdout.flush()\n"
    "    if n % 100 == 0:\n"
    "        open(sys.argv[1] + '.new', 'w').write(str(n)); os.replace(sys.argv[1] + '.new', sys.argv[1])\n"
    "    time.sleep(0.001)\n"
)


def test_a_log_file_that_cannot_be_written_is_reported_once_then_on_recovery(daemon, tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes every write past 64 KiB fail (EFBIG), like a full disk: one warning, not a
    traceback per chunk; clearing the log makes writes work again, reported with the bytes lost."""
    port = free_port()
    script, progress, logfile = tmp_path / "chatty.py", tmp_path / "progress", tmp_path / "chatty.log"
    script.write_text(CHATTY)
    d = daemon(
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [program:chatty]
        command = {PY} {script} {progress}
        stdout_logfile = {logfile}
        stdout_logfile_maxbytes = 0
        startsecs = 0
        """,
        supervisord="loglevel = info\n",
        start=False,
    )
    d.start(prefix=["prlimit", "--fsize=65536", "--"])
    d.wait_log(rf"cannot write to log file {logfile}: File too large; its output is dropped", timeout=20)
    failed_at = int(progress.read_text())
    wait_for(lambda: int(progress.read_text()) > failed_at + 500, what="many more chunks to be lost")
    assert d.count(r"cannot write to log file") == 1
    rpc = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
    rpc.supervisor.clearProcessLogs("chatty")
    d.wait_log(rf"writing to log file {logfile} works again; \d+ bytes were lost")
    lost = int(d.log().split("works again; ")[1].split()[0])
    assert lost >= 500 * 99
    rpc.supervisor.stopProcess("chatty")
    assert "Traceback" not in d.log() + d.stderr() + d.stdout()
    assert d.stop() == 0


def test_a_main_log_that_cannot_be_written_says_so_once(daemon, tmp_path: Path) -> None:
    """``logfile`` on a full device: one line on stderr, not a "--- Logging error ---" per record."""
    d = daemon(
        """
        [program:blink]
        command = true
        startsecs = 0
        startretries = 0
        autorestart = true
        """,
        supervisord="logfile = /dev/full\n",
    )
    wait_for(lambda: d.stdout().count("exited: blink") >= 20, what="many records")
    assert (
        d.stderr().count("supervisord: cannot write to the main log /dev/full: No space left on device") == 1
    )
    assert "Logging error" not in d.stderr()
    assert d.stop() == 0


# -- many processes --


def test_process_list_is_never_partial_while_actors_start(daemon, tmp_path: Path) -> None:
    """numprocs = 3000: HTTP serves once the supervisor exists, while the process actors still start; the
    list used to hold only those that happened to be ready (1,022 of 5,000)."""
    port = free_port()
    d = daemon(
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [program:p]
        command = sleep 1000
        process_name = p%(process_num)d
        numprocs = 3000
        autostart = false
        """,
        start=False,
    )
    d.start()
    rpc = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")

    def first_answer() -> int | None:
        try:
            return len(rpc.supervisor.getAllProcessInfo())
        except ConnectionRefusedError:
            return None

    counts = [wait_for(first_answer, timeout=60, interval=0.001, what="the API")]
    counts += [len(rpc.supervisor.getAllProcessInfo()) for _ in range(3)]
    assert counts == [3000] * 4
    assert d.stop(timeout=60) == 0


# -- memory under a restart storm --


def test_cancelled_timers_do_not_pile_up_in_the_loop() -> None:
    """Each start or stop arms a timer (startsecs, stopwaitsecs) that the exit cancels; cancelled timers
    used to stay in the heap until their time came, so a storm with long timeouts grew it without bound."""
    loop = IOLoop()
    loop.start()
    try:
        far = time.monotonic() + 3600
        live = [loop.call_at(far - 60, lambda: None)]  # a live timer ahead of them hides them from a pop
        for _ in range(20_000):
            loop.call_at(far, lambda: None).cancel()
        live += [loop.call_at(far, lambda: None) for _ in range(10)]
        done = threading.Event()
        loop.call_at(time.monotonic(), done.set)
        assert done.wait(5)
        assert len(loop._timers) <= 600
        assert all(t in loop._timers for t in live)
    finally:
        loop.stop()


def test_a_closed_pipe_leaves_no_reference_cycle() -> None:
    """A watched pipe with backpressure was a cycle (watch -> flow -> resume closure -> watch): two per
    restart waited for a full collection, and a storm of 3,000 kills grew the daemon by 2 MiB."""
    loop = IOLoop()
    loop.start()
    eofs = threading.Semaphore(0)
    gc.collect()
    gc.disable()
    try:
        for _ in range(50):
            r, w = os.pipe()
            loop.watch_pipe(r, lambda data: None, eofs.release, Flow())
            os.write(w, b"line\n")
            os.close(w)
        for _ in range(50):
            assert eofs.acquire(timeout=5)
        assert gc.collect() < 50  # was 50 cycles of 8 objects each
    finally:
        gc.enable()
        loop.stop()


INJECT = """\
import runpy, sys
from supervisord.actors import process
from supervisord.actors.messages import WriteStdin

real_exit, real_receive = process.ProcessActor._on_exit, process.ProcessActor.on_receive
real_start = process.ProcessActor.on_start
broken_once = set()


class Boom:
    pass


def broken_exit(self, pid):  # every exit of the program named victim kills its actor
    if self.config.name == "victim":
        raise RuntimeError("injected bug")
    return real_exit(self, pid)


def on_receive(self, message):  # sendProcessStdin(name, "__die__\\n") kills that process's actor, once
    if isinstance(message, WriteStdin) and message.data == b"__die__\\n":
        self.actor_ref.tell(Boom())  # a tell: its exception kills the actor, as a bug in a handler would
        return process.Outcome()
    if isinstance(message, Boom):
        raise RuntimeError("injected bug")
    return real_receive(self, message)


def on_start(self):  # the first actor of the program named fragile dies in its on_start
    if self.config.name == "fragile" and "fragile" not in broken_once:
        broken_once.add("fragile")
        raise RuntimeError("injected bug at start")
    real_start(self)


process.ProcessActor._on_exit = broken_exit
process.ProcessActor.on_start = on_start
process.ProcessActor.on_receive = on_receive
sys.argv = ["supervisord", *sys.argv[sys.argv.index("supervisord") + 1 :]]
runpy.run_module("supervisord", run_name="__main__", alter_sys=True)
"""


def open_paths(pid: int, part: str) -> list[str]:
    """What the process has open whose path contains ``part``."""
    paths = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if part in target:
            paths.append(target)
    return paths


def injected(daemon, tmp_path: Path, body: str) -> Any:  # type: ignore[no-untyped-def]
    """A real daemon whose process actors carry the injected bugs above (test-only: a launcher)."""
    inject = tmp_path / "inject.py"
    inject.write_text(INJECT)
    d = daemon(body, start=False)
    return d.start(prefix=[PY, str(inject)])


def test_a_process_actor_dying_again_and_again_stops_the_daemon_cleanly(daemon, tmp_path: Path) -> None:
    """A bug that kills a process actor used to leave a deaf daemon (a stale state, SHUTDOWN_STATE, deaf to
    SIGTERM). A dead process actor is now replaced (next test); one that dies more than 3 times in 60 s is
    a bug replacing does not cure: CRIT with the traceback, every other program stopped in order, exit 1."""
    d = injected(
        daemon,
        tmp_path,
        """
        [program:bystander]
        command = sleep 1000
        startsecs = 0
        [program:victim]
        command = sh -c 'exit 3'
        startsecs = 0
        autorestart = true
        """,
    )
    assert d.proc is not None
    assert d.proc.wait(30) == 1
    log = d.log()
    assert d.count(r"^the actor of victim died unexpectedly$") == 4
    assert d.count(r"^killed victim \(pid \d+\) of a dead actor: exit status 3$") == 4  # no status lost
    assert "replaced the dead actor of victim (3 of at most 3 in 60 s)" in log
    assert "CRIT actor ProcessActor of victim (4 deaths in 60 s) died unexpectedly; shutting down" in log
    assert "RuntimeError: injected bug" in log
    assert re.search(r"stopped: bystander \(terminated by SIGTERM\)", log), log
    assert d.stop() == 1  # nothing left behind


def test_a_dead_process_actor_is_replaced_one_for_one(daemon, tmp_path: Path) -> None:
    """Its child is killed and reaped (exit status logged, no zombie, no descriptor kept), a fresh actor
    takes its place in the registry (the API reaches it), the process runs again if it was running, and
    the other programs never notice."""
    port = free_port()
    d = injected(
        daemon,
        tmp_path,
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [program:a]
        command = sleep 1000
        startsecs = 0
        [program:b]
        command = sleep 1000
        startsecs = 0
        [program:c]
        command = sleep 1000
        startsecs = 0
        autostart = false
        [program:fragile]
        command = sleep 1000
        startsecs = 0
        """,
    )
    rpc = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")

    def state(name: str) -> str:
        return str(rpc.supervisor.getProcessInfo(name)["statename"])

    wait_for(lambda: state("a") == state("b") == "RUNNING", what="a and b to run")
    # an actor that died in its on_start (pykka calls no on_failure then) is replaced as well
    d.wait_log(r"replaced the dead actor of fragile \(1 of at most 3 in 60 s\)")
    wait_for(lambda: state("fragile") == "RUNNING", what="fragile to run with its second actor")
    stream = SSE(port, "/events")  # the live feed finds the fresh actor: its state events carry info
    assert stream.next()["event"] == "snapshot"
    assert rpc.supervisor.stopProcess("fragile") is True  # the feed now knows every actor (a's old one)
    stream.until(
        lambda e: (
            e.get("event") == "state"
            and e["json"]["name"] == "fragile"
            and e["json"]["statename"] == "STOPPED"
        )
    )
    a_pid, b_pid = d.pid_of("a"), d.pid_of("b")
    assert d.proc is not None
    wait_for(lambda: not open_paths(d.proc.pid, "fragile"), what="fragile's log files closed")  # stopped
    fds = fd_count(d.proc.pid)

    assert rpc.supervisor.sendProcessStdin("a", "__die__\n") is True
    d.wait_log(r"replaced the dead actor of a \(1 of at most 3 in 60 s\)")
    seen = [stream.until(lambda e: e.get("event") == "state" and e["json"]["name"] == "a")]
    while seen[-1]["json"]["statename"] != "RUNNING":
        seen.append(stream.until(lambda e: e.get("event") == "state" and e["json"]["name"] == "a"))
    assert all(e["json"]["info"] is not None for e in seen), [e["json"] for e in seen]
    assert [lvl for _, lvl, msg in d.entries() if msg == "the actor of a died unexpectedly"] == ["CRIT"]
    assert "RuntimeError: injected bug" in d.log()  # with its traceback
    assert d.count(rf"^killed a \(pid {a_pid}\) of a dead actor: terminated by SIGKILL$") == 1
    wait_for(lambda: state("a") == "RUNNING" and d.pid_of("a") != a_pid, what="a to run again")
    assert proc_state(a_pid) is None  # killed and reaped: no orphan, no zombie
    wait_for(lambda: fd_count(d.proc.pid) == fds, what=f"the daemon's descriptors back to {fds}")
    assert state("b") == "RUNNING" and d.pid_of("b") == b_pid
    assert rpc.supervisor.stopProcess("a") is True  # the new actor is the one the API finds
    assert state("a") == "STOPPED"
    assert rpc.supervisor.startProcess("a") is True
    assert state("a") == "RUNNING"

    assert rpc.supervisor.sendProcessStdin("c", "__die__\n") is True  # not running: stays stopped
    d.wait_log(r"replaced the dead actor of c \(1 of at most 3 in 60 s\)")
    assert state("c") == "STOPPED"
    assert rpc.supervisor.startProcess("c") is True
    assert "shutting down" not in d.log()
    stream.close()
    assert d.stop() == 0


def test_a_dead_listener_actor_is_replaced_and_its_pool_goes_on(daemon, tmp_path: Path) -> None:
    """An event listener's actor dies: the new listener is attached to its pool and gets the next events."""
    port = free_port()
    out = tmp_path / "events.txt"
    listeners = Path(__file__).parent / "listeners.py"
    d = injected(
        daemon,
        tmp_path,
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [eventlistener:rec]
        command = {PY} {listeners} record {out}
        events = PROCESS_STATE_RUNNING
        startsecs = 0
        [program:job]
        command = sleep 1000
        startsecs = 0
        autostart = false
        """,
    )
    rpc = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
    wait_for(lambda: rpc.supervisor.getProcessInfo("rec")["statename"] == "RUNNING", what="rec to run")
    old = d.pid_of("rec")
    assert rpc.supervisor.sendProcessStdin("rec", "__die__\n") is True
    d.wait_log(r"replaced the dead actor of rec \(1 of at most 3 in 60 s\)")
    wait_for(
        lambda: rpc.supervisor.getProcessInfo("rec")["statename"] == "RUNNING" and d.pid_of("rec") != old,
        what="rec to run again",
    )
    assert rpc.supervisor.startProcess("job") is True
    wait_for(lambda: out.exists() and "processname:job" in out.read_text(), what="the event reaching rec")
    assert d.stop() == 0
