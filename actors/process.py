"""One actor per supervised process: owns the child, its pidfd, its timer and its state machine.

All decisions are made by :class:`supervisord.states.Machine`; this actor turns the machine's effects into
system calls (fork/exec, kill, timers on the I/O loop) and turns the world's answers (the pidfd saying the
child exited, a timer firing, a request) back into machine inputs. It is the only caller of ``wait()`` for
its child, so no exit status can be stolen or lost.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pykka

from supervisord import events
from supervisord.actors import operations, watcher
from supervisord.actors.checks import Checks
from supervisord.actors.logsink import LogSink, Reopen
from supervisord.actors.messages import (
    CheckResult,
    CheckTick,
    ChildExited,
    ClearLogs,
    GetSnapshot,
    ListenerState,
    ListenerStdin,
    Notified,
    Outcome,
    ProcessActorDied,
    ProcessDown,
    Restart,
    Resume,
    Shutdown,
    SignalProcess,
    SnapshotChanged,
    Start,
    Stop,
    TimerFired,
    WatchFired,
    WriteStdin,
)
from supervisord.config.model import ProcessConfig
from supervisord.mainlog import EFFECT_LEVELS
from supervisord.runtime import faults, hooks
from supervisord.runtime.cgroups import ProcessCgroup, exit_note
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.gather import Slot
from supervisord.runtime.hubsafe import HubSafeActor, HubSafeFuture
from supervisord.runtime.ioloop import Timer
from supervisord.runtime.outlet import Outlet
from supervisord.runtime.pooled import blocking
from supervisord.runtime.spawn import (
    Child,
    SpawnError,
    child_environment,
    resolve_command,
    resolve_user,
    spawn,
)
from supervisord.snapshot import ProcessSnapshot
from supervisord.states import (
    RUNNING_STATES,
    SIGNALLABLE_STATES,
    STOPPED_STATES,
    ArmTimer,
    DisarmTimer,
    Effect,
    Kill,
    Log,
    Machine,
    ProcessState,
    Spawn,
    Transition,
    describe_exit,
)

# Bytes sent to a child's stdin and not yet read by it, beyond which sendProcessStdin answers "full".
STDIN_LIMIT = 1 << 20


class ProcessActor(HubSafeActor):
    # Rarely set, so class defaults: CPython 3.11 keeps up to 29 instance attributes in a compact shared-key
    # table and turns a 30th into a dict of its own (+1.3 KB a process; tests/test_lean.py).
    watch_note = ""  # the last watch action and its cause, shown in the description
    cgroup_note = ""  # what the last exit said about the cgroup's memory limit
    cron: operations.CronSchedule | None = None  # cron = …: the next run, an I/O-loop timer

    def __init__(
        self, config: ProcessConfig, group_priority: int, ctx: RuntimeContext, pool: Any = None
    ) -> None:
        super().__init__()
        self.config = config
        self.pool = pool  # the ListenerPoolActor when this process is an event listener
        self.group_priority = group_priority
        self.ctx = ctx
        self.machine = Machine(config)
        self.child: Child | None = None
        self.stdin: Outlet | None = None  # our end of the child's stdin, owned here (closed at reap)
        self.timer: Timer | None = None
        self.timer_token = 0
        self.started_wall = 0.0
        self.stopped_wall = 0.0
        self.serial = 0
        self.start_waiters: list[HubSafeFuture] = []
        self.stop_waiters: list[HubSafeFuture | Slot] = []  # a Slot when the stop was one of many
        # waiters to resolve after the next publish
        self.settled: list[tuple[HubSafeFuture | Slot, Outcome]] = []
        self.sink: LogSink | None = None  # one log sink actor for both channels (or none)
        self.report_down = False  # tell the supervisor when stopped (set by Shutdown)
        self.restart_when_stopped = False
        self.logfiles = {"stdout": "", "stderr": ""}
        self.watchers: list[Any] = []  # watcher actors (restart_when_binary_changed, ...), for our lifetime
        self.checks = Checks(self)  # readiness_check, its watchdog and liveness_check_*
        self.hooks: dict[int, hooks.RunningHook] = {}  # running hooks by pid
        self.pipes: list[Any] = []  # the I/O loop's handles on the child's output pipes
        self.set_up = False  # on_start finished (pykka calls no on_failure for a failed on_start)

    # -- lifecycle --

    def on_start(self) -> None:
        self.sink = LogSink(self.config, self.ctx)
        self.logfiles = self.sink.logfiles
        self.watchers = watcher.start_watchers(self.config, self.ctx, self.actor_ref)
        if self.config.schedule.cron:
            ref = self.actor_ref
            self.cron = operations.CronSchedule(
                self.config.schedule, self.ctx.ioloop, lambda token: ref.tell(operations.CronFired(token))
            )
            self.cron.arm()
        self._publish()
        self.set_up = True

    def on_stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.checks.close()
        if self.cron is not None:
            self.cron.cancel()
        if self.hooks:
            with blocking():  # a post_stop_hook may take up to hook_timeout: nothing parked waits on it
                for running in list(self.hooks.values()):  # no hook outlives its process actor
                    running.finish()
                    self.ctx.pids.discard(running.popen.pid)
        if self.child is not None:  # never leave a child behind, even on an abnormal stop
            self._kill(signal.SIGKILL, group=True)
            self._reap()
        if self.sink is not None:
            self.sink.stop()
        for ref in self.watchers:
            ref.stop(block=False)

    def on_failure(self, *args: object) -> None:
        """A handler raised: pykka has stopped this actor, and the supervisor actor replaces it (one-for-one).

        The child is killed and reaped here rather than handed to the new actor: what describes it (the
        machine, timers, checks, hooks, the sinks its pipes feed) is the state that just failed, and the
        fresh actor must start from a known one. Its exit status is logged, its pipes and stdin released as
        at any reap, and every waiter answered, so nothing leaks or hangs; then the supervisor is told.
        """
        clean = True
        try:
            if self.child is not None:
                pid = self.child.popen.pid
                self._kill(signal.SIGKILL, group=True)
                _, how = describe_exit(self._reap())
                self.ctx.logger.warning(
                    "killed %s (pid %d) of a dead actor: %s", self.config.namespec, pid, how
                )
                if self.pool is not None:  # an event it was handling goes to another listener
                    self.pool.tell(ListenerState(self.config.name, ProcessState.EXITED))
            self.on_stop()
            failed = Outcome("FAILED", f"{self.config.namespec}: its actor died")
            settled = self.settled + [(f, failed) for f in self.start_waiters + self.stop_waiters]
            self.settled, self.start_waiters, self.stop_waiters = [], [], []
            for future, result in settled:
                future.set(result)
        except Exception:  # the child may be left: the supervisor falls back to the orderly shutdown
            clean = False
            self.ctx.logger.critical(
                "cleaning up the dead actor of %s failed", self.config.namespec, exc_info=True
            )
        died = ProcessActorDied(self.config.group, self.config.name, self.actor_ref, args[1], clean)  # type: ignore[arg-type]
        try:
            if self.ctx.supervisor is None:
                raise pykka.ActorDeadError("no supervisor")
            self.ctx.supervisor.tell(died)
        except pykka.ActorDeadError:
            faults.died(f"actor ProcessActor of {self.config.namespec}", args[1])

    def _report_death(self, exc_info: Any) -> None:
        """Not the whole daemon's death (the default): on_failure has the supervisor replace us. pykka calls
        on_failure only for a failed message, so a failed on_start is handed to it here."""
        self.ctx.logger.critical("the actor of %s died unexpectedly", self.config.namespec, exc_info=exc_info)
        if not self.set_up:
            self.on_failure(*exc_info)

    # -- requests --

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, ChildExited):
            self._on_exit(message.pid)
        elif isinstance(message, TimerFired):
            if message.token == self.timer_token and self.machine.timer_at is not None:
                self._apply(self.machine.timer(time.monotonic()))
        elif isinstance(message, Start):
            try:
                return self._request_start(message)
            finally:  # even if the start went wrong: the autostart chain (and serving) waits for this
                if message.then is not None:
                    message.then()
        elif isinstance(message, (Stop, Shutdown)):
            outcome = self._request_stop(message)
            if isinstance(message, Stop) and message.slot is not None:
                message.slot.answer(outcome)  # one of many stops told at once (Control.stop_many)
                return None
            return outcome
        elif isinstance(message, SignalProcess):
            return self._request_signal(message.signum)
        elif isinstance(message, WriteStdin):
            return self._write_stdin(message.data)
        elif isinstance(message, GetSnapshot):
            return self._snapshot()
        elif isinstance(message, Restart):
            self._restart()
        elif isinstance(message, Resume):
            self.machine.resume()
        elif isinstance(message, Reopen):
            if self.sink is not None:
                self.sink.tell(message)
        elif isinstance(message, ClearLogs):
            return self._clear_logs()
        elif isinstance(message, WatchFired):
            self._on_watch(message)
        elif isinstance(message, (CheckResult, CheckTick, Notified)):
            self.checks.receive(message)
        elif isinstance(message, operations.CronFired):
            self._on_cron(message.token)
        elif isinstance(message, operations.HookDone):
            self._on_hook_done(message.result)
        return None

    # -- cron and hooks --

    def _on_cron(self, token: int) -> None:
        """A scheduled run: start the program unless it is running (or starting, or stopping)."""
        if self.cron is None or not self.cron.due(token):
            return
        state = self.machine.state
        name = self.config.namespec
        if self.machine.shutting_down or state not in (
            ProcessState.STOPPED,
            ProcessState.EXITED,
            ProcessState.FATAL,
        ):
            self.ctx.logger.info("cron: not starting %s (%s)", name, state.name)
        else:
            self.ctx.logger.info("cron: starting %s", name)
            self._request_start(Start(wait=False))
        self._publish()  # the next run time changed

    def _run_hook(self, hook: str, command: str) -> bool:
        """Start a hook; False (and its failure handled) when it could not even start."""
        ref = self.actor_ref
        started = hooks.run_hook(
            hook,
            command,
            self.config,
            self._environment(),
            self.ctx,
            lambda result: ref.tell(operations.HookDone(result)),
        )
        if isinstance(started, hooks.HookResult):
            self.ctx.logger.warning("%s of %s", started.describe(), self.config.namespec)
            self._on_hook_done(started)
            return False
        self.hooks[started.popen.pid] = started
        return True

    def _on_hook_done(self, result: hooks.HookResult) -> None:
        self.hooks.pop(result.pid, None)
        now = time.monotonic()
        if result.hook == "pre_start":
            if self.machine.state is ProcessState.STOPPING and not self.machine.pid:
                self._apply(self.machine.spawn_failed("stopped while pre_start_hook ran", now))
            elif self.machine.state is not ProcessState.STARTING or self.machine.pid:
                return  # not ours any more (cannot happen: one pre_start hook per spawn)
            elif result.ok:
                self._spawn(hooked=True)
            else:
                self._apply(self.machine.spawn_failed(f"pre_start_hook {result.detail}", now))
        elif result.hook == "pre_stop" and self.machine.state in (
            ProcessState.RUNNING,
            ProcessState.STARTING,
        ):
            self._apply(self.machine.stop(now))

    def _stop_child(self, now: float) -> None:
        """Stop a live process: after its ``pre_stop_hook`` when it has one and it is RUNNING."""
        command = self.config.hooks.pre_stop
        if command and self.machine.state is ProcessState.RUNNING:
            if not any(running.hook == "pre_stop" for running in self.hooks.values()):
                self._run_hook("pre_stop", command)
            return
        self._apply(self.machine.stop(now))

    def _on_watch(self, fired: WatchFired) -> None:
        """A watched binary or file changed: act on a live child only; a restart is an ordinary one."""
        name = self.config.namespec
        state = self.machine.state
        live = state in (ProcessState.RUNNING, ProcessState.STARTING) and not self.machine.shutting_down
        if self.child is None or not live:
            self.ctx.logger.info("%s: not acting on %s (%s)", fired.cause, name, state.name)
            return
        action = watcher.choose_action(self.config.watch, fired.kind)
        self.ctx.logger.info("%s: %s", action.doing(name), fired.cause)
        pid = self.child.popen.pid
        if action.command:
            watcher.run_command(action.command, self.config, self._environment(), self.ctx)
        elif action.signals:
            for signum in action.signals:
                self._request_signal(signum)
        else:
            self._restart()
        self.watch_note = f"{action.done()} at {time.strftime('%H:%M:%S')}: {fired.cause}"
        bus = self.ctx.eventbus
        if bus is not None:
            bus.tell(events.watch_process(self.config.name, self.config.group, pid, action.kind, fired.cause))
        self._publish()

    def _clear_logs(self) -> Outcome:
        """Empty our log files; the sinks reopen so their size counters (rotation) start again at 0."""
        try:
            for path in self.logfiles.values():
                if path and os.path.exists(path):
                    os.truncate(path, 0)
        except OSError as exc:
            return Outcome("FAILED", f"{self.config.namespec}: {exc}")
        if self.sink is not None:
            self.sink.tell(Reopen())
        return Outcome()

    def _request_start(self, request: Start) -> Outcome:
        state = self.machine.state
        if not request.user and (self.machine.shutting_down or state not in (ProcessState.STOPPED,)):
            return Outcome()  # autostart after the fact (e.g. a dependency came up late): nothing to do
        if request.user:
            try:
                resolve_command(self.config, self._environment())
            except SpawnError as exc:
                return Outcome(exc.fault, str(exc))
        if state in RUNNING_STATES:
            return Outcome("ALREADY_STARTED", self.config.namespec)
        if state is ProcessState.UNKNOWN:
            return Outcome("FAILED", f"{self.config.namespec} is in an unknown process state")
        if state is ProcessState.STOPPING:
            return Outcome("FAILED", f"{self.config.namespec} is stopping")
        self._apply(self.machine.start(time.monotonic(), user=request.user))
        if self.machine.spawnerr:
            return Outcome("SPAWN_ERROR", self.config.namespec)
        if request.wait and self.machine.state is not ProcessState.RUNNING:
            future = HubSafeFuture()
            self.start_waiters.append(future)
            return Outcome(done=future)
        return Outcome()

    def _request_stop(self, request: Stop | Shutdown) -> Outcome:
        now = time.monotonic()
        if isinstance(request, Shutdown):
            self.report_down = True
            self._apply(self.machine.shutdown(now))
        state = self.machine.state
        if state not in RUNNING_STATES and state is not ProcessState.STOPPING:
            if isinstance(request, Shutdown):
                self._report_down()
                return Outcome(done=_resolved(Outcome()))
            return Outcome("NOT_RUNNING", self.config.namespec)
        if state is not ProcessState.STOPPING:
            self._stop_child(now)
        wait = isinstance(request, Shutdown) or request.wait
        if wait and self.machine.state not in STOPPED_STATES:
            slot = request.slot if isinstance(request, Stop) else None
            future = HubSafeFuture() if slot is None else slot
            self.stop_waiters.append(future)
            return Outcome(done=future)
        return Outcome(done=_resolved(Outcome()) if wait else None)

    def _restart(self) -> None:
        if self.machine.shutting_down:
            return
        if self.machine.state in STOPPED_STATES:
            self._request_start(Start(wait=False))
        else:
            self.restart_when_stopped = True
            if self.machine.state is not ProcessState.STOPPING:
                self._stop_child(time.monotonic())

    def _request_stop_for_check(self) -> None:
        """``liveness_check_failure_action = stop``: an ordinary stop that nobody waits for."""
        if self.machine.state in RUNNING_STATES:
            self._request_stop(Stop(wait=False))

    def _request_signal(self, signum: int) -> Outcome:
        if self.machine.state not in SIGNALLABLE_STATES or self.child is None:
            return Outcome("NOT_RUNNING", self.config.namespec)
        try:
            os.kill(self.child.popen.pid, signum)
        except OSError as exc:
            return Outcome("FAILED", str(exc))
        return Outcome()

    def _write_stdin(self, data: bytes) -> Outcome:
        """Queue ``data`` for the child's stdin (never blocks); NO_FILE if stdin is closed or full."""
        stdin = self.stdin
        if self.child is None or self.machine.state is ProcessState.STOPPING or stdin is None:
            return Outcome("NOT_RUNNING", self.config.namespec)
        try:
            if stdin.write(data):
                return Outcome()
        except OSError:
            return Outcome("NO_FILE", self.config.namespec)
        # Supervisor's documented answer when "stdin cannot accept input"; nothing of ``data`` was queued.
        unread = stdin.pending
        return Outcome("NO_FILE", f"{self.config.namespec}: stdin is full ({unread} bytes not yet read)")

    # -- the world --

    def _on_exit(self, pid: int) -> None:
        if self.child is None or self.child.popen.pid != pid:
            return
        status = self._reap()
        self.checks.exited()
        self.stopped_wall = time.time()
        self._apply(self.machine.exited(status, time.monotonic()))

    def _reap(self) -> int:
        """Collect our child (blocking is fine: the pidfd said it has exited, or we just SIGKILLed it)."""
        child = self.child
        assert child is not None
        self.child = None
        pid = child.popen.pid
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = 0
        child.popen.returncode = os.waitstatus_to_exitcode(status) if status else 0
        self.ctx.pids.discard(pid)
        if child.cgroup is not None:
            self._end_cgroup(child.cgroup, status)
        pipes, self.pipes = self.pipes, []
        self.ctx.ioloop.release(pipes)  # a grandchild may hold them open for ever
        if self.stdin is not None:  # what the child never read goes with it
            self.stdin.close()
            self.stdin = None
        return status

    def _end_cgroup(self, cgroup: ProcessCgroup, status: int) -> None:
        """Kill what the process left in its cgroup (no escaped grandchild outlives it), remove the cgroup."""
        with blocking():  # SIGKILLed processes leave the cgroup within a millisecond or so
            oom_kills, error = cgroup.finish()
        if error:
            self.ctx.logger.warning("%s: %s", self.config.namespec, error)
        note = exit_note(cgroup, status, oom_kills)
        if note:
            self.ctx.logger.warning("%s: %s", self.config.namespec, note)
        self.cgroup_note = note and f"{note} at {time.strftime('%H:%M:%S')}"

    def _environment(self) -> dict[str, str]:
        return child_environment(self.config, self.ctx.base_environ, self.ctx.serverurl)

    def _spawn(self, *, hooked: bool = False) -> None:
        now = time.monotonic()
        command = self.config.hooks.pre_start
        if command and not hooked:  # the spawn goes on in _on_hook_done, once the hook succeeded
            self._run_hook("pre_start", command)
            return
        try:
            env = self._environment()
            argv = resolve_command(self.config, env)
            credentials = resolve_user(self.config.user) if self.config.user else None
            self.checks.prepare(env)
            child = spawn(self.config, argv, env, credentials, self.ctx.pids)
        except (SpawnError, OSError) as exc:
            self.checks.spawn_failed()
            self._apply(self.machine.spawn_failed(str(exc), now))
            return
        except Exception as exc:  # whatever went wrong, it is a failed start, never a dead actor
            self.checks.spawn_failed()
            self.ctx.logger.warning("unexpected error spawning %s", self.config.namespec, exc_info=True)
            self._apply(self.machine.spawn_failed(f"unknown error during spawn: {exc}", now))
            return
        self.child = child
        self.started_wall = time.time()
        ref = self.actor_ref
        pid = child.popen.pid
        loop = self.ctx.ioloop
        if child.stdin_fd is not None:
            self.stdin = Outlet(child.stdin_fd, STDIN_LIMIT, loop)
        for channel, fd in (("stdout", child.stdout_fd), ("stderr", child.stderr_fd)):
            if fd is None:
                continue
            sink = self.sink.for_channel(channel) if self.sink is not None else None
            if channel == "stdout" and self.pool is not None and self.stdin is not None:
                # The protocol runs where the bytes arrive: the link parses stdout on the I/O loop and
                # writes the pool's envelopes into our stdin outlet; it also feeds the log sink.
                from supervisord.actors.listenerlink import ListenerLink

                link = ListenerLink(self.config.name, self.pool, sink, pid, self.stdin, loop, self.ctx.logger)
                self.pipes.append(loop.watch_pipe(fd, link.feed, link.eof))
                self.pool.tell(ListenerStdin(self.config.name, link))
            else:
                assert self.sink is not None  # made in on_start
                self.pipes.append(self.sink.attach(loop, fd, pid, channel))
        loop.watch_exit(child.pidfd, lambda: ref.tell(ChildExited(pid)))
        self.checks.spawned()
        self._apply(self.machine.spawned(pid, now))

    def _kill(self, signum: int, *, group: bool) -> None:
        if self.child is None:
            return
        pid = self.child.popen.pid
        try:
            if group:
                os.killpg(pid, signum)
            else:
                os.kill(pid, signum)
        except ProcessLookupError:
            pass
        except OSError as exc:
            self._apply(self.machine.lost(str(exc)))

    def _apply(self, effects: list[Effect]) -> None:
        changed = False
        for effect in effects:
            if isinstance(effect, Spawn):
                self._spawn()
            elif isinstance(effect, Kill):
                self._kill(effect.signum, group=effect.group)
            elif isinstance(effect, ArmTimer):
                self._arm(effect.at)
            elif isinstance(effect, DisarmTimer):
                if self.timer is not None:
                    self.timer.cancel()
                    self.timer = None
            elif isinstance(effect, Log):
                self.ctx.logger.log(EFFECT_LEVELS.get(effect.level, 20), effect.message)
            elif isinstance(effect, Transition):
                changed = True
                self._on_transition(effect)
        if changed:
            self._publish()
        self._settle()

    def _settle(self) -> None:
        """Resolve the start/stop waiters, only after the snapshot that explains them was published.

        Why: the waiter's client may ask ``getProcessInfo`` the moment its call returns; that reads the
        supervisor's snapshot cache, and the SnapshotChanged told before the future was set is ahead of
        that ask in the supervisor's inbox, so the answer can never be the stale state.
        """
        settled, self.settled = self.settled, []
        for future, result in settled:
            future.set(result)

    def _arm(self, at: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer_token += 1
        token, ref = self.timer_token, self.actor_ref
        self.timer = self.ctx.ioloop.call_at(at, lambda: ref.tell(TimerFired(token)))

    def _on_transition(self, transition: Transition) -> None:
        new = transition.new
        machine = self.machine
        config = self.config
        self.checks.transition(new)
        if self.pool is not None:
            self.pool.tell(ListenerState(config.name, new))
        bus = self.ctx.eventbus
        if bus is not None:
            bus.tell(
                events.process_state(
                    new,
                    transition.old,
                    config.name,
                    config.group,
                    tries=transition.tries,
                    pid=transition.pid,
                    expected=transition.expected,
                )
            )
        if self.start_waiters and new is not ProcessState.STARTING:
            if machine.spawnerr:
                result = Outcome("SPAWN_ERROR", self.config.namespec)
            elif new is ProcessState.RUNNING:
                result = Outcome()
            else:
                result = Outcome("ABNORMAL_TERMINATION", self.config.namespec)
            waiters, self.start_waiters = self.start_waiters, []
            self.settled += [(future, result) for future in waiters]
        hook = _after_hook(transition, config)
        if hook is not None:
            self._run_hook(*hook)
        if new in STOPPED_STATES and self.restart_when_stopped:
            self.restart_when_stopped = False
            self.actor_ref.tell(Restart())
        if new in STOPPED_STATES and self.report_down:
            self._report_down()
        if self.stop_waiters and new in STOPPED_STATES:
            stopped, self.stop_waiters = self.stop_waiters, []
            self.settled += [(waiter, Outcome()) for waiter in stopped]

    def _report_down(self) -> None:
        self.report_down = False
        if self.ctx.supervisor is not None:
            try:
                self.ctx.supervisor.tell(ProcessDown(self.config.group, self.config.name))
            except pykka.ActorDeadError:
                pass

    def _snapshot(self) -> ProcessSnapshot:
        m = self.machine
        return ProcessSnapshot(
            name=self.config.name,
            group=self.config.group,
            state=m.state,
            pid=m.pid,
            start=self.started_wall,
            stop=self.stopped_wall,
            spawnerr=m.spawnerr,
            exitstatus=m.exitstatus,
            stdout_logfile=self.logfiles["stdout"],
            stderr_logfile=self.logfiles["stderr"],
            group_priority=self.group_priority,
            priority=self.config.priority,
            serial=self.serial,
            note="; ".join(
                n for n in (self.watch_note, self.cgroup_note, self.cron.describe() if self.cron else "") if n
            ),
            cgroup=self.child.cgroup if self.child is not None else None,
            status=self.checks.status,
            health=self.checks.health,
        )

    def _publish(self) -> None:
        self.serial += 1
        supervisor = self.ctx.supervisor
        if supervisor is not None:
            try:
                supervisor.tell(SnapshotChanged(self._snapshot()))
            except pykka.ActorDeadError:
                pass


def _after_hook(transition: Transition, config: ProcessConfig) -> tuple[str, str] | None:
    """The post_start/post_stop hook a transition calls for: RUNNING, or a run that ended (not a backoff)."""
    if transition.new is ProcessState.RUNNING and config.hooks.post_start:
        return "post_start", config.hooks.post_start
    ended = transition.new in (ProcessState.STOPPED, ProcessState.EXITED)
    ran = transition.old in (ProcessState.STOPPING, ProcessState.RUNNING)
    if ended and ran and config.hooks.post_stop:
        return "post_stop", config.hooks.post_stop
    return None


def _resolved(value: Outcome) -> HubSafeFuture:
    future = HubSafeFuture()
    future.set(value)
    return future
