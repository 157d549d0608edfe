"""A daemon killed with SIGKILL: the next start stops what it left running before starting anything.

The running daemon records its children (pid and start time) in ``<pidfile>.children``; a start stops the
processes recorded there that still run as recorded, and never touches a pid that now names another process.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest
from harness import TAG_VAR, proc_state, tagged_pids, wait_for

from supervisord.actors import childjournal
from supervisord.config.model import SupervisordConfig
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.ioloop import IOLoop
from supervisord.runtime.leftovers import ChildRecord, proc_starttime, write_state
from supervisord.runtime.spawn import ManagedPids

PROGRAMS = """
[program:alpha]
command = sleep 1000
startsecs = 0

[program:beta]
command = bash -c 'trap "echo got INT; exit 0" INT; while :; do sleep 0.05; done'
stopsignal = INT
stopasgroup = true
startsecs = 0
"""


def recorded(state: Path) -> dict[str, int]:
    try:
        _, *lines = state.read_text().splitlines()
        return {c["name"]: c["pid"] for c in map(json.loads, lines)}
    except (OSError, ValueError):
        return {}


def state_text(daemon: dict[str, object], children: list[dict[str, object]]) -> str:
    """The state file: a header line, then one JSON object per child."""
    lines = [json.dumps({"format": 1, "daemon": daemon}), *map(json.dumps, children)]
    return "\n".join(lines) + "\n"


def test_children_of_a_killed_daemon_are_stopped_before_the_next_start(daemon, tmp_path: Path) -> None:
    d = daemon(PROGRAMS)
    state = tmp_path / "supervisord.pid.children"
    d.wait_log(r"spawned: 'alpha'")
    d.wait_log(r"spawned: 'beta'")
    old = {"alpha": d.pid_of("alpha"), "beta": d.pid_of("beta")}
    wait_for(lambda: recorded(state) == old, what=f"both children in {state}")
    assert d.proc is not None
    os.kill(d.proc.pid, signal.SIGKILL)  # the daemon alone: its children run on
    d.proc.wait(10)
    assert all(proc_state(pid) not in (None, "Z") for pid in old.values())

    d.start()
    d.wait_log(r"found 2 process\(es\) left running by a previous supervisord")
    d.wait_log(rf"stopping leftover alpha \(pid {old['alpha']}\) with SIGTERM")
    d.wait_log(rf"stopping leftover beta \(pid {old['beta']} and its process group\) with SIGINT")
    d.wait_log(r"spawned: 'alpha'", count=2)
    d.wait_log(r"spawned: 'beta'", count=2)
    stopped = d.times(r"stopped leftover (alpha|beta)")
    assert len(stopped) == 2 and max(stopped) <= min(d.times(r"spawned: ")[2:]), d.log()
    # gone, or a zombie of whichever process adopted it (not every container's init reaps)
    assert all(proc_state(pid) in (None, "Z") for pid in old.values()), d.log()
    new = {"alpha": d.pid_of("alpha"), "beta": d.pid_of("beta")}
    wait_for(lambda: recorded(state) == new, what="the new children recorded")
    # exactly one copy of each: sleep, and bash with its sleep loop (one pid at most beside bash)
    running = set(tagged_pids(d.tag))
    assert new["alpha"] in running and new["beta"] in running and not running & set(old.values())
    assert d.stop() == 0
    assert not state.exists(), "a clean shutdown must remove the state file"


def test_a_reused_pid_is_never_touched(daemon, tmp_path: Path) -> None:
    """Records whose start time does not match (the pid now names another process) are left alone."""
    env = {**os.environ, TAG_VAR: "unrelated"}
    unrelated = subprocess.Popen(["sleep", "1000"], env=env, start_new_session=True)
    leftover = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(1000)"], start_new_session=True
    )
    try:
        wait_for(lambda: proc_starttime(unrelated.pid) and proc_starttime(leftover.pid), what="the processes")
        started = proc_starttime(unrelated.pid)
        assert started is not None
        state = tmp_path / "supervisord.pid.children"

        def record(pid: int, starttime: int, name: str) -> dict[str, object]:
            return {
                "pid": pid,
                "starttime": starttime,
                "name": name,
                "stopsignals": [int(signal.SIGTERM)],
                "stopwaitsecs": 10,
                "stopasgroup": False,
                "killasgroup": False,
            }

        dead_daemon = {"pid": 999_999_999, "starttime": 1}
        children = [
            record(unrelated.pid, started + 1, "recycled"),  # same pid, another process
            record(leftover.pid, proc_starttime(leftover.pid) or 0, "real"),
            record(999_999_998, 1, "gone"),
        ]
        state.write_text(state_text(dead_daemon, children))
        d = daemon("[program:x]\ncommand = sleep 1000\nstartsecs = 0\n")
        d.wait_log(r"spawned: 'x'")
        d.wait_log(rf"not touching pid {unrelated.pid} recorded for recycled")
        d.wait_log(r"not touching pid 999999998 recorded for gone")
        d.wait_log(rf"stopped leftover real \(pid {leftover.pid}\)")
        assert leftover.wait(5) == -signal.SIGTERM
        assert unrelated.poll() is None, "an unrelated process with a reused pid was killed"
        assert proc_starttime(unrelated.pid) == started
        assert d.stop() == 0
    finally:
        for proc in (unrelated, leftover):
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)


def test_a_state_file_of_a_live_daemon_is_left_alone(daemon, tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    try:
        wait_for(lambda: proc_starttime(bystander.pid), what="the bystander")
        me = {"pid": os.getpid(), "starttime": proc_starttime(os.getpid())}  # this test is "the daemon"
        child = {
            "pid": bystander.pid,
            "starttime": proc_starttime(bystander.pid),
            "name": "theirs",
            "stopsignals": [15],
            "stopwaitsecs": 1,
            "stopasgroup": False,
            "killasgroup": False,
        }
        state = tmp_path / "supervisord.pid.children"
        state.write_text(state_text(me, [child]))
        d = daemon("[program:x]\ncommand = sleep 1000\nstartsecs = 0\n")
        d.wait_log(rf"the supervisord that wrote {state} \(pid {os.getpid()}\) is still running")
        d.wait_log(r"spawned: 'x'")
        assert bystander.poll() is None
        assert d.stop() == 0
    finally:
        bystander.kill()
        bystander.wait(5)


@pytest.fixture
def journal_ctx(tmp_path: Path) -> Iterator[RuntimeContext]:
    """An in-process runtime context (a real I/O loop) whose pidfile is in ``tmp_path``."""
    loop = IOLoop()
    loop.start()
    yield RuntimeContext(
        ioloop=loop,
        pids=ManagedPids(),
        logger=logging.getLogger("test-journal"),
        settings=SupervisordConfig(pidfile=str(tmp_path / "d.pid")),
        base_environ={},
        serverurl=None,
    )
    loop.stop()


def fake(n: int) -> ChildRecord:
    return ChildRecord(100_000 + n, n, f"p{n}", (15,), 10.0, False, False)


def test_the_journal_coalesces_a_burst_of_spawns(
    journal_ctx: RuntimeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000 spawns and reaps cost a rewrite per interval, not one per change; the last state is on disk."""
    writes: list[int] = []

    def counting(path: str, lines: Collection[str]) -> None:
        writes.append(len(lines))
        write_state(path, lines)

    monkeypatch.setattr(childjournal, "write_state", counting)
    state = Path(journal_ctx.settings.pidfile + ".children")
    ref = childjournal.start_journal(journal_ctx)
    try:
        began = time.monotonic()
        for n in range(1000):
            ref.tell(childjournal.Spawned(fake(n)))
        for n in range(500):
            journal_ctx.pids.discard(100_000 + n)
        wait_for(lambda: len(recorded(state)) == 500, what="the final state on disk")
        elapsed = time.monotonic() - began
        assert set(recorded(state)) == {f"p{n}" for n in range(500, 1000)}
        assert len(writes) <= 2 + elapsed / childjournal.INTERVAL, (writes, elapsed)
    finally:
        ref.stop(timeout=5)
    assert not state.exists()  # on_stop: none of these pids runs as recorded, so nothing is left to record


