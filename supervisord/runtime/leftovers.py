"""Children a previous supervisord left behind: the state file that records them, and stopping them at start.

A daemon killed with SIGKILL (or OOM-killed) cannot stop its children; they are re-parented and run on, and
the next daemon would start a second copy of each. So the running daemon keeps ``<pidfile>.children`` up to
date (written by :class:`~supervisord.actors.childjournal.ChildJournalActor`), and a starting daemon stops
whatever a dead predecessor recorded there before it starts anything.

A pid alone is not an identity: after a crash and a reboot, or just many forks, the number may belong to an
unrelated process. Each record carries the process's start time (``/proc/PID/stat`` field 22, clock ticks
since boot), and a leftover is touched only through a pidfd opened *before* the start time is checked again,
so the process we verified is the one we signal.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import time
from collections.abc import Collection
from dataclasses import dataclass

from supervisord.config.model import ProcessConfig

SUFFIX = ".children"
FORMAT = 1
KILL_WAIT = 5.0  # seconds to wait for a SIGKILLed leftover to go before giving up on it (logged)


def state_path(pidfile: str) -> str:
    """The state file beside ``pidfile``."""
    return pidfile + SUFFIX


def proc_starttime(pid: int) -> int | None:
    """Field 22 of ``/proc/PID/stat`` (start time in clock ticks since boot); None if there is no such pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()  # fields 3 onwards; the name (field 2) may hold spaces
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True)
class ChildRecord:
    """What it takes to find one child again and stop it the way its program asks."""

    pid: int
    starttime: int
    name: str
    stopsignals: tuple[int, ...]
    stopwaitsecs: float
    stopasgroup: bool
    killasgroup: bool

    @classmethod
    def of(cls, pid: int, config: ProcessConfig) -> ChildRecord | None:
        """The record of our just-spawned child ``pid`` (None if it is already gone from /proc)."""
        starttime = proc_starttime(pid)
        if starttime is None:
            return None
        return cls(
            pid,
            starttime,
            config.namespec,
            tuple(int(s) for s in config.stopsignals),
            float(config.stopwaitsecs),
            config.stopasgroup,
            config.killasgroup,
        )

    def line(self) -> str:
        """This record as one line of the state file (made once per spawn, not per rewrite)."""
        fields = {
            "pid": self.pid,
            "starttime": self.starttime,
            "name": self.name,
            "stopsignals": self.stopsignals,
            "stopwaitsecs": self.stopwaitsecs,
            "stopasgroup": self.stopasgroup,
            "killasgroup": self.killasgroup,
        }
        return json.dumps(fields, separators=(",", ":")) + "\n"

    @classmethod
    def parse(cls, line: str) -> ChildRecord:
        item = json.loads(line)
        return cls(
            int(item["pid"]),
            int(item["starttime"]),
            str(item["name"]),
            tuple(int(s) for s in item["stopsignals"]) or (int(signal.SIGTERM),),
            float(item["stopwaitsecs"]),
            bool(item["stopasgroup"]),
            bool(item["killasgroup"]),
        )


def write_state(path: str, lines: Collection[str]) -> None:
    """Replace the state file atomically (a crash mid-write leaves the previous version); none: remove it.

    The file is JSON lines: a header naming the format and the daemon (pid and start time), then one
    :meth:`ChildRecord.line` per child.
    """
    if not lines:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    me = os.getpid()
    header = json.dumps({"format": FORMAT, "daemon": {"pid": me, "starttime": proc_starttime(me)}})
    tmp = f"{path}.{me}.tmp"
    try:
        with open(tmp, "w") as fh:
            fh.write(header + "\n" + "".join(lines))
        os.replace(tmp, path)
    except OSError:
        _remove(tmp)  # a full disk must not leave half-written temporaries behind
        raise


def read_state(path: str) -> tuple[tuple[int, int | None] | None, list[ChildRecord]]:
    """``((daemon pid, its start time), records)`` from the state file; raises OSError or ValueError."""
    with open(path) as fh:
        header, *lines = fh.read().splitlines()
    body = json.loads(header)
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ValueError("unknown format")
    daemon = body.get("daemon") or {}
    owner = (int(daemon["pid"]), daemon.get("starttime")) if "pid" in daemon else None
    return owner, [ChildRecord.parse(line) for line in lines if line.strip()]


class _Leftover:
    """One verified leftover being stopped: its pidfd, and which signal comes next and when."""

    def __init__(self, record: ChildRecord, pidfd: int) -> None:
        self.record = record
        self.pidfd = pidfd
        self.stage = 0  # index into stopsignals; len(stopsignals) means SIGKILL was sent
        self.deadline = 0.0

    def gone(self) -> bool:
        return _exited(self.pidfd)

    def send(self, signum: int, group: bool) -> None:
        if group:
            os.killpg(self.record.pid, signum)  # the group id is the leader's pid, held while it lives
        else:
            signal.pidfd_send_signal(self.pidfd, signum)


