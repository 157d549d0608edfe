"""Supervisor's own supervisorctl against our daemon: output lines and exit codes (python-supervisor.md §1.7).

supervisorctl runs from an empty temp cwd (it would otherwise pick up a stray ./supervisord.conf) and reads
our config's [supervisorctl] section, or gets ``-s URL``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import Daemon, wait_for
from rpcutil import ctl, free_port, inet_section, wait_ready, wait_state

PROGRAMS = """
[program:sleeper]
command = /bin/sh -c 'echo line-one; echo err-one >&2; exec sleep 1000'
startsecs = 0

[program:manual]
command = sleep 1000
autostart = false
startsecs = 0

[group:grp]
programs = ga,gb

[program:ga]
command = sleep 1000
startsecs = 0

[program:gb]
command = sleep 1000
startsecs = 0
"""

STATUS_LINE = re.compile(r"^(\S+)\s+([A-Z]+)\s*(.*)$")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, Path, Path, Any]]:
    tmp = tmp_path_factory.mktemp("ctl")
    cwd = tmp_path_factory.mktemp("cwd")
    port = free_port()
    sock = tmp / "ctl.sock"
    extra = (
        inet_section(port, "admin", "pw")
        + f"[unix_http_server]\nfile = {sock}\nusername = admin\npassword = pw\n"
        + f"[supervisorctl]\nserverurl = http://127.0.0.1:{port}\nusername = admin\npassword = pw\n"
    )
    d = Daemon(tmp, PROGRAMS, supervisord=extra).start()
    try:
        from rpcutil import proxy

        server = proxy(port, "admin:pw")
        wait_for(lambda: _ready(server), 15, what="daemon ready")
        wait_state(server, "sleeper", "RUNNING")
        yield d, cwd, sock, server
    finally:
        d.kill()


def _ready(server: Any) -> bool:
    try:
        return bool(server.supervisor.getState()["statename"] == "RUNNING")
    except Exception:
        return False


def run(setup: tuple[Daemon, Path, Path, Any], *args: str) -> tuple[int, list[str]]:
    d, cwd, _, _ = setup
    proc = ctl(d.config, *args, cwd=cwd)
    return proc.returncode, proc.stdout.splitlines()


def test_status_columns_and_rc(setup: Any) -> None:
    rc, lines = run(setup, "status")
    assert rc == 3  # manual is STOPPED
    names = [line.split()[0] for line in lines]
    assert names == ["grp:ga", "grp:gb", "manual", "sleeper"]
    assert lines[2] == f"{'manual':<33}{'STOPPED':<10}Not started"
    assert re.match(r"^sleeper {26}RUNNING   pid \d+, uptime \d+:\d\d:\d\d$", lines[3])
    rc, lines = run(setup, "status", "sleeper", "grp:*")
    assert rc == 0 and len(lines) == 3
    rc, lines = run(setup, "status", "nosuch")
    assert rc == 4 and lines == ["nosuch: ERROR (no such process)"]


def test_start_stop_restart(setup: Any) -> None:
    assert run(setup, "start", "manual") == (0, ["manual: started"])
    assert run(setup, "start", "manual") == (0, ["manual: ERROR (already started)"])
    assert run(setup, "stop", "manual") == (0, ["manual: stopped"])
    assert run(setup, "stop", "manual") == (0, ["manual: ERROR (not running)"])
    assert run(setup, "start", "nosuch") == (1, ["nosuch: ERROR (no such process)"])
    rc, lines = run(setup, "stop", "grp:*")
    assert rc == 0 and sorted(lines) == ["grp:ga: stopped", "grp:gb: stopped"]
    rc, lines = run(setup, "start", "grp:*")
    assert rc == 0 and sorted(lines) == ["grp:ga: started", "grp:gb: started"]
    assert run(setup, "restart", "sleeper") == (0, ["sleeper: stopped", "sleeper: started"])
    rc, lines = run(setup, "restart", "all")
    assert rc == 0 and "manual: started" in lines and "sleeper: stopped" in lines
    rc, lines = run(setup, "stop", "manual")
    assert rc == 0


def test_signal_and_pid(setup: Any) -> None:
    d = setup[0]
    assert run(setup, "signal", "CONT", "sleeper") == (0, ["sleeper: signalled"])
    assert run(setup, "signal", "FOO", "sleeper")[1] == ["sleeper: ERROR (bad signal name)"]
    assert run(setup, "signal", "HUP", "manual")[1] == ["manual: ERROR (not running)"]
    assert run(setup, "pid") == (0, [str(d.proc.pid)])
    rc, lines = run(setup, "pid", "sleeper")
    assert rc == 0 and int(lines[0]) > 0
    assert run(setup, "pid", "manual") == (7, ["0"])
    rc, lines = run(setup, "pid", "all")
    assert len(lines) == 4


def test_avail_version(setup: Any) -> None:
    rc, lines = run(setup, "avail")
    assert rc == 0
    assert lines[2] == f"{'manual':<32} {'in use':<9} {'manual':<9} 999:999"
    assert run(setup, "version") == (0, ["4.3.0"])


def test_tail_maintail_clear(setup: Any) -> None:
    rc, lines = run(setup, "tail", "sleeper")
    assert rc == 0 and "line-one" in lines
    rc, lines = run(setup, "tail", "sleeper", "stderr")
    assert "err-one" in lines
    rc, lines = run(setup, "tail", "-5", "sleeper")
    assert rc == 0 and lines == ["-one", ""]
    assert run(setup, "tail", "nosuch")[1] == ["nosuch: ERROR (no such process name)"]
    rc, lines = run(setup, "maintail")
    assert rc == 0 and len(lines) > 2 and "\n".join(lines[1:]) in setup[0].log()
    assert run(setup, "clear", "sleeper") == (0, ["sleeper: cleared"])
    assert "line-one" not in run(setup, "tail", "sleeper")[1]
    rc, lines = run(setup, "clear", "all")
    assert rc == 0 and "sleeper: cleared" in lines


def _follow(setup: Any, args: tuple[str, ...], action: Any, want: str) -> str:
    """Run a ``-f`` command, do ``action`` once it is following, wait for ``want``, then kill it."""
    d, cwd, _, _ = setup
    cmd = [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(d.config), *args]
    out_path = cwd / f"follow-{time.monotonic_ns()}.out"
    with open(out_path, "wb") as out:
        # a terminal would show the banner at once; into a file, Python block-buffers it unless told not to
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    try:
        wait_for(lambda: "Press Ctrl-C" in out_path.read_text(), 15, interval=0.05, what="the -f banner")
        action()
        wait_for(lambda: want in out_path.read_text(errors="replace"), 15, interval=0.05, what=want)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return out_path.read_text(errors="replace")


def test_tail_follow(setup: Any) -> None:
    server = setup[3]
    # Follow a fresh log: the first line arrives only after the follow started.
    server.supervisor.stopProcess("sleeper")
    server.supervisor.clearProcessLogs("sleeper")
    text = _follow(
        setup, ("tail", "-f", "sleeper"), lambda: server.supervisor.startProcess("sleeper"), "line-one"
    )
    assert text.startswith("==> Press Ctrl-C to exit <==")
    text = _follow(
        setup, ("maintail", "-f"), lambda: server.supervisor.startProcess("manual"), "spawned: 'manual'"
    )
    assert text.startswith("==> Press Ctrl-C to exit <==")
    server.supervisor.stopProcess("manual")


def test_unix_socket_url_and_auth_failure(setup: Any) -> None:
    _, cwd, sock, _ = setup
    proc = ctl(None, "status", "sleeper", url=f"unix://{sock}", cwd=cwd, extra=("-u", "admin", "-p", "pw"))
    assert proc.returncode == 0 and proc.stdout.startswith("sleeper ")
    proc = ctl(None, "status", url=f"unix://{sock}", cwd=cwd)
    assert "Server requires authentication" in proc.stdout
    assert proc.returncode == 1
    proc = ctl(None, "status", url=f"unix://{sock}x", cwd=cwd)
    assert proc.stdout.strip() == f"unix://{sock}x no such file" and proc.returncode == 4


def test_reread_update_add_remove(daemon: Any, tmp_path: Path) -> None:
    port = free_port()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    extra = inet_section(port) + f"[supervisorctl]\nserverurl = http://127.0.0.1:{port}\n"
    d = daemon(
        "[program:sleeper]\ncommand = sleep 1000\nstartsecs = 0\n"
        "[program:manual]\ncommand = sleep 1000\nautostart = false\n"
        "[program:stopped]\ncommand = sleep 1000\nstartsecs = 0\n",
        supervisord=extra,
    )
    s = wait_ready(port)
    wait_state(s, "stopped", "RUNNING")
    s.supervisor.stopProcess("stopped")
    assert ctl(d.config, "reread", cwd=cwd).stdout.splitlines() == ["No config updates to processes"]
    text = d.config.read_text()
    text = text.replace("[program:manual]\ncommand = sleep 1000\nautostart = false\n", "")
    text = text.replace("[program:sleeper]\ncommand = sleep 1000", "[program:sleeper]\ncommand = sleep 1001")
    text += "[program:ticker]\ncommand = sleep 1000\nstartsecs = 0\n"
    d.config.write_text(text)
    out = ctl(d.config, "reread", cwd=cwd)
    assert out.returncode == 0
    assert out.stdout.splitlines() == ["manual: disappeared", "sleeper: changed", "ticker: available"]
    out = ctl(d.config, "update", cwd=cwd)
    assert out.stdout.splitlines() == [
        "manual: stopped",
        "manual: removed process group",
        "sleeper: stopped",
        "sleeper: updated process group",
        "ticker: added process group",
    ]
    wait_state(s, "ticker", "RUNNING")
    assert s.supervisor.getProcessInfo("stopped")["statename"] == "STOPPED"  # a user's stop sticks
    assert (
        ctl(d.config, "remove", "ticker", cwd=cwd).stdout.strip()
        == "ERROR: process/group still running: ticker"
    )
    ctl(d.config, "stop", "ticker", cwd=cwd)
    assert ctl(d.config, "remove", "ticker", cwd=cwd).stdout.strip() == "ticker: removed process group"
    assert ctl(d.config, "add", "ticker", cwd=cwd).stdout.strip() == "ticker: added process group"
    assert ctl(d.config, "add", "ticker", cwd=cwd).stdout.strip() == "ERROR: process group already active"
    out = ctl(d.config, "remove", "nosuch", cwd=cwd)
    assert (out.returncode, out.stdout.strip()) == (1, "ERROR: no such process/group: nosuch")
    d.config.write_text(text + "[program:bad\n")
    out = ctl(d.config, "reread", cwd=cwd)
    assert out.returncode == 1 and out.stdout.startswith("ERROR: CANT_REREAD: ")
    d.config.write_text(text)
    assert d.stop() == 0


def test_reload_and_shutdown(daemon: Any, tmp_path: Path) -> None:
    port = free_port()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    extra = inet_section(port) + f"[supervisorctl]\nserverurl = http://127.0.0.1:{port}\n"
    d = daemon("[program:a]\ncommand = sleep 1000\nstartsecs = 0\n", supervisord=extra)
    s = wait_ready(port)
    wait_state(s, "a", "RUNNING")
    old = s.supervisor.getProcessInfo("a")["pid"]
    out = ctl(d.config, "reload", cwd=cwd)
    assert (out.returncode, out.stdout.strip()) == (0, "Restarted supervisord")
    status = ctl(d.config, "status", cwd=cwd)  # queued in the listen backlog until the new run serves
    assert status.returncode == 0 and status.stdout.startswith("a ")
    wait_for(lambda: s.supervisor.getProcessInfo("a")["pid"] not in (0, old), what="a new pid for a")
    assert d.proc.poll() is None  # same process
    out = ctl(d.config, "shutdown", cwd=cwd)
    assert (out.returncode, out.stdout.strip()) == (0, "Shut down")
    assert d.proc.wait(20) == 0
    out = ctl(d.config, "status", cwd=cwd)
    assert out.returncode == 4 and "refused connection" in out.stdout
    assert not os.path.exists(d.tmp / "supervisord.pid")
