"""The daemon is a child subreaper: orphaned grandchildren come to it and are reaped even when it is not PID 1
(e.g. PID 2 under a one-file launcher), while its own children's exit statuses stay its actors'."""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

from harness import wait_for
from rpcutil import free_port, inet_section, proxy


def parent_of(pid: int) -> int | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return int(data[data.rfind(b")") + 2 :].split()[1])


def zombies_of(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                data = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            rest = data[data.rfind(b")") + 2 :].split()
            if rest[0] == b"Z" and int(rest[1]) == parent:
                found.append(int(entry))
    return found


def test_orphans_reparent_to_the_daemon_and_are_reaped_without_stealing_exit_statuses(
    daemon, tmp_path: Path
) -> None:
    gpid_file = tmp_path / "gpid"
    port = free_port()
    d = daemon(
        inet_section(port)
        + textwrap.dedent(
            f"""
        [program:leaver]
        command = sh -c 'sleep 1000 & echo $! > {gpid_file}; sleep 0.2; exit 3'
        startsecs = 0
        autorestart = false
        [program:spawner]
        command = sh -c 'for i in 1 2 3 4 5 6; do (sleep 0.2 &); done; exec sleep 1000'
        startsecs = 0
        """
        )
    )
    me = d.proc.pid if d.proc else 0
    # The owned child's own exit status is the actor's, not the orphan reaper's.
    d.wait_log(r"exited: leaver \(exit status 3; not expected\)", timeout=20)
    info = proxy(port).supervisor.getProcessInfo("leaver")
    assert (info["statename"], info["exitstatus"]) == ("EXITED", 3)
    # Its background sleep outlived it and was re-parented to the daemon (not to PID 1 or the test runner).
    gpid = int(gpid_file.read_text())
    assert parent_of(gpid) == me
    os.kill(gpid, signal.SIGTERM)
    wait_for(lambda: parent_of(gpid) is None, 10, what=f"orphan {gpid} reaped (not left a zombie)")
    # The six short-lived double-forked grandchildren of 'spawner' are reaped too.
    d.wait_log(r"reaped unknown pid \d+", count=7, timeout=20)
    wait_for(lambda: not zombies_of(me), 10, what="no zombie under the daemon")
    assert proxy(port).supervisor.getProcessInfo("spawner")["statename"] == "RUNNING"
    assert d.stop() == 0


ORPHAN_SCRIPT = r"""
import json, logging, os, subprocess, sys, threading, time
from supervisord.runtime.reaper import FULL_SCAN_EVERY, OrphanReaper, become_subreaper, orphan_candidates
from supervisord.runtime.spawn import ManagedPids

assert become_subreaper()
me = os.getpid()


def state(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2 :][:1].decode()


class Loop:
    def __init__(self):
        self.timers = []

    def call_at(self, at, callback):
        self.timers.append((at - time.monotonic(), callback))


# An owned child, forked on another thread (as the actors do), that has exited: a zombie the reaper must leave.
pids = ManagedPids()
popens = []  # kept: a dropped Popen is reaped by the next one's clean-up
done, forked = threading.Event(), threading.Event()


def worker():  # stays alive, as the actor workers do: a thread's children go to the main one when it ends
    popens.append(subprocess.Popen(["true"]))
    forked.set()
    done.wait()


t = threading.Thread(target=worker)
t.start()
forked.wait()
owned = [popens[0].pid]
pids.add(owned[0])
# An orphan: sh starts a short sleep in the background and exits; the sleep is re-parented to us and dies.
subprocess.run(["sh", "-c", "sleep 0.2 & echo $! > orphan.pid"], check=True)
orphan = int(open("orphan.pid").read())
deadline = time.monotonic() + 10
while not (state(orphan) == "Z" and state(owned[0]) == "Z") and time.monotonic() < deadline:
    time.sleep(0.01)
listed = orphan_candidates(me)
log = []
logger = logging.getLogger("t"); logger.setLevel(logging.DEBUG)
logger.addHandler(type("H", (logging.Handler,), {"emit": lambda self, r: log.append(r.getMessage())})())
loop = Loop()
reaper = OrphanReaper(pids, logger, loop)
reaper()
reaper()  # a second SIGCHLD while the safety-net scan is pending schedules no other
after = {"orphan": state(orphan), "owned": state(owned[0])}
delays = [round(d) for d, _ in loop.timers]
loop.timers[0][1]()  # the safety-net scan: all of /proc, still never an owned pid
done.set(); t.join()
print(json.dumps({
    "listed": orphan in listed and owned[0] not in listed,
    "after": after, "owned_after_full": state(owned[0]), "delays": delays, "every": FULL_SCAN_EVERY,
    "log": log, "orphan": orphan,
}))
os.waitpid(owned[0], 0)
"""


def test_orphan_reaper_reads_our_childrens_list_and_leaves_owned_zombies(tmp_path: Path) -> None:
    """The reaper looks at the main thread's children (not every process on the machine), reaps the
    orphan there, leaves a zombie an actor owns, and arms one safety-net scan of all of /proc."""
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", ORPHAN_SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["listed"], "the orphan hangs under the main thread; a child forked on a worker thread does not"
    assert got["after"] == {"orphan": None, "owned": "Z"}
    assert got["owned_after_full"] == "Z"
    assert got["delays"] == [round(got["every"])]
    assert got["log"] == [f"reaped unknown pid {got['orphan']} (exit status 0)"]
