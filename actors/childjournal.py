"""The child journal: ``<pidfile>.children`` lists every running child, for the next start after a crash.

Every spawn and every reap tells this actor; it rewrites the file atomically, at most once per
:data:`INTERVAL` (a change arms a flush; the changes that arrive meanwhile ride along), so starting 1,000
processes costs a few dozen small writes, not 1,000. A daemon killed in the gap loses at most the last
interval's spawns from the record. On a clean stop the last child is reaped and the file removed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pykka

from supervisord.config.model import ProcessConfig
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.hubsafe import HubSafeActor
from supervisord.runtime.leftovers import ChildRecord, proc_starttime, read_state, state_path, write_state

INTERVAL = 0.2  # seconds between two rewrites of the file


@dataclass(frozen=True)
class Spawned:
    record: ChildRecord


@dataclass(frozen=True)
class Reaped:
    pid: int


@dataclass(frozen=True)
class _Flush:
    """Timer tick: write the file with every change since the last write."""


class ChildJournalActor(HubSafeActor):
    def __init__(self, ctx: RuntimeContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.path = state_path(ctx.settings.pidfile)
        self.records: dict[int, ChildRecord] = {}
        self.lines: dict[int, str] = {}  # each record's line of the file, made once
        self.armed = False
        self.last_write = float("-inf")
        self.failing = False

    def on_start(self) -> None:
        # After a reload, keep what the previous run could not stop (still running as recorded).
        try:
            _, records = read_state(self.path)
        except (OSError, ValueError, KeyError, TypeError):
            return
        self.records = {r.pid: r for r in records if proc_starttime(r.pid) == r.starttime}
        self.lines = {pid: r.line() for pid, r in self.records.items()}

    def on_receive(self, message: Any) -> Any:
        try:
            if isinstance(message, Spawned):
                record = message.record
                self.records[record.pid] = record
                self.lines[record.pid] = record.line()
                self._changed()
            elif isinstance(message, Reaped):
                if self.records.pop(message.pid, None) is not None:
                    del self.lines[message.pid]
                    self._changed()
            elif isinstance(message, _Flush):
                self.armed = False
                self._write()
        except Exception:
            self.ctx.logger.exception("child journal %s failed", self.path)
        return None

    def on_stop(self) -> None:
        # A reap told just before the stop may not have arrived: drop whatever no longer runs as recorded.
        self.records = {p: r for p, r in self.records.items() if proc_starttime(p) == r.starttime}
        self.lines = {pid: line for pid, line in self.lines.items() if pid in self.records}
        self._write()

    def _changed(self) -> None:
        if self.armed:
            return
        self.armed = True
        ref = self.actor_ref
        due = self.last_write + INTERVAL
        if due <= time.monotonic():
            ref.tell(_Flush())  # behind what is queued already: those changes ride along
        else:
            self.ctx.ioloop.call_at(due, lambda: _tell(ref, _Flush()))

    def _write(self) -> None:
        self.last_write = time.monotonic()
        try:
            write_state(self.path, self.lines.values())
        except OSError as exc:
            if not self.failing:
                self.failing = True
                self.ctx.logger.error(
                    "cannot write %s (%s): after a crash, its running processes would not be found",
                    self.path,
                    exc.strerror or exc,
                )
            return
        if self.failing:
            self.failing = False
            self.ctx.logger.info("child state file %s written again", self.path)


def _tell(ref: pykka.ActorRef[Any], message: Any) -> None:
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        pass  # the run ended; on_stop wrote the last state


def start_journal(ctx: RuntimeContext) -> pykka.ActorRef[Any]:
    """Start this run's journal and have every spawn and reap (through ``ctx.pids``) told to it."""
    ref = ChildJournalActor.start(ctx)

    def spawned(pid: int, config: ProcessConfig) -> None:
        record = ChildRecord.of(pid, config)
        if record is not None:
            _tell(ref, Spawned(record))

    ctx.pids.on_spawn = spawned
    ctx.pids.on_reap = lambda pid: _tell(ref, Reaped(pid))
    return ref
