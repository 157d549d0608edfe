"""Supervisor's process state machine, as a pure function of inputs and time.

This module does no I/O and reads no clock: every input carries ``now``, and every decision comes back as a
list of *effects* (spawn, send a signal, arm the timer, write a log line, report a transition) that the
owning :class:`~supervisord.actors.process.ProcessActor` carries out. That split (Erlang's behaviour vs.
callback) is what lets the unit tests walk every transition without a process or a sleep.

Two Supervisor 4.3 defects are deliberately not copied:

* A child that dies while still STARTING is always a failed start (BACKOFF), because RUNNING is entered
  only by the startsecs timer, never by a late reap; ``startretries=2`` means exactly 3 spawns.
* A stop is acted on immediately in every state; there is no fork/exec window in which it can be lost.
"""

from __future__ import annotations

import enum
import os
import random
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from supervisord.config.model import AutoRestart, BackoffConfig, ProcessConfig


class ProcessState(enum.IntEnum):
    STOPPED = 0
    STARTING = 10
    RUNNING = 20
    BACKOFF = 30
    STOPPING = 40
    EXITED = 100
    FATAL = 200
    UNKNOWN = 1000


STOPPED_STATES = frozenset(
    {ProcessState.STOPPED, ProcessState.EXITED, ProcessState.FATAL, ProcessState.UNKNOWN}
)
RUNNING_STATES = frozenset({ProcessState.RUNNING, ProcessState.BACKOFF, ProcessState.STARTING})
SIGNALLABLE_STATES = frozenset({ProcessState.RUNNING, ProcessState.STARTING, ProcessState.STOPPING})
STARTABLE_STATES = frozenset({ProcessState.STOPPED, ProcessState.EXITED, ProcessState.FATAL})


# --- effects ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spawn:
    """Fork/exec the child now; answer with :meth:`Machine.spawned` or :meth:`Machine.spawn_failed`."""


@dataclass(frozen=True)
class Kill:
    """Send ``signum`` to the child (to its whole process group when ``group``)."""

    signum: int
    group: bool


@dataclass(frozen=True)
class ArmTimer:
    """Call :meth:`Machine.timer` at monotonic time ``at`` (replaces any armed timer)."""

    at: float


@dataclass(frozen=True)
class DisarmTimer:
    """Forget the armed timer."""


@dataclass(frozen=True)
class Log:
    level: str  # "info", "warn", "debug", ...
    message: str


@dataclass(frozen=True)
class Transition:
    """The state changed; ``old``/``new`` plus what Supervisor's event payloads need."""

    old: ProcessState
    new: ProcessState
    tries: int  # the backoff counter after the change
    pid: int  # the pid the event refers to (the dead one for EXITED/STOPPED)
    expected: bool | None = None  # for EXITED


Effect = Spawn | Kill | ArmTimer | DisarmTimer | Log | Transition