def _exited(pidfd: int) -> bool:
    """A pidfd polls readable once its process has exited (poll, not select: fds may be above 1023)."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


def _open_verified(record: ChildRecord, logger: logging.Logger) -> int | None:
    """A pidfd of the recorded process, or None if that pid is now gone or someone else's (logged)."""
    try:
        pidfd = os.pidfd_open(record.pid)
    except ProcessLookupError:
        pidfd = None
    except OSError as exc:
        logger.error("cannot watch leftover %s (pid %d): %s; not stopping it", record.name, record.pid, exc)
        return None
    if pidfd is not None and proc_starttime(record.pid) == record.starttime and not _exited(pidfd):
        return pidfd  # verified after opening: the fd pins this very process
    if pidfd is not None:
        os.close(pidfd)
    logger.info(
        "not touching pid %d recorded for %s: that process has exited (the pid is free or reused)",
        record.pid,
        record.name,
    )
    return None


def stop_leftovers(pidfile: str, logger: logging.Logger) -> None:
    """Stop what a dead predecessor recorded beside ``pidfile``, in parallel, each the way its program asks.

    Each gets its stop signals in turn (to its group with ``stopasgroup``), ``stopwaitsecs`` apart, then
    SIGKILL (to its group with ``killasgroup``). Returns once every one is gone (or could not be killed:
    logged), and removes the state file. A state file of a daemon that is still running is left alone.
    """
    path = state_path(pidfile)
    try:
        owner, records = read_state(path)
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring unreadable child state file %s: %s", path, exc)
        _remove(path)
        return
    if owner is not None and owner[0] != os.getpid() and proc_starttime(owner[0]) == owner[1]:
        logger.error(
            "the supervisord that wrote %s (pid %d) is still running: leaving its processes alone",
            path,
            owner[0],
        )
        return
    who = f"pid {owner[0]}" if owner else "unknown pid"
    live: list[_Leftover] = []
    for record in records:
        pidfd = _open_verified(record, logger)
        if pidfd is not None:
            live.append(_Leftover(record, pidfd))
    if live:
        logger.warning(
            "found %d process(es) left running by a previous supervisord (%s) that did not stop them; "
            "stopping them before starting anything",
            len(live),
            who,
        )
    try:
        _stop_all(live, logger)
    finally:
        for leftover in live:
            os.close(leftover.pidfd)
    _remove(path)


def _stop_all(live: list[_Leftover], logger: logging.Logger) -> None:
    active = list(live)
    for leftover in active:
        _advance(leftover, time.monotonic(), logger)
    while active:
        now = time.monotonic()
        still = []
        for leftover in active:
            if leftover.gone():
                logger.info("stopped leftover %s (pid %d)", leftover.record.name, leftover.record.pid)
                continue
            if now >= leftover.deadline:
                _advance(leftover, now, logger)
            if leftover.deadline:  # 0: given up
                still.append(leftover)
        active = still
        if active:
            timeout = max(0.0, min(x.deadline for x in active) - time.monotonic())
            poller = select.poll()
            for leftover in active:
                poller.register(leftover.pidfd, select.POLLIN)
            poller.poll(min(timeout, 0.5) * 1000)


def _advance(leftover: _Leftover, now: float, logger: logging.Logger) -> None:
    """Send the next signal (a stop signal, then SIGKILL), or give up after SIGKILL's wait."""
    record = leftover.record
    if leftover.stage > len(record.stopsignals):
        logger.critical(
            "leftover %s (pid %d) survived SIGKILL for %.0f s; giving up on it",
            record.name,
            record.pid,
            KILL_WAIT,
        )
        leftover.deadline = 0.0
        return
    if leftover.stage < len(record.stopsignals):
        signum, group, wait = record.stopsignals[leftover.stage], record.stopasgroup, record.stopwaitsecs
    else:
        signum, group, wait = int(signal.SIGKILL), record.killasgroup or record.stopasgroup, KILL_WAIT
        logger.warning("leftover %s (pid %d) still running: killing it", record.name, record.pid)
    logger.info(
        "stopping leftover %s (pid %d%s) with %s",
        record.name,
        record.pid,
        " and its process group" if group else "",
        signal.Signals(signum).name,
    )
    leftover.stage += 1
    leftover.deadline = now + max(wait, 0.001)
    try:
        leftover.send(signum, group)
    except ProcessLookupError:
        pass
    except OSError as exc:
        logger.error("could not signal leftover %s (pid %d): %s", record.name, record.pid, exc)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
