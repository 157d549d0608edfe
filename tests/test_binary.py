"""The one-file static executable (``scripts/build-binary`` → ``dist/supervisord``), run for real.

Built once per test run (the script itself skips the build when the source hash is unchanged). The container
test does what an image would do without a Docker daemon: a root directory holding only the binary, a config
and a static busybox, read-only with a tmpfs ``/tmp``, entered with ``unshare --pid --fork --mount-proc`` and
``chroot``; the binary's launcher is the namespace's PID 1 and the daemon runs under it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import xmlrpc.client
from pathlib import Path

import binarybuild
import pytest
from harness import wait_for
from rpcutil import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "dist" / "supervisord"
MAX_SIZE = 30 * 1024 * 1024


@pytest.fixture(scope="session")
def binary() -> Path:
    reason = binarybuild.missing_build_tools()
    if reason:
        pytest.skip(f"cannot build the binary: {reason}")
    code, output = binarybuild.wait(timeout=1500)  # started at collection (conftest), alongside the suite
    assert code == 0, f"build-binary failed:\n{output}"
    return BINARY


def test_the_binary_is_small_static_and_says_how_it_was_built(binary: Path) -> None:
    assert binary.stat().st_size <= MAX_SIZE, binary.stat().st_size
    with open(binary, "rb") as fh:
        assert fh.read(4) == b"\x7fELF"
    headers = subprocess.run(["objdump", "-p", str(binary)], capture_output=True, text=True).stdout
    assert "INTERP" not in headers and "NEEDED" not in headers  # no loader, no shared library
    out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=60)
    from supervisord import __version__

    lines = out.stdout.splitlines()
    assert lines[0] == __version__
    assert re.match(
        r"one-file binary: PyInstaller [\d.]+ \+ hooks-contrib \S+ \+ staticx [\d.]+, Python 3", lines[1]
    )


def test_the_binary_serves_and_stops_and_cleans_up_what_it_unpacked(binary: Path, tmp_path: Path) -> None:
    port = free_port()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    conf = tmp_path / "sv.conf"
    conf.write_text(
        textwrap.dedent(
            f"""\
            [supervisord]
            logfile = /dev/stdout
            pidfile = {tmp_path}/sv.pid
            [inet_http_server]
            port = 127.0.0.1:{port}
            [program:sleeper]
            command = sleep 1000
            startsecs = 0
            """
        )
    )
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen(
        [str(binary), "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    try:
        server = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")

        def serving() -> bool:
            try:
                return server.supervisor.getProcessInfo("sleeper")["statename"] == "RUNNING"
            except OSError:
                return False

        wait_for(serving, 60, what="the binary to serve XML-RPC")
        assert os.listdir(tmpdir)  # it unpacked under $TMPDIR …
        proc.send_signal(signal.SIGTERM)  # … to the outer launcher, which passes it on
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert b"stopped: sleeper (terminated by SIGTERM)" in out and b"supervisord stopped" in out
    assert os.listdir(tmpdir) == []  # … and removed it


def _static_busybox() -> str:
    path = shutil.which("busybox")
    if path is None:
        pytest.skip("no busybox (apt-get install busybox-static)")
    headers = subprocess.run(["objdump", "-p", path], capture_output=True, text=True).stdout
    if "NEEDED" in headers:
        pytest.skip(f"{path} is not static (apt-get install busybox-static)")
    return path


def _descendants(pid: int) -> dict[int, str]:
    """pid -> state of every process below ``pid`` (host view)."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                data = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            rest = data[data.rfind(b")") + 2 :].split()
            parents[int(entry)] = (int(rest[1]), rest[0].decode())
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        for child, (parent, state) in parents.items():
            if parent == current and child not in found:
                found[child] = state
                frontier.append(child)
    return found


CONTAINER_CONF = """\
[supervisord]
logfile = /dev/stdout
pidfile = /tmp/supervisord.pid
loglevel = debug
[program:orphaner]
command = /bin/sh -c '(sleep 0.3 &); (sleep 0.3 &); exec sleep 1000'
startsecs = 0
[program:seven]
command = /bin/sh -c 'sleep 0.5; exit 7'
startsecs = 0
autorestart = false
[program:talker]
command = /bin/sh -c 'echo hello-from-talker; exec sleep 1000'
stdout_logfile = /dev/stdout
startsecs = 0
stopwaitsecs = 5
"""
ENTER = """\
set -e
R=$1
mount --bind "$R" "$R"
mount -o remount,bind,ro "$R"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mount -t proc proc "$R/proc"
mount --bind /dev/null "$R/dev/null"
exec chroot "$R" /supervisord -c /etc/supervisord.conf
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for unshare, mount and chroot")
def test_in_an_empty_read_only_root_as_the_container_init(binary: Path, tmp_path: Path) -> None:
    busybox = _static_busybox()
    root = tmp_path / "root"
    for sub in ("bin", "etc", "tmp", "proc", "dev"):
        (root / sub).mkdir(parents=True)
    shutil.copy2(binary, root / "supervisord")
    shutil.copy2(busybox, root / "bin" / "busybox")
    for applet in ("sh", "sleep"):
        (root / "bin" / applet).symlink_to("busybox")
    (root / "dev" / "null").touch()
    (root / "dev" / "stdout").symlink_to("/proc/self/fd/1")
    (root / "etc" / "supervisord.conf").write_text(CONTAINER_CONF)
    enter = tmp_path / "enter.sh"
    enter.write_text(ENTER)
    out_path = tmp_path / "stdout"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--mount", "sh", str(enter), str(root)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def output() -> str:
        return out_path.read_text(errors="replace")

    try:
        wait_for(
            lambda: "exited: seven (exit status 7; not expected)" in output(), 60, what="seven's exit status"
        )
        wait_for(
            lambda: len(re.findall(r"reaped unknown pid \d+", output())) >= 2, 20, what="two orphans reaped"
        )
        assert "hello-from-talker\n" in output()  # a program's stdout_logfile=/dev/stdout reaches our stdout
        assert re.search(r"^\d{4}-\d\d-\d\d [\d:,]+ INFO spawned: 'talker'", output(), re.M)
        wait_for(
            lambda: not [p for p, state in _descendants(proc.pid).items() if state == "Z"],
            10,
            what="no zombie in the container",
        )
        # unshare passes no signal on: signal the namespace's PID 1 (the binary's launcher) by its host pid.
        (init,) = (int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split())
        nspid = Path(f"/proc/{init}/status").read_text().split("NSpid:")[1].split("\n")[0].split()
        assert nspid[-1] == "1", nspid
        started = time.monotonic()
        os.kill(init, signal.SIGTERM)
        rc = proc.wait(5 + 10)  # stopwaitsecs of the slowest program, plus the start-up of nothing
        stop_took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            for pid in _descendants(proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.kill()
            proc.wait(10)
    assert rc == 0, output()
    assert "stopped: talker (terminated by SIGTERM)" in output()
    assert output().rstrip().endswith("INFO supervisord stopped"), output()
    print(f"container stop took {stop_took:.2f}s", file=sys.stderr)