def describe_exit(status: int) -> tuple[int, str]:
    """Turn a raw wait status into Supervisor's (exitstatus, text): ``-1`` for a signal death."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        text = f"terminated by {signal_name(signum)}"
        if os.WCOREDUMP(status):
            text += " (core dumped)"
        return -1, text
    code = os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else -1
    return code, f"exit status {code}"


def backoff_delay(config: BackoffConfig, tries: int, u: float = 0.5) -> float:
    """Seconds to wait before retry ``tries`` (1, 2, ...); ``u`` in [0, 1) places the jitter.

    The default config gives Supervisor's ramp: 1 s, 2 s, 3 s, ...
    """
    n = max(tries, 1)
    if config.factor is None:
        delay = config.initial * n
    else:
        try:
            delay = config.initial * float(config.factor) ** (n - 1)
        except OverflowError:  # retry 2000 of a doubling ramp: capped by max below
            delay = float("inf")
    delay = min(delay, config.max)
    if config.jitter:
        delay *= 1.0 + config.jitter * (2.0 * u - 1.0)
    return max(delay, 0.0)


def _shown(seconds: float) -> int | float:
    return int(seconds) if float(seconds).is_integer() else seconds


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


# --- the machine -----------------------------------------------------------------------------------------


@dataclass
class Machine:
    """The state of one process and the rules that move it.

    Times are monotonic seconds supplied by the caller; ``started_at``/``stopped_at`` in wall-clock terms
    are the actor's business (it records them when it sees the matching :class:`Transition`).
    """

    config: ProcessConfig
    state: ProcessState = ProcessState.STOPPED
    pid: int = 0
    backoff: int = 0  # consecutive failed starts
    laststart: float = 0.0
    exitstatus: int = 0
    spawnerr: str = ""
    stopping_signal_index: int = 0  # which of config.stopsignals was sent last
    killed: bool = False  # SIGKILL already sent during this stop
    shutting_down: bool = False  # no automatic starts or restarts any more
    timer_at: float | None = None
    pending_restart: bool = False  # EXITED and waiting out restartpause
    not_ready: bool = False  # readiness deadline (startsecs) passed: the child is being stopped
    running_at: float = 0.0  # when RUNNING was last entered (backoff_reset_after)
    rng: Callable[[], float] = random.random  # places the backoff jitter; tests pass a fixed one
    effects: list[Effect] = field(default_factory=list)

    # -- helpers --

    def _take(self) -> list[Effect]:
        out, self.effects = self.effects, []
        return out

    def _arm(self, at: float) -> None:
        self.timer_at = at
        self.effects.append(ArmTimer(at))

    def _disarm(self) -> None:
        if self.timer_at is not None:
            self.timer_at = None
            self.effects.append(DisarmTimer())

    def _log(self, level: str, message: str) -> None:
        self.effects.append(Log(level, message))

    def _change(self, new: ProcessState, *, pid: int | None = None, expected: bool | None = None) -> None:
        old = self.state
        self.state = new
        if new is ProcessState.BACKOFF:
            self.backoff += 1
        self.effects.append(
            Transition(old, new, self.backoff, self.pid if pid is None else pid, expected=expected)
        )

    @property
    def name(self) -> str:
        return self.config.name

    # -- inputs --

    def start(self, now: float, *, user: bool = True) -> list[Effect]:
        """A start request (a user's, autostart's or autorestart's). Caller checks STARTABLE_STATES."""
        if self.state not in STARTABLE_STATES and self.state is not ProcessState.BACKOFF:
            return []
        if not user and self.shutting_down:
            return []
        if user:
            self.backoff = 0
            self.shutting_down = False
        self.pending_restart = False
        self._disarm()
        self._begin_spawn(now)
        return self._take()

    def _begin_spawn(self, now: float) -> None:
        self.laststart = now
        self.spawnerr = ""
        self.not_ready = False
        self._change(ProcessState.STARTING)
        self.effects.append(Spawn())

    def spawned(self, pid: int, now: float) -> list[Effect]:
        """The child exists (exec succeeded)."""
        self.pid = pid
        self.killed = False
        self._log("info", f"spawned: '{self.name}' with pid {pid}")
        if self.state is ProcessState.STOPPING:
            # A stop arrived while the spawn was in flight: deliver it now, keep the stop's timer.
            signum = self.config.stopsignals[self.stopping_signal_index]
            self.effects.append(Kill(signum, self.config.stopasgroup))
            return self._take()
        if self.config.readiness.probe is not None:  # RUNNING on ready(); startsecs is the deadline
            if self.config.startsecs > 0:
                self._arm(self.laststart + self.config.startsecs)
        elif self.config.startsecs <= 0:
            self._enter_running(now)
        else:
            self._arm(self.laststart + self.config.startsecs)
        return self._take()

    def spawn_failed(self, error: str, now: float) -> list[Effect]:
        """Fork/exec failed before a child ran: a failed start, like an exit inside startsecs."""
        self.spawnerr = error
        self.pid = 0
        self._log("info", f"spawnerr: {error}")
        if self.state is ProcessState.STOPPING:  # stopped while the spawn was in flight: stay stopped
            self._disarm()
            self._change(ProcessState.STOPPED, pid=0)
            return self._take()
        self._enter_backoff(now)
        return self._take()

    def ready(self, now: float) -> list[Effect]:
        """The readiness check passed (READY=1, or a probe succeeded) for the current child."""
        if self.state is ProcessState.STARTING and self.pid and not self.not_ready:
            self._enter_running(now)
        return self._take()

    def _enter_running(self, now: float) -> None:
        self._disarm()
        if self.config.backoff.reset_after <= 0:
            self.backoff = 0
        self.running_at = now
        self._change(ProcessState.RUNNING)
        probe = self.config.readiness.probe
        if probe is not None:
            self._log("info", f"success: {self.name} entered RUNNING state, process is ready ({probe})")
            return
        shown = _shown(self.config.startsecs)
        self._log(
            "info",
            f"success: {self.name} entered RUNNING state, process has stayed up for > than {shown} "
            "seconds (startsecs)",
        )

    def _enter_backoff(self, now: float) -> None:
        self._change(ProcessState.BACKOFF)
        if self.shutting_down or self._retries_exhausted():
            self._give_up()
        else:
            self._arm(now + self._delay())

    def _retries_exhausted(self) -> bool:
        return self.config.startretries >= 0 and self.backoff > self.config.startretries

    def _delay(self) -> float:
        backoff = self.config.backoff
        return backoff_delay(backoff, self.backoff, self.rng() if backoff.jitter else 0.5)

    def _give_up(self) -> None:
        self._disarm()
        self.backoff = 0
        self._change(ProcessState.FATAL)
        self._log("info", f"gave up: {self.name} entered FATAL state, too many start retries too quickly")

    def exited(self, status: int, now: float) -> list[Effect]:
        """The child was reaped with raw wait ``status``."""
        es, text = describe_exit(status)
        dead_pid, self.pid = self.pid, 0
        expected = es in self.config.exitcodes
        state = self.state
        if state is ProcessState.STOPPING:
            self._disarm()
            self.exitstatus = es
            self._change(ProcessState.STOPPED, pid=dead_pid)
            self._log("info" if expected else "warn", f"stopped: {self.name} ({text})")
        elif state is ProcessState.STARTING:
            self.exitstatus = 0
            if not self.not_ready:  # else spawnerr keeps the reason it was stopped
                self.spawnerr = "Exited too quickly (process log may have details)"
            self._log("warn", f"exited: {self.name} ({text}; not expected)")
            self._disarm()
            self._enter_backoff(now)
        elif state is ProcessState.RUNNING:
            self.exitstatus = es
            reset_after = self.config.backoff.reset_after
            crashed = reset_after > 0 and now - self.running_at < reset_after
            if not crashed:
                self.backoff = 0
            if expected:
                self._change(ProcessState.EXITED, pid=dead_pid, expected=True)
                self._log("info", f"exited: {self.name} ({text}; expected)")
            else:
                self.spawnerr = f"Bad exit code {es}"
                self._change(ProcessState.EXITED, pid=dead_pid, expected=False)
                self._log("warn", f"exited: {self.name} ({text}; not expected)")
            self._maybe_autorestart(now, es, crashed)
        else:
            # A reap in a state that has no child (cannot happen with one owner per pid); keep the status.
            self.exitstatus = es
        return self._take()

    def _maybe_autorestart(self, now: float, es: int, crashed: bool = False) -> None:
        """Restart after an exit from RUNNING; ``crashed``: it ran less than backoff_reset_after."""
        policy = self.config.autorestart
        if self.shutting_down or policy is AutoRestart.NEVER:
            return
        if policy is AutoRestart.UNEXPECTED and es in self.config.exitcodes:
            return
        pause = self.config.restartpause
        if crashed:  # counts as a failed start: wait the backoff delay, give up after startretries
            self.backoff += 1
            if self._retries_exhausted():
                self._give_up()
                return
            pause = max(pause, self._delay())
        if pause > 0:
            self.pending_restart = True
            self._arm(now + pause)
        else:
            self._begin_spawn(now)

    def stop(self, now: float) -> list[Effect]:
        """A stop request. Caller checks the state is RUNNING/STARTING/BACKOFF (or STOPPING: no-op)."""
        state = self.state
        if state in (ProcessState.RUNNING, ProcessState.STARTING):
            self._disarm()
            self.stopping_signal_index = 0
            self.killed = False
            self._change(ProcessState.STOPPING)
            self._send_stop_signal(now)
        elif state is ProcessState.BACKOFF:
            self._disarm()
            self._change(ProcessState.STOPPED, pid=0)
        elif state is ProcessState.EXITED and self.pending_restart:
            self.pending_restart = False
            self._disarm()
        return self._take()

    def _send_stop_signal(self, now: float) -> None:
        signum = self.config.stopsignals[self.stopping_signal_index]
        if self.pid:  # no pid yet: the spawn is in flight and spawned() delivers the signal
            self._log("debug", f"killing {self.name} (pid {self.pid}) with signal {signal_name(signum)}")
            self.effects.append(Kill(signum, self.config.stopasgroup))
        self._arm(now + self.config.stopwaitsecs)

    def timer(self, now: float) -> list[Effect]:
        """The armed timer fired (the caller drops stale timers)."""
        self.timer_at = None
        state = self.state
        if state is ProcessState.STARTING and self.config.readiness.probe is not None:
            self._not_ready(now)
        elif state is ProcessState.STARTING:
            self._enter_running(now)
        elif state is ProcessState.BACKOFF:
            if self.shutting_down:
                self._give_up()
            else:
                self._begin_spawn(now)
        elif state is ProcessState.STOPPING:
            if self.stopping_signal_index + 1 < len(self.config.stopsignals) and not self.killed:
                self.stopping_signal_index += 1
                self._send_stop_signal(now)
            else:
                self.killed = True
                if self.pid:
                    self._log("warn", f"killing '{self.name}' ({self.pid}) with SIGKILL")
                    self.effects.append(Kill(int(signal.SIGKILL), self.config.killasgroup))
                self._arm(now + max(self.config.killwaitsecs, 1.0))
        elif state is ProcessState.EXITED and self.pending_restart:
            self.pending_restart = False
            if not self.shutting_down:
                self._begin_spawn(now)
        return self._take()

    def _not_ready(self, now: float) -> None:
        """The readiness deadline passed: stop the child (then SIGKILL); its exit is a failed start."""
        if not self.not_ready:
            self.not_ready = True
            shown = _shown(self.config.startsecs)
            probe = self.config.readiness.probe
            self.spawnerr = f"not ready within {shown} seconds ({probe})"
            self._log("warn", f"not ready: {self.name} failed its readiness check within {shown} seconds")
            self.effects.append(Kill(self.config.stopsignals[0], self.config.stopasgroup))
            self._arm(now + self.config.stopwaitsecs)
        else:
            self._log("warn", f"killing '{self.name}' ({self.pid}) with SIGKILL")
            self.effects.append(Kill(int(signal.SIGKILL), self.config.killasgroup))
            self._arm(now + max(self.config.killwaitsecs, 1.0))

    def shutdown(self, now: float) -> list[Effect]:
        """The daemon is stopping: no more automatic starts; a BACKOFF process becomes FATAL."""
        self.shutting_down = True
        if self.state is ProcessState.BACKOFF:
            self._give_up()
        elif self.state is ProcessState.EXITED and self.pending_restart:
            self.pending_restart = False
            self._disarm()
        return self._take()

    def resume(self) -> None:
        """Allow automatic restarts again (after a reload brings the mood back to RUNNING)."""
        self.shutting_down = False

    def lost(self, error: str) -> list[Effect]:
        """Signalling failed in a way that leaves the child's fate unknown."""
        self._disarm()
        self.spawnerr = error
        self._change(ProcessState.UNKNOWN)
        self._log("crit", f"unknown problem with {self.name}: {error}")
        return self._take()
