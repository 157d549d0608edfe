"""A process actor's ``cron`` schedule and hooks: the messages and the small helpers it uses for them.

Kept beside :mod:`supervisord.actors.process` so that the actor only gains a few calls: the schedule is one
I/O-loop timer armed for the next run (no polling thread), and hooks are children the I/O loop watches
(:mod:`supervisord.runtime.hooks`), whose results come back to the actor as :class:`HookDone`.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass

from supervisord.config.model import ScheduleConfig
from supervisord.config.operations import next_run
from supervisord.runtime.hooks import HookResult
from supervisord.runtime.ioloop import IOLoop, Timer


@dataclass(frozen=True)
class CronFired:
    """The schedule's timer fired (``token`` drops a timer replaced in the meantime)."""

    token: int


@dataclass(frozen=True)
class HookDone:
    """A hook finished (or could not start)."""

    result: HookResult


class CronSchedule:
    """The next run of a ``cron`` program, armed as one I/O-loop timer.

    Only future times are ever armed, computed from the wall clock when arming, so runs missed while the
    daemon was down (or while the host slept) are not replayed: the next one is simply the next in the
    future. A timer that fires early (the wall clock was set back) re-arms for the same run.
    """

    def __init__(self, schedule: ScheduleConfig, loop: IOLoop, fire: Callable[[int], None]) -> None:
        self.schedule = schedule
        self.loop = loop
        self.fire = fire
        self.token = 0
        self.timer: Timer | None = None
        self.next_at: datetime.datetime | None = None

    def arm(self, after: float | None = None) -> None:
        """Arm the timer for the first run after ``after`` (wall time; default now)."""
        self.cancel()
        now = time.time()
        start = datetime.datetime.fromtimestamp(now if after is None else max(after, now)).astimezone()
        try:
            self.next_at = next_run(self.schedule, start)
        except ValueError:  # no date matches any more (checked at load, so only far in the future)
            self.next_at = None
            return
        self.token += 1
        token = self.token
        delay = max(0.0, self.next_at.timestamp() - now)
        self.timer = self.loop.call_at(time.monotonic() + delay, lambda: self.fire(token))

    def due(self, token: int) -> bool:
        """True when this firing is current and its time has come (else re-armed or stale)."""
        if token != self.token or self.next_at is None:
            return False
        target = self.next_at.timestamp()
        if time.time() < target - 0.001:  # early: the wall clock went back; wait for the run again
            self.arm()
            return False
        self.arm(target)
        return True

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def describe(self) -> str:
        """``next run 2026-11-27 07:00:05 UTC`` for the process description."""
        if self.next_at is None:
            return ""
        return f"next run {self.next_at.strftime('%Y-%m-%d %H:%M:%S %Z')}"
