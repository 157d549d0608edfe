"""``supervisord -d``: detaching, readiness, pidfile life cycle, refusals, and the process-level settings
(umask, directory, minfds, user) applied on the way.

The launcher's exit status is the readiness verdict, so these tests talk to the daemon right after the
launcher returns, without polling for it to come up: if the launcher exited 0 too early, they fail.
"""

from __future__ import annotations

import http.client
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
import uuid
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import TAG_VAR, tagged_pids, wait_for
from rpcutil import free_port, inet_section


class Detached:
    """A config in ``tmp`` and helpers to launch it with ``-d`` and clean up by pid afterwards."""

    def __init__(self, tmp: Path, extra: str = "", programs: str = "") -> None:
        self.tmp = tmp
        self.port = free_port()
        self.pidfile = tmp / "supervisord.pid"
        self.logfile = tmp / "supervisord.log"
        self.tag = uuid.uuid4().hex
        self.config = tmp / "supervisord.conf"
        (tmp / "logs").mkdir(exist_ok=True)
        self.config.write_text(
            textwrap.dedent(
                f"""\
                [supervisord]
                logfile = {self.logfile}
                pidfile = {self.pidfile}
                childlogdir = {tmp / "logs"}
                loglevel = debug
                """
            )
            + textwrap.dedent(extra)
            + "\n"
            + inet_section(self.port)
            + "\n"
            + textwrap.dedent(programs or "[program:sleeper]\ncommand = sleep 1000\nstartsecs = 0\n")
        )

    def launch(
        self, *args: str, cwd: Path | None = None, preexec: object = None
    ) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env[TAG_VAR] = self.tag
        return subprocess.run(
            [sys.executable, "-m", "supervisord", "-c", str(self.config), "-d", *args],
            cwd=cwd or self.tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            preexec_fn=preexec,  # type: ignore[arg-type]
        )

    def pid(self) -> int:
        return int(self.pidfile.read_text().strip())

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "supervisord", "ctl", "-s", f"http://127.0.0.1:{self.port}", *args],
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    def cleanup(self) -> None:
        """Kill whatever this test left running: the daemon (by its pidfile) and tagged children."""
        pids = set(tagged_pids(self.tag))
        try:
            pids.add(self.pid())
        except (OSError, ValueError):
            pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def detached(tmp_path: Path) -> Iterator[list[Detached]]:
    made: list[Detached] = []
    yield made
    for d in made:
        d.cleanup()


def _http(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def make(detached: list[Detached], tmp: Path, extra: str = "", programs: str = "") -> Detached:
    tmp.mkdir(parents=True, exist_ok=True)
    d = Detached(tmp, extra, programs)
    detached.append(d)
    return d


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :][:1] != b"Z"


def stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read().decode()
    return data[data.rfind(")") + 2 :].split()  # fields from "state" on: [0]=state, [3]=session, [4]=tty_nr


def proc_status(pid: int, key: str) -> str:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    raise AssertionError(f"{key} not in /proc/{pid}/status")


def test_detaches_reports_ready_and_shuts_down_cleanly(detached: list[Detached], tmp_path: Path) -> None:
    d = make(detached, tmp_path / "a")
    start = time.monotonic()
    proc = d.launch()
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 20
    pid = d.pid()  # written before the launcher was told "ready"
    assert pid != os.getpid() and alive(pid)
    fields = stat_fields(pid)
    assert int(fields[3]) != os.getsid(0)  # its own session, not the test's
    assert fields[4] == "0"  # no controlling terminal
    assert os.getsid(pid) != os.getpgid(0)
    # Serving already: no polling needed after the launcher returned 0.
    status = d.ctl("status")
    assert status.returncode == 0 and status.stdout.startswith("sleeper "), status.stdout + status.stderr
    assert d.ctl("pid").stdout.strip() == str(pid)
    assert "supervisord started with pid" in d.logfile.read_text()
    # stdio went to /dev/null, not to the launcher's pipes.
    assert os.readlink(f"/proc/{pid}/fd/1") == "/dev/null"
    children = tagged_pids(d.tag)
    assert pid in children and len(children) >= 2

    shutdown = d.ctl("shutdown")
    assert shutdown.stdout.strip() == "Shut down"
    wait_for(lambda: not alive(pid), 30, interval=0.05, what="the daemon to exit")
    wait_for(lambda: not d.pidfile.exists(), 5, interval=0.05, what="the pidfile to be removed")
    wait_for(lambda: not tagged_pids(d.tag), 5, interval=0.05, what="the children to be gone")


def test_stale_pidfile_is_replaced(detached: list[Detached], tmp_path: Path) -> None:
    d = make(detached, tmp_path / "b")
    dead = subprocess.Popen(["true"])
    dead.wait()
    d.pidfile.write_text(f"{dead.pid}\n")
    proc = d.launch()
    assert proc.returncode == 0, proc.stderr
    assert d.pid() != dead.pid and alive(d.pid())


def test_live_pidfile_refuses_to_start(detached: list[Detached], tmp_path: Path) -> None:
    d = make(detached, tmp_path / "c")
    assert d.launch().returncode == 0
    first = d.pid()
    again = d.launch()
    assert again.returncode == 1
    assert f"already running with pid {first}" in again.stderr
    assert d.pid() == first and alive(first)


