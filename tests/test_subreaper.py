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
