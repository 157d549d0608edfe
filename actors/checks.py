"""A process actor's readiness, watchdog and liveness bookkeeping (``readiness_check``, ``liveness_check_*``).

The process actor owns one :class:`Checks`. It never blocks: probes run on the runtime's prober pool
(:mod:`supervisord.probes`), the notify socket is watched by the I/O loop, and timers are I/O-loop timers;
each of them answers with a message to the actor (:class:`CheckResult`, :class:`Notified`,
:class:`CheckTick`) carrying a token, so an answer about an earlier child (or an earlier RUNNING spell) is
dropped. What a verdict *does* is an ordinary request to the actor: ``ready`` goes into the state machine,
``restart``/``stop`` are the same as a user's, a command runs like a watch command.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any

from supervisord import events, probes
from supervisord.actors.messages import CheckResult, CheckTick, Notified
from supervisord.states import STOPPED_STATES, ProcessState

if TYPE_CHECKING:
    from supervisord.actors.process import ProcessActor

STATUS_SHOWN = 200  # characters of a STATUS= text kept for the description


class Checks:
    def __init__(self, actor: ProcessActor) -> None:
        self.actor = actor
        self.config = actor.config
        self.token = 0  # bumped for every new child and every change of its phase
        self.timers: dict[str, Any] = {}
        self.notify_fd: int | None = None
        self.status = ""  # the child's last STATUS= text
        self.health = ""  # the last liveness verdict, for the description and the API
        self.successes = 0
        self.failures = 0
        self.failing = False
        self.checked = False  # a liveness verdict came during this RUNNING spell

    @property
    def active(self) -> bool:
        cfg = self.config
        return cfg.readiness.probe is not None or cfg.liveness.probe is not None

    # -- the child's life --

    def prepare(self, env: dict[str, str]) -> None:
        """Before a spawn: a fresh notify socket for this child (readiness_check = notify)."""
        self._forget_socket()
        readiness = self.config.readiness
        if readiness.probe is None or readiness.probe.kind != "notify":
            return
        name = f"supervisord-notify-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            sock.bind("\0" + name)
        except OSError:
            sock.close()
            raise
        self.token += 1
        token, ref = self.token, self.actor.actor_ref
        fd = sock.detach()
        self.notify_fd = fd
        self.actor.ctx.ioloop.watch_pipe(fd, lambda data: ref.tell(Notified(token, data)), _noop)
        env["NOTIFY_SOCKET"] = "@" + name
        if readiness.watchdog_sec:
            env["WATCHDOG_USEC"] = str(int(readiness.watchdog_sec * 1_000_000))

    def spawned(self) -> None:
        """The child runs and is STARTING: poll an http/tcp/script readiness probe."""
        self.status = ""
        probe = self.config.readiness.probe
        if probe is not None and probe.kind != "notify":
            self._schedule("readiness", self.config.readiness.period)

    def spawn_failed(self) -> None:
        self._forget_socket()

    def exited(self) -> None:
        """The child is gone: nothing it said or that was asked about it matters any more."""
        self._forget_socket()
        self._cancel_all()
        self.token += 1

    def transition(self, new: ProcessState) -> None:
        if new is ProcessState.RUNNING:
            self._cancel("readiness")
            self.successes = self.failures = 0
            self.failing = False
            self.checked = False
            if self.config.liveness.probe is not None:
                self.health = self.health or "health: not checked yet"
                self._schedule("liveness", self.config.liveness.initial_delay)
            if self.config.readiness.watchdog_sec:
                self._schedule("watchdog", self.config.readiness.watchdog_sec)
        elif new is not ProcessState.STARTING:
            self._cancel_all()
            if new in STOPPED_STATES:
                self.status = ""
                if not self.failing:  # a failed check stays visible: it is why the process stopped
                    self.health = ""

    def close(self) -> None:
        self._forget_socket()
        self._cancel_all()

    # -- messages --

    def receive(self, message: Any) -> None:
        if isinstance(message, Notified):
            if message.token == self.token:
                self._notified(message.data)
        elif isinstance(message, CheckTick):
            if message.token == self.token and message.kind in self.timers:
                del self.timers[message.kind]
                self._tick(message.kind)
        elif isinstance(message, CheckResult) and message.token == self.token:
            self._result(message)

    def _notified(self, data: bytes) -> None:
        actor = self.actor
        changed = False
        for line in data.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition("=")
            if key == "READY" and value == "1":
                actor._apply(actor.machine.ready(time.monotonic()))
            elif key == "STATUS":
                self.status = value.strip()[:STATUS_SHOWN]
                changed = True
            elif key == "WATCHDOG" and value == "1" and "watchdog" in self.timers:
                self._schedule("watchdog", self.config.readiness.watchdog_sec)
        if changed:
            actor._publish()

    def _tick(self, kind: str) -> None:
        actor = self.actor
        state = actor.machine.state
        if kind == "watchdog":
            if state is ProcessState.RUNNING:
                secs = self.config.readiness.watchdog_sec
                detail = f"no WATCHDOG=1 for {secs:g} s"
                self._verdict(False, detail, "restart")
            return
        probe = self.config.readiness.probe if kind == "readiness" else self.config.liveness.probe
        wanted = ProcessState.STARTING if kind == "readiness" else ProcessState.RUNNING
        if probe is None or state is not wanted:
            return
        readiness, liveness = self.config.readiness, self.config.liveness
        timeout = liveness.timeout if kind == "liveness" else max(readiness.period, 1.0)
        token, ref = self.token, actor.actor_ref

        def done(verdict: probes.Verdict) -> None:
            ref.tell(CheckResult(kind, token, verdict.ok, verdict.detail))

        probes.submit(actor.ctx, probe, timeout, self.config, actor._environment(), done)

    def _result(self, result: CheckResult) -> None:
        actor = self.actor
        state = actor.machine.state
        if result.kind == "readiness":
            if state is not ProcessState.STARTING:
                return
            name = self.config.namespec
            if result.ok:
                actor.ctx.logger.debug("readiness check of %s passed: %s", name, result.detail)
                actor._apply(actor.machine.ready(time.monotonic()))
            else:
                actor.ctx.logger.debug("readiness check of %s: %s", name, result.detail)
                self._schedule("readiness", self.config.readiness.period)
            return
        if state is not ProcessState.RUNNING:
            return
        liveness = self.config.liveness
        if result.ok:
            self.successes += 1
            self.failures = 0
            if self.failing and self.successes >= liveness.success_threshold:
                self._verdict(True, result.detail, "command" if liveness.success_action else "none")
            else:
                if not self.checked and self.successes >= liveness.success_threshold:
                    self.checked = True
                    self._emit(True, "none", result.detail)
                self.health = f"health: passing ({result.detail})"
                actor._publish()
        else:
            self.failures += 1
            self.successes = 0
            if self.failures >= liveness.failure_threshold:
                action = liveness.failure_action
                self._verdict(False, result.detail, action if action in ("restart", "stop") else "command")
            else:
                threshold = liveness.failure_threshold
                self.health = f"health: failed {self.failures}/{threshold} ({result.detail})"
                actor._publish()
        if actor.machine.state is ProcessState.RUNNING and "liveness" not in self.timers:
            self._schedule("liveness", liveness.period)

    def _verdict(self, passed: bool, detail: str, action: str) -> None:
        """A threshold was reached (or the watchdog expired): record, report, act."""
        actor = self.actor
        name = self.config.namespec
        liveness = self.config.liveness
        stamp = time.strftime("%H:%M:%S")
        self._emit(passed, action, detail)
        if passed:
            self.failing = False
            self.health = f"health: passing again at {stamp} ({detail})"
            actor.ctx.logger.info("health check of %s passes again: %s", name, detail)
            if liveness.success_action:
                self._run(liveness.success_action)
            actor._publish()
            return
        self.failing = True
        self.failures = 0
        done = {"restart": "restarted", "stop": "stopped"}.get(action, f"ran {liveness.failure_action!r}")
        self.health = f"health: failed at {stamp} ({detail}); {done}"
        actor.ctx.logger.warning("health check of %s failed (%s): %s", name, detail, done)
        if action == "restart":
            actor._restart()
        elif action == "stop":
            actor._request_stop_for_check()
        else:
            self._run(liveness.failure_action)
        actor._publish()

    def _emit(self, passed: bool, action: str, detail: str) -> None:
        bus = self.actor.ctx.eventbus
        if bus is not None:
            cfg = self.config
            bus.tell(events.health(cfg.name, cfg.group, self.actor.machine.pid, passed, action, detail))

    def _run(self, command: str) -> None:
        from supervisord.actors import watcher

        watcher.run_command(command, self.config, self.actor._environment(), self.actor.ctx)

    # -- timers and the socket --

    def _schedule(self, kind: str, delay: float) -> None:
        self._cancel(kind)
        token, ref = self.token, self.actor.actor_ref
        at = time.monotonic() + delay
        self.timers[kind] = self.actor.ctx.ioloop.call_at(at, lambda: ref.tell(CheckTick(kind, token)))

    def _cancel(self, kind: str) -> None:
        timer = self.timers.pop(kind, None)
        if timer is not None:
            timer.cancel()

    def _cancel_all(self) -> None:
        for kind in list(self.timers):
            self._cancel(kind)

    def _forget_socket(self) -> None:
        if self.notify_fd is not None:
            self.actor.ctx.ioloop.forget(self.notify_fd)
            self.notify_fd = None


def _noop() -> None:
    pass