def test_second_daemon_on_the_same_port_fails(detached: list[Detached], tmp_path: Path) -> None:
    first = make(detached, tmp_path / "d1")
    assert first.launch().returncode == 0
    second = make(detached, tmp_path / "d2")
    second.config.write_text(
        second.config.read_text().replace(f"127.0.0.1:{second.port}", f"127.0.0.1:{first.port}")
    )
    second.port = first.port
    start = time.monotonic()
    proc = second.launch()
    assert proc.returncode == 1
    assert "Cannot open an HTTP server" in proc.stderr and "in use" in proc.stderr
    assert time.monotonic() - start < 20
    assert not second.pidfile.exists()
    assert alive(first.pid())


def test_umask_and_working_directory(detached: list[Detached], tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    d = make(detached, tmp_path / "e", extra=f"umask = 027\ndirectory = {workdir}\n")
    assert d.launch().returncode == 0
    pid = d.pid()
    assert proc_status(pid, "Umask") == "0027"
    assert os.readlink(f"/proc/{pid}/cwd") == str(workdir)


def test_working_directory_defaults_to_the_launchers_cwd(detached: list[Detached], tmp_path: Path) -> None:
    d = make(detached, tmp_path / "f")
    here = tmp_path / "here"
    here.mkdir()
    assert d.launch(cwd=here).returncode == 0
    assert os.readlink(f"/proc/{d.pid()}/cwd") == str(here)


def test_minfds_raises_the_soft_limit(detached: list[Detached], tmp_path: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip("hard RLIMIT_NOFILE below 4096")
    d = make(detached, tmp_path / "g", extra="minfds = 4096\n")

    def low() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))

    assert d.launch(preexec=low).returncode == 0
    with open(f"/proc/{d.pid()}/limits") as fh:
        row = next(line for line in fh if line.startswith("Max open files"))
    assert int(row.split()[3]) >= 4096


def test_unraisable_minfds_is_a_clear_error_in_both_modes(tmp_path: Path) -> None:
    d = Detached(tmp_path, extra="minfds = 2000000000\n")
    for flag in ("-d", "-n"):
        proc = subprocess.run(
            [sys.executable, "-m", "supervisord", "-c", str(d.config), flag],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 2  # Supervisor's usage error
        assert "minfds" in proc.stderr and "2000000000" in proc.stderr
        assert not d.pidfile.exists()


def test_unknown_user_is_refused_before_detaching(tmp_path: Path) -> None:
    d = Detached(tmp_path, extra="user = no-such-user-xyz\n")
    proc = d.launch()
    assert proc.returncode == 2  # a config error, found while loading
    assert "no-such-user-xyz" in proc.stderr
    assert not d.pidfile.exists()


def test_own_user_is_accepted(detached: list[Detached], tmp_path: Path) -> None:
    import pwd

    me = pwd.getpwuid(os.getuid()).pw_name
    d = make(detached, tmp_path / "h", extra=f"user = {me}\n")
    assert d.launch().returncode == 0
    assert proc_status(d.pid(), "Uid").split()[0] == str(os.getuid())


def test_sigterm_removes_the_pidfile(detached: list[Detached], tmp_path: Path) -> None:
    d = make(detached, tmp_path / "i")
    assert d.launch().returncode == 0
    pid = d.pid()
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not alive(pid), 30, interval=0.05, what="the daemon to exit on SIGTERM")
    assert not d.pidfile.exists()


@pytest.mark.skipif(os.getuid() != 0, reason="switching users needs root")
def test_switches_to_the_configured_user_after_binding(detached: list[Detached]) -> None:
    import pwd
    import shutil
    import tempfile

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' user")
    # A world-writable directory: the pidfile and logs are written after the switch.
    base = Path(tempfile.mkdtemp(prefix="sv-user-", dir="/tmp"))
    try:
        base.chmod(0o777)
        d = make(detached, base / "run", extra="user = nobody\n")
        (base / "run").chmod(0o777)
        (base / "run" / "logs").chmod(0o777)
        proc = d.launch()
        assert proc.returncode == 0, proc.stderr
        pid = d.pid()
        assert proc_status(pid, "Uid").split()[0] == str(nobody.pw_uid)
        status = d.ctl("status")
        assert status.stdout.startswith("sleeper ") and "RUNNING" in status.stdout, status.stdout
        # What the daemon imports only on first use (Bottle for a 404, the stdlib parser for an odd call)
        # must have been loaded before the switch: the interpreter's library may be unreadable to nobody.
        assert _http(d.port, "GET", "/no/such/page")[0] == 404
        assert _http(d.port, "POST", "/RPC2", b"garbage")[0] == 400
        odd = xmlrpc.client.dumps((b"bytes",), "supervisor.getAPIVersion").encode()
        assert _http(d.port, "POST", "/RPC2", odd)[0] == 200
        assert d.ctl("shutdown").returncode == 0
        wait_for(lambda: not alive(pid), 30, interval=0.05, what="the daemon to exit")
        assert not d.pidfile.exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)
