"""``supervisord ctl`` against our daemon: every subcommand, exit codes, server URL lookup, transports, auth.

Where the output is deterministic it is compared line by line with Supervisor's own supervisorctl run
against the same daemon (the compatibility promise is "same lines, same exit status"); the rest is checked
against python-supervisor.md §1.7. Clients run from an empty cwd unless a test is about auto-detection.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import Daemon, wait_for
from rpcutil import free_port, inet_section, proxy, wait_state

PROGRAMS = """
[program:sleeper]
command = /bin/sh -c 'echo line-one; echo err-one >&2; exec sleep 1000'
startsecs = 0

[program:manual]
command = sleep 1000
autostart = false
startsecs = 0

[program:cat]
command = cat
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

USER, PASSWORD = "admin", "s3cret"
UPTIME = re.compile(r"uptime \d+:\d\d:\d\d")


class Env:
    """One running daemon reachable over TCP and a unix socket, plus an empty directory to run clients in."""

    def __init__(self, daemon: Daemon, port: int, sock: Path, cwd: Path) -> None:
        self.daemon = daemon
        self.port = port
        self.sock = sock
        self.cwd = cwd
        self.http = f"http://127.0.0.1:{port}"
        self.rpc: Any = proxy(port, f"{USER}:{PASSWORD}")

    def ctl(
        self,
        *args: str,
        conf: bool = True,
        before: tuple[str, ...] = (),
        cwd: Path | None = None,
        stdin: str | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """``supervisord [before…] ctl [-c conf] args…`` (our client)."""
        cmd = [sys.executable, "-m", "supervisord", *before, "ctl"]
        if conf:
            cmd += ["-c", str(self.daemon.config)]
        return _run([*cmd, *args], cwd or self.cwd, stdin, timeout)

    def supervisorctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Supervisor's own client with the same config, for differential checks."""
        cmd = [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(self.daemon.config), *args]
        return _run(cmd, self.cwd, None, 60)


def _run(cmd: list[str], cwd: Path, stdin: str | None, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        cwd=cwd,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _sections(port: int, sock: Path, serverurl: str, creds: bool = True) -> str:
    auth = f"username = {USER}\npassword = {PASSWORD}\n" if creds else ""
    return (
        inet_section(port, USER, PASSWORD)
        + f"[unix_http_server]\nfile = {sock}\nusername = {USER}\npassword = {PASSWORD}\n"
        + f"[supervisorctl]\nserverurl = {serverurl}\n{auth}"
    )


def _ready(rpc: Any) -> bool:
    try:
        return bool(rpc.supervisor.getState()["statename"] == "RUNNING")
    except Exception:
        return False


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("ctl")
    cwd = tmp_path_factory.mktemp("cwd")
    port = free_port()
    sock = tmp / "sv.sock"
    d = Daemon(tmp, PROGRAMS, supervisord=_sections(port, sock, f"unix://{sock}")).start()
    try:
        e = Env(d, port, sock, cwd)
        wait_for(lambda: _ready(e.rpc), 15, interval=0.05, what="the daemon to answer")
        for name in ("sleeper", "cat", "grp:ga", "grp:gb"):
            wait_state(e.rpc, name, "RUNNING")
        yield e
    finally:
        d.kill()


def lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return proc.stdout.splitlines()


# ----------------------------------------------------------------------------------------- differential


SAME_AS_SUPERVISORCTL = [
    ("status",),
    ("status", "grp:*"),
    ("status", "nosuch", "x:y", "grp:", "nog:*"),
    ("status", "all"),
    ("pid", "sleeper"),
    ("pid", "nosuch"),
    ("pid", "manual"),
    ("pid", "all"),
    ("start", "sleeper"),
    ("start", "nosuch"),
    ("start", "nog:*"),
    ("stop", "manual"),
    ("stop", "nosuch", "nog:*"),
    ("signal", "FOO", "sleeper"),
    ("signal", "HUP", "manual", "nosuch"),
    ("tail", "sleeper"),
    ("tail", "sleeper", "stderr"),
    ("tail", "-4", "sleeper"),
    ("tail", "nosuch"),
    ("tail", "sleeper", "bogus"),
    ("tail", "-x", "sleeper"),
    ("maintail", "bad"),
    ("avail",),
    ("version",),
    ("clear", "nosuch"),
    ("add", "nosuch"),
    ("remove", "nosuch"),
    ("start",),
    ("stop",),
    ("signal", "HUP"),
    ("tail",),
    ("version", "extra"),
    ("shutdown", "extra"),
    ("reload", "extra"),
    ("avail", "extra"),
    ("reread", "extra"),
    ("fg",),
    ("fg", "a", "b"),
    ("fg", "nosuch"),
    ("fg", "manual"),
    ("bogus", "words"),
]


@pytest.mark.parametrize("args", SAME_AS_SUPERVISORCTL, ids=lambda a: " ".join(a))
def test_same_output_and_exit_status_as_supervisorctl(env: Env, args: tuple[str, ...]) -> None:
    ours = env.ctl(*args)
    theirs = env.supervisorctl(*args)
    assert (ours.returncode, UPTIME.sub("", ours.stdout)) == (
        theirs.returncode,
        UPTIME.sub("", theirs.stdout),
    )


# ----------------------------------------------------------------------------------------- status and pid


def test_status_format_and_exit_status(env: Env) -> None:
    proc = env.ctl("status")
    out = lines(proc)
    assert proc.returncode == 3  # manual is STOPPED
    assert [line.split()[0] for line in out] == ["cat", "grp:ga", "grp:gb", "manual", "sleeper"]
    assert f"{'manual':<33}{'STOPPED':<10}Not started" in out
    assert any(re.fullmatch(r"sleeper {26}RUNNING   pid \d+, uptime \d+:\d\d:\d\d", line) for line in out)
    assert "\x1b" not in proc.stdout  # not a tty: no colour
    proc = env.ctl("status", "sleeper", "grp:*")
    assert proc.returncode == 0 and len(lines(proc)) == 3
    proc = env.ctl("status", "nosuch")
    assert (proc.returncode, lines(proc)) == (4, ["nosuch: ERROR (no such process)"])


def test_status_is_coloured_on_a_tty(env: Env) -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "supervisord", "ctl", "-c", str(env.daemon.config), "status", "sleeper"],
            cwd=env.cwd,
            stdout=slave,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        os.close(slave)
        slave = -1
        data = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(10) == 0
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert b"\x1b[32mRUNNING\x1b[0m" in data


def test_pid(env: Env) -> None:
    assert lines(env.ctl("pid")) == [str(env.daemon.proc.pid)]  # type: ignore[union-attr]
    proc = env.ctl("pid", "sleeper")
    assert proc.returncode == 0
    assert int(lines(proc)[0]) == env.rpc.supervisor.getProcessInfo("sleeper")["pid"]
    assert (env.ctl("pid", "manual").returncode, lines(env.ctl("pid", "manual"))) == (7, ["0"])
    assert len(lines(env.ctl("pid", "all"))) == 5


# ----------------------------------------------------------------------------------------- control


def test_start_stop_restart(env: Env) -> None:
    def run(*args: str) -> tuple[int, list[str]]:
        proc = env.ctl(*args)
        return proc.returncode, lines(proc)

    assert run("start", "manual") == (0, ["manual: started"])
    assert run("start", "manual") == (0, ["manual: ERROR (already started)"])
    assert run("stop", "manual") == (0, ["manual: stopped"])
    assert run("stop", "manual") == (0, ["manual: ERROR (not running)"])
    assert run("start", "nosuch") == (1, ["nosuch: ERROR (no such process)"])
    assert run("start", "nog:*") == (2, ["nog: ERROR (no such group)"])
    rc, out = run("stop", "grp:*")
    assert rc == 0 and sorted(out) == ["grp:ga: stopped", "grp:gb: stopped"]
    assert env.rpc.supervisor.getProcessInfo("grp:ga")["statename"] == "STOPPED"
    rc, out = run("start", "grp:")
    assert rc == 0 and sorted(out) == ["grp:ga: started", "grp:gb: started"]
    before = env.rpc.supervisor.getProcessInfo("grp:ga")["pid"]
    assert run("restart", "grp:ga") == (0, ["grp:ga: stopped", "grp:ga: started"])
    assert env.rpc.supervisor.getProcessInfo("grp:ga")["pid"] != before
    rc, out = run("restart", "all")
    assert rc == 0 and "manual: started" in out and "sleeper: stopped" in out
    rc, out = run("stop", "all")
    assert rc == 0 and sorted(out) == [
        f"{n}: stopped" for n in ("cat", "grp:ga", "grp:gb", "manual", "sleeper")
    ]
    rc, out = run("start", "all")
    assert rc == 0 and "sleeper: started" in out
    assert run("stop", "manual") == (0, ["manual: stopped"])
    for name in ("sleeper", "cat", "grp:ga", "grp:gb"):
        wait_state(env.rpc, name, "RUNNING")


def test_signal(env: Env) -> None:
    proc = env.ctl("signal", "CONT", "sleeper", "grp:*")
    assert proc.returncode == 0
    assert sorted(lines(proc)) == ["grp:ga: signalled", "grp:gb: signalled", "sleeper: signalled"]
    proc = env.ctl("signal", "HUP", "manual")
    assert (proc.returncode, lines(proc)) == (7, ["manual: ERROR (not running)"])
    proc = env.ctl("signal", "CONT", "all")
    assert proc.returncode == 0 and "cat: signalled" in lines(proc)


def test_signal_really_reaches_the_process(env: Env) -> None:
    env.ctl("start", "manual")
    wait_state(env.rpc, "manual", "RUNNING")
    proc = env.ctl("signal", "KILL", "manual")
    assert lines(proc) == ["manual: signalled"]
    env.daemon.wait_log(r"exited: manual \(terminated by SIGKILL", timeout=15)
    env.rpc.supervisor.stopProcess("manual")


# ----------------------------------------------------------------------------------------- logs


def test_tail_maintail_clear(env: Env) -> None:
    env.rpc.supervisor.stopProcess("sleeper")
    env.rpc.supervisor.clearProcessLogs("sleeper")
    env.rpc.supervisor.startProcess("sleeper")
    wait_for(lambda: "line-one" in env.ctl("tail", "sleeper").stdout, 15, interval=0.05, what="line-one")
    proc = env.ctl("tail", "sleeper")
    assert proc.returncode == 0 and proc.stdout == "line-one\n\n"
    assert env.ctl("tail", "sleeper", "stderr").stdout == "err-one\n\n"
    assert env.ctl("tail", "-4", "sleeper").stdout == "one\n\n"
    proc = env.ctl("tail", "nosuch")
    assert (proc.returncode, lines(proc)) == (1, ["nosuch: ERROR (no such process name)"])
    proc = env.ctl("maintail")
    assert proc.returncode == 0 and proc.stdout.rstrip("\n").splitlines()[-1] in env.daemon.log()
    assert "spawned: 'sleeper'" in env.ctl("maintail", "-400").stdout
    proc = env.ctl("clear", "sleeper")
    assert (proc.returncode, lines(proc)) == (0, ["sleeper: cleared"])
    assert "line-one" not in env.ctl("tail", "sleeper").stdout
    proc = env.ctl("clear", "all")
    assert proc.returncode == 0 and sorted(lines(proc))[0] == "cat: cleared" and len(lines(proc)) == 5
    proc = env.ctl("clear", "nosuch")
    assert (proc.returncode, lines(proc)) == (1, ["nosuch: ERROR (no such process)"])


def _follow(env: Env, args: tuple[str, ...], action: Any, want: str) -> tuple[int, str]:
    """Start a ``-f`` command, do ``action`` once it follows, wait for ``want``, then Ctrl-C it."""
    out_path = env.cwd / f"follow-{time.monotonic_ns()}.out"
    cmd = [sys.executable, "-m", "supervisord", "ctl", "-c", str(env.daemon.config), *args]
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=env.cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        wait_for(lambda: "Press Ctrl-C" in out_path.read_text(), 15, interval=0.05, what="the -f banner")
        action()
        wait_for(lambda: want in out_path.read_text(errors="replace"), 15, interval=0.05, what=want)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    return rc, out_path.read_text(errors="replace")


def test_tail_follow_sees_new_output(env: Env) -> None:
    rc, text = _follow(
        env,
        ("tail", "-f", "cat"),
        lambda: env.rpc.supervisor.sendProcessStdin("cat", "followed-1\n"),
        "followed-1",
    )
    assert rc == 0
    assert text.startswith("==> Press Ctrl-C to exit <==\n")


def test_maintail_follow(env: Env) -> None:
    rc, text = _follow(
        env, ("maintail", "-f"), lambda: env.rpc.supervisor.startProcess("manual"), "spawned: 'manual'"
    )
    env.rpc.supervisor.stopProcess("manual")
    assert rc == 0 and text.startswith("==> Press Ctrl-C to exit <==\n")


def test_fg_forwards_stdin_and_shows_output(env: Env) -> None:
    proc = env.ctl("fg", "cat", stdin="hello-fg\n")
    assert proc.returncode == 0
    out = proc.stdout
    assert out.startswith("==> Press Ctrl-C to exit <==\n") and out.endswith("Exiting foreground\n")
    assert "hello-fg" in env.rpc.supervisor.readProcessStdoutLog("cat", -200, 0)


def test_fg_errors(env: Env) -> None:
    proc = env.ctl("fg", "manual")
    assert (proc.returncode, lines(proc)) == (1, ["ERROR: process not running"])
    proc = env.ctl("fg", "nosuch")
    assert (proc.returncode, lines(proc)) == (1, ["ERROR: bad process name supplied"])


# ----------------------------------------------------------------------------------------- misc commands


def test_avail_version_help_unknown(env: Env) -> None:
    proc = env.ctl("avail")
    assert proc.returncode == 0
    assert f"{'manual':<32} {'in use':<9} {'manual':<9} 999:999" in lines(proc)
    assert f"{'sleeper':<32} {'in use':<9} {'auto':<9} 999:999" in lines(proc)
    proc = env.ctl("version")
    assert proc.returncode == 0 and lines(proc) == [env.rpc.supervisor.getSupervisorVersion()]
    proc = env.ctl("help")
    assert proc.returncode == 0 and "tail" in proc.stdout and "update" in proc.stdout
    proc = env.ctl("help", "tail")
    assert proc.stdout.startswith("tail [-f] <name> [stdout|stderr] (default stdout)\n")
    proc = env.ctl("frobnicate", "x")
    assert (proc.returncode, lines(proc)) == (1, ["*** Unknown syntax: frobnicate x"])
    proc = env.ctl()
    assert proc.returncode == 2 and "command is required" in proc.stderr


# ----------------------------------------------------------------------------------------- transports, auth


def test_unix_and_tcp_urls(env: Env) -> None:
    for url in (f"unix://{env.sock}", env.http):
        proc = env.ctl("-s", url, "-u", USER, "-p", PASSWORD, "status", "sleeper", conf=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert lines(proc)[0].startswith("sleeper ")


def test_credentials_from_config_and_auth_failures(env: Env) -> None:
    assert env.ctl("status", "sleeper").returncode == 0  # creds from [supervisorctl]
    proc = env.ctl("-s", env.http, "status", conf=False)
    assert (proc.returncode, lines(proc)) == (1, ["Server requires authentication"])
    proc = env.ctl("-p", "wrong", "status")
    assert (proc.returncode, lines(proc)) == (1, ["Server requires authentication"])
    proc = env.ctl("-s", f"unix://{env.sock}", "-u", USER, "-P", PASSWORD, "pid", conf=False)
    assert proc.returncode == 0 and lines(proc) == [str(env.daemon.proc.pid)]  # type: ignore[union-attr]


def test_refused_and_missing_socket_name_the_url(env: Env) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    proc = env.ctl("-s", dead, "status", conf=False)
    assert (proc.returncode, lines(proc)) == (4, [f"{dead} refused connection"])
    proc = env.ctl("-s", dead, "start", "x", conf=False)
    assert (proc.returncode, lines(proc)) == (4, [f"{dead} refused connection"])
    proc = env.ctl("-s", dead, "avail", conf=False)
    assert (proc.returncode, lines(proc)) == (1, [f"{dead} refused connection"])
    proc = env.ctl("-s", dead, "shutdown", conf=False)
    assert (proc.returncode, lines(proc)) == (1, [f"ERROR: {dead} refused connection (already shut down?)"])
    missing = f"unix://{env.cwd}/nope.sock"
    proc = env.ctl("-s", missing, "status", conf=False)
    assert (proc.returncode, lines(proc)) == (4, [f"{missing} no such file"])
    proc = env.ctl("-s", missing, "version", conf=False)
    assert (proc.returncode, lines(proc)) == (7, [f"{missing} no such file"])


def test_timeout_on_a_silent_server(env: Env) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)  # connections queue in the backlog; nothing ever answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        start = time.monotonic()
        proc = env.ctl("-s", url, "-t", "0.5", "status", conf=False, timeout=30)
        elapsed = time.monotonic() - start
    assert proc.returncode != 0
    assert f"{url} timed out" in proc.stdout
    assert elapsed < 10


# ----------------------------------------------------------------------------------------- URL lookup order


def _write_ctl_conf(path: Path, serverurl: str | None) -> Path:
    body = "[supervisord]\n"
    if serverurl is not None:
        body += f"[supervisorctl]\nserverurl = {serverurl}\nusername = {USER}\npassword = {PASSWORD}\n"
    path.write_text(body)
    return path


def test_serverurl_lookup_order(env: Env, tmp_path: Path) -> None:
    good = f"unix://{env.sock}"
    dead = f"http://127.0.0.1:{free_port()}"
    auto_dir = tmp_path / "auto"
    auto_dir.mkdir()
    _write_ctl_conf(auto_dir / "supervisord.conf", good)
    dead_conf = _write_ctl_conf(tmp_path / "dead.conf", dead)
    bare_conf = _write_ctl_conf(tmp_path / "bare.conf", None)

    # 1. -s beats -c and the auto-detected file.
    proc = env.ctl("-s", dead, "-c", str(bare_conf), "status", conf=False, cwd=auto_dir)
    assert lines(proc) == [f"{dead} refused connection"]
    # 2. -c beats the auto-detected file, before or after `ctl`.
    proc = env.ctl("-c", str(dead_conf), "status", conf=False, cwd=auto_dir)
    assert lines(proc) == [f"{dead} refused connection"]
    proc = env.ctl("status", conf=False, cwd=auto_dir, before=("-c", str(dead_conf)))
    assert lines(proc) == [f"{dead} refused connection"]
    proc = env.ctl("status", "sleeper", conf=False, before=("-c", str(env.daemon.config)))
    assert proc.returncode == 0 and lines(proc)[0].startswith("sleeper ")
    # 3. No -s, -c without a serverurl: the auto-detected ./supervisord.conf is used.
    proc = env.ctl("-c", str(bare_conf), "status", "sleeper", conf=False, cwd=auto_dir)
    assert proc.returncode == 0 and lines(proc)[0].startswith("sleeper "), proc.stdout
    proc = env.ctl("status", "sleeper", conf=False, cwd=auto_dir)
    assert proc.returncode == 0 and lines(proc)[0].startswith("sleeper "), proc.stdout
    # 4. Nothing anywhere: the default URL.
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = env.ctl("-c", str(bare_conf), "status", conf=False, cwd=empty)
    if proc.returncode == 4:  # nothing listens on 9001 here (the usual case)
        assert lines(proc) == ["http://localhost:9001 refused connection"]
    else:
        assert "localhost:9001" in proc.stdout or proc.returncode in (0, 1, 3)


def test_missing_config_file_is_an_error(env: Env) -> None:
    proc = env.ctl("-c", str(env.cwd / "nope.conf"), "status", conf=False)
    assert proc.returncode == 2 and "nope.conf" in proc.stderr


# ----------------------------------------------------------------------------------------- reread/update, lifecycle


@pytest.fixture
def small(daemon: Any, tmp_path: Path) -> Env:
    port = free_port()
    sock = tmp_path / "small.sock"
    body = "[program:keep]\ncommand = sleep 1000\nstartsecs = 0\n\n[program:old]\ncommand = sleep 1000\nstartsecs = 0\n"
    d = daemon(body, supervisord=_sections(port, sock, f"http://127.0.0.1:{port}"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    e = Env(d, port, sock, cwd)
    wait_for(lambda: _ready(e.rpc), 15, interval=0.05, what="the daemon to answer")
    wait_state(e.rpc, "old", "RUNNING")
    return e


def test_reread_update_add_remove(small: Env) -> None:
    conf = small.daemon.config
    proc = small.ctl("reread")
    assert (proc.returncode, lines(proc)) == (0, ["No config updates to processes"])
    text = conf.read_text().replace("[program:old]", "[program:new]")
    text = text.replace("[program:keep]\ncommand = sleep 1000", "[program:keep]\ncommand = sleep 1001")
    conf.write_text(text)
    proc = small.ctl("reread")
    assert (proc.returncode, lines(proc)) == (0, ["keep: changed", "new: available", "old: disappeared"])
    proc = small.ctl("update", "nosuch", "new")
    assert proc.returncode == 1
    assert lines(proc) == ["ERROR: no such group: nosuch", "new: added process group"]
    proc = small.ctl("update")
    assert proc.returncode == 0
    assert lines(proc) == [
        "old: stopped",
        "old: removed process group",
        "keep: stopped",
        "keep: updated process group",
    ]
    wait_state(small.rpc, "keep", "RUNNING")
    assert "sleep 1001" in " ".join(str(i["command"]) for i in small.rpc.supervisor.getAllConfigInfo())
    proc = small.ctl("remove", "new")
    assert (proc.returncode, lines(proc)) == (1, ["ERROR: process/group still running: new"])
    small.ctl("stop", "new")
    proc = small.ctl("remove", "new")
    assert (proc.returncode, lines(proc)) == (0, ["new: removed process group"])
    proc = small.ctl("add", "new")
    assert (proc.returncode, lines(proc)) == (0, ["new: added process group"])
    proc = small.ctl("add", "new")
    assert (proc.returncode, lines(proc)) == (0, ["ERROR: process group already active"])
    proc = small.ctl("avail")
    assert [line.split()[0] for line in lines(proc)] == ["keep", "new"]


def test_reread_reports_a_broken_config(small: Env) -> None:
    small.daemon.config.write_text(small.daemon.config.read_text() + "\n[program:broken]\n")
    proc = small.ctl("reread")
    assert proc.returncode == 1
    assert lines(proc)[0].startswith("ERROR: CANT_REREAD")


def test_reload_restarts_in_place(small: Env) -> None:
    pid = small.daemon.proc.pid  # type: ignore[union-attr]
    old = small.rpc.supervisor.getProcessInfo("old")["pid"]
    proc = small.ctl("reload")
    assert (proc.returncode, lines(proc)) == (0, ["Restarted supervisord"])
    wait_for(
        lambda: _ready(small.rpc) and small.rpc.supervisor.getProcessInfo("old")["pid"] not in (0, old),
        30,
        interval=0.1,
        what="the daemon to come back after reload",
    )
    assert lines(small.ctl("pid")) == [str(pid)]


def test_shutdown(small: Env) -> None:
    proc = small.ctl("shutdown")
    assert (proc.returncode, lines(proc)) == (0, ["Shut down"])
    assert small.daemon.proc is not None
    assert small.daemon.proc.wait(30) == 0
    proc = small.ctl("shutdown")
    assert (proc.returncode, lines(proc)) == (
        1,
        [f"ERROR: {small.http} refused connection (already shut down?)"],
    )
