"""Running the real daemon as a subprocess for end-to-end tests.

Everything waits by polling with a deadline (never a bare sleep), and every daemon is torn down with a check
that it left no process behind: children carry a unique tag in their environment, found through /proc.
"""

from __future__ import annotations

import datetime
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
TAG_VAR = "SUPERVISORD_PY_TEST_TAG"


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.01, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy; fail the test with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def tagged_pids(tag: str) -> list[int]:
    """Live (non-zombie) processes whose environment carries ``tag``."""
    found = []
    needle = f"{TAG_VAR}={tag}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read()
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        if needle in env.split(b"\0") and stat[stat.rfind(b")") + 2 :][:1] != b"Z":
            found.append(int(entry))
    return found


def proc_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2 :][:1].decode()


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (\w{4}) (.*)$")


class Daemon:
    """One supervisord under test, on a config written into ``tmp``."""

    def __init__(self, tmp: Path, body: str, *, supervisord: str = "", args: tuple[str, ...] = ()) -> None:
        self.tmp = tmp
        self.tag = uuid.uuid4().hex
        self.logfile = tmp / "supervisord.log"
        self.childlogdir = tmp / "logs"
        self.childlogdir.mkdir(exist_ok=True)
        self.config = tmp / "supervisord.conf"
        header = textwrap.dedent(
            f"""\
            [supervisord]
            logfile = {self.logfile}
            pidfile = {tmp / "supervisord.pid"}
            childlogdir = {self.childlogdir}
            loglevel = debug
            nodaemon = true
            """
        )
        self.config.write_text(header + textwrap.dedent(supervisord) + "\n" + textwrap.dedent(body))
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.stdout_path = tmp / "daemon.stdout"
        self.stderr_path = tmp / "daemon.stderr"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "supervisord", "-c", str(self.config), *self.args]

    def start(self, env: dict[str, str] | None = None, prefix: list[str] | None = None) -> Daemon:
        full_env = dict(os.environ)
        full_env[TAG_VAR] = self.tag
        full_env.update(env or {})
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [*(prefix or []), *self.command()],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=full_env,
                cwd=self.tmp,
                start_new_session=True,
            )
        pidfile = self.tmp / "supervisord.pid"
        wait_for(lambda: pidfile.exists() or self.proc.poll() is not None, what="the daemon to start")
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited {self.proc.returncode}: {self.stderr()}")
        return self

    # -- reading --

    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def entries(self) -> list[tuple[float, str, str]]:
        """(epoch seconds, level, message) for every main-log line."""
        out = []
        for line in self.log().splitlines():
            m = LOG_LINE.match(line)
            if m:
                stamp = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                out.append((stamp, m.group(2), m.group(3)))
        return out

    def times(self, pattern: str) -> list[float]:
        rx = re.compile(pattern)
        return [t for t, _, msg in self.entries() if rx.search(msg)]

    def count(self, pattern: str) -> int:
        return len(self.times(pattern))

    def wait_log(self, pattern: str, count: int = 1, timeout: float = 10.0) -> list[float]:
        return wait_for(
            lambda: (t := self.times(pattern)) and len(t) >= count and t,
            timeout,
            what=f"{count}x /{pattern}/ in the main log:\n{self.log()}",
        )

    def pid_of(self, name: str) -> int:
        m = re.findall(rf"spawned: '{re.escape(name)}' with pid (\d+)", self.log())
        assert m, f"{name} was never spawned:\n{self.log()}"
        return int(m[-1])

    # -- stopping --

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait for exit, and insist that nothing tagged is left running."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"daemon did not exit within {timeout}s of SIGTERM:\n{self.log()}") from None
        deadline = time.monotonic() + 3
        while tagged_pids(self.tag) and time.monotonic() < deadline:
            time.sleep(0.02)
        leftovers = tagged_pids(self.tag)
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert not leftovers, f"processes left behind after shutdown: {leftovers}"
        return rc

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        for pid in tagged_pids(self.tag):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``supervisord ARGS`` (the installed package) in ``cwd``, to completion, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "supervisord", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
