"""``spawn`` in-process: a failure after the fork never leaves a running, unowned child behind."""

from __future__ import annotations

import errno
import os
import uuid

import pytest
from harness import TAG_VAR, tagged_pids

from supervisord.config.model import ProcessConfig
from supervisord.runtime.spawn import ManagedPids, SpawnError, spawn


def open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


def test_pidfd_open_failure_kills_and_reaps_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    tag = uuid.uuid4().hex
    config = ProcessConfig(name="victim", group="victim", program_name="victim", command="sleep 1000")
    env = {**os.environ, TAG_VAR: tag}
    started: list[int] = []
    real_add = ManagedPids.add

    def record(self: ManagedPids, pid: int) -> None:
        started.append(pid)
        real_add(self, pid)

    def no_descriptors(pid: int, flags: int = 0) -> int:
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    pids = ManagedPids()
    monkeypatch.setattr(ManagedPids, "add", record)
    monkeypatch.setattr(os, "pidfd_open", no_descriptors)
    before = open_fds()
    try:
        with pytest.raises(SpawnError, match="too many open files to spawn 'victim'"):
            spawn(config, ["/bin/sleep", "1000"], env, None, pids)
    finally:
        leftovers = tagged_pids(tag)
        for pid in leftovers:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
    assert started, "the child was never forked"
    assert not leftovers, f"a child was left running after the spawn failed: {leftovers}"
    with pytest.raises(ChildProcessError):  # reaped: no zombie either
        os.waitpid(started[0], os.WNOHANG)
    assert started[0] not in pids
    assert open_fds() == before