def test_a_journal_that_cannot_write_says_so_once_and_recovers(
    journal_ctx: RuntimeContext, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = [True]

    def flaky(path: str, lines: Collection[str]) -> None:
        if broken[0]:
            raise OSError(28, "No space left on device")
        write_state(path, lines)

    monkeypatch.setattr(childjournal, "write_state", flaky)
    monkeypatch.setattr(childjournal, "INTERVAL", 0.01)
    state = Path(journal_ctx.settings.pidfile + ".children")
    ref = childjournal.start_journal(journal_ctx)
    try:
        with caplog.at_level(logging.INFO, logger="test-journal"):
            for n in range(3):
                ref.tell(childjournal.Spawned(fake(n)))
                ref.ask(None, timeout=5)  # one write attempt per change (the interval is short)
                wait_for(lambda: not ref.proxy().armed.get(timeout=5), what="the flush")
            broken[0] = False
            ref.tell(childjournal.Spawned(fake(3)))
            wait_for(lambda: len(recorded(state)) == 4, what="the state written again")
        messages = [r.getMessage() for r in caplog.records]
        assert [m for m in messages if m.startswith("cannot write")] == [
            f"cannot write {state} (No space left on device): after a crash, its running processes would "
            "not be found"
        ]
        assert f"child state file {state} written again" in messages
        assert ref.is_alive()
    finally:
        ref.stop(timeout=5)
