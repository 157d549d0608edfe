"""The supervisor actor: owns the set of groups and processes, their start order and shutdown order.

It creates one :class:`~actors.process.ProcessActor` per configured process, starts the autostart ones in
priority order (holding back a process until every program it ``depends_on`` is RUNNING), keeps the
latest snapshot of every process for readers, and stops everything in reverse order at shutdown, one rank
at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import pykka

from supervisord import events, namespec
from supervisord.actors.eventbus import Flush, PoolDrained, Subscribe, Unsubscribe
from supervisord.actors.messages import (
    AddGroup,
    AutostartForked,
    BeginShutdown,
    Broadcast,
    FindProcesses,
    GetConfigInfo,
    GetSnapshots,
    ListenerAttached,
    Outcome,
    ProcessActorDied,
    ProcessDown,
    ProcessesInOrder,
    RemoveGroup,
    Reread,
    Shutdown,
    SnapshotChanged,
    Start,
    StartNext,
)
from supervisord.actors.process import ProcessActor
from supervisord.config.model import AutoRestart, Config, GroupConfig, GroupKind, ProcessConfig
from supervisord.runtime import faults
from supervisord.runtime.context import RuntimeContext
from supervisord.runtime.hubsafe import HubSafeActor, HubSafeFuture
from supervisord.snapshot import ProcessSnapshot
from supervisord.states import RUNNING_STATES, STOPPED_STATES, ProcessState

Key = tuple[str, str]  # (group, process name)
DRAIN_TIMEOUT = 3.0  # seconds listeners get at shutdown to finish events already sent their way
SPAWN_OVERLAP = 2  # autostarts of one tier forking at once (see _queue_start)
# A dead process actor is replaced (one-for-one), OTP's intensity and period: its ACTOR_RESTARTS + 1st death
# within ACTOR_RESTART_PERIOD seconds is a bug that replacing does not cure, and the daemon shuts down
# (exit 1) rather than spin.
ACTOR_RESTARTS = 3
ACTOR_RESTART_PERIOD = 60.0


@dataclass
class _Entry:
    config: ProcessConfig
    group: GroupConfig
    ref: pykka.ActorRef[Any]
    snapshot: ProcessSnapshot | None = None


@dataclass
class _ShutdownPlan:
    batches: list[list[Key]]
    waiting: set[Key] = field(default_factory=set)
    done: HubSafeFuture = field(default_factory=HubSafeFuture)
    draining: set[str] = field(default_factory=set)  # pools still delivering before their batch stops
    drained: bool = False
    drain_token: int = 0


def start_ranks(groups: tuple[GroupConfig, ...]) -> dict[Key, tuple[int, int]]:
    """A rank per process: (priority, dependency depth), raised so a dependency always ranks first.

    Shutdown stops the highest rank first, so dependents go down before what they depend on.
    """
    by_program: dict[str, list[ProcessConfig]] = {}
    for group in groups:
        for proc in group.processes:
            by_program.setdefault(proc.program_name, []).append(proc)
    memo: dict[str, tuple[int, int]] = {}

    def rank(program: str, trail: frozenset[str]) -> tuple[int, int]:
        if program in memo:
            return memo[program]
        procs = by_program.get(program, [])
        prio = min((p.priority for p in procs), default=999)
        depth = 0
        deps = procs[0].depends_on if procs else ()
        for dep in deps:
            if dep in trail:  # cycles are rejected by the loader; never loop here
                continue
            dep_prio, dep_depth = rank(dep, trail | {program})
            prio = max(prio, dep_prio)
            depth = max(depth, dep_depth + 1)
        memo[program] = (prio, depth)
        return memo[program]

    return {
        (group.name, proc.name): rank(proc.program_name, frozenset())
        for group in groups
        for proc in group.processes
    }


class SupervisorActor(HubSafeActor):
    def __init__(self, config: Config, ctx: RuntimeContext) -> None:
        super().__init__()
        self.config = config
        self.ctx = ctx
        self.entries: dict[Key, _Entry] = {}
        self.groups: dict[str, GroupConfig] = {}  # the running groups, by name
        self.last_read = config  # the config add/avail/getAllConfigInfo read (replaced by a reread)
        self.waiting_for_deps: list[Key] = []
        self.start_queue: list[Key] = []  # autostarts not yet told, in order
        self.starting: set[Key] = set()  # autostarts told and not yet reported back
        self.forked_waiters: list[HubSafeFuture] = []  # AutostartForked asks, until the wave has forked
        self.shutdown: _ShutdownPlan | None = None
        self.pools: dict[str, Any] = {}  # listener pool actors, by group name
        self.unpublished: set[Key] = set()  # processes whose actor has not published a snapshot yet
        self.snapshot_waiters: list[HubSafeFuture] = []  # GetSnapshots asked while some were unpublished
        self.actor_deaths: dict[Key, list[float]] = {}  # when each process's actor was last replaced

    # -- lifecycle --

    def on_start(self) -> None:
        self.ctx.supervisor = self.actor_ref
        for group in self.config.groups:
            self._add_group(group)
        self._publish(events.supervisor_state_change(running=True))
        self._autostart(list(self.entries))

    def on_stop(self) -> None:
        for entry in self.entries.values():
            entry.ref.stop(block=False)
        for pool in self.pools.values():
            pool.stop(block=False)

    def _publish(self, event: events.Event) -> None:
        bus = self.ctx.eventbus
        if bus is not None:
            bus.tell(event)

    def _add_group(self, group: GroupConfig) -> None:
        self.groups[group.name] = group
        pool = None
        bus = self.ctx.eventbus
        if group.kind is GroupKind.EVENTLISTENER and group.pool is not None:
            from supervisord.actors.listener import ListenerPoolActor  # only daemons with listeners

            pool = ListenerPoolActor.start(group, self.ctx)
            self.pools[group.name] = pool
            if bus is not None:
                bus.tell(Subscribe(pool, group.pool.events))
        for proc in group.processes:
            ref = ProcessActor.start(proc, group.priority, self.ctx, pool)
            self.entries[(group.name, proc.name)] = _Entry(proc, group, ref)
            self.unpublished.add((group.name, proc.name))
            if pool is not None:
                pool.tell(ListenerAttached(proc.name, ref))
        self._publish(events.process_group(added=True, group=group.name))

    def _queue_start(self, key: Key) -> None:
        """Autostarts fork in priority order (Supervisor's order, visible in pids and the log): a process
        is told to start only once every process of an earlier tier has reported that it forked. Within a
        tier (same group and priorities) up to SPAWN_OVERLAP forks overlap, so one child's fork/exec
        latency hides behind the next one's work; their pids may then swap, which no order promises."""
        self.start_queue.append(key)
        self._start_next()

    def _settle_forked(self) -> None:
        if self.forked_waiters and not self.start_queue and not self.starting:
            waiters, self.forked_waiters = self.forked_waiters, []
            for waiter in waiters:
                waiter.set(None)

    def _tier(self, key: Key) -> tuple[int, str, int]:
        entry = self.entries[key]
        return (entry.group.priority, key[0], entry.config.priority)

    def _start_next(self) -> None:
        while self.start_queue and self.shutdown is None and len(self.starting) < SPAWN_OVERLAP:
            key = self.start_queue[0]
            entry = self.entries.get(key)
            if entry is None:
                self.start_queue.pop(0)
                continue
            if any(self._tier(k) != self._tier(key) for k in self.starting if k in self.entries):
                return  # an earlier tier is still forking
            self.start_queue.pop(0)
            me = self.actor_ref

            def then(me: Any = me, key: Key = key) -> None:
                try:
                    me.tell(StartNext(key))
                except pykka.ActorDeadError:
                    pass

            try:
                entry.ref.tell(Start(wait=False, user=False, then=then))
            except pykka.ActorDeadError:
                continue
            self.starting.add(key)

    def _autostart(self, keys: list[Key]) -> None:
        ordered = sorted(
            (k for k in keys if self.entries[k].config.autostart),
            key=lambda k: (self.entries[k].group.priority, k[0], self.entries[k].config.priority),
        )
        for key in ordered:
            if self._deps_ready(key):
                self._queue_start(key)
            else:
                self.waiting_for_deps.append(key)

    # -- depends_on --

    def _dependency_states(self, key: Key) -> list[tuple[str, ProcessState | None]]:
        states: list[tuple[str, ProcessState | None]] = []
        for dep in self.entries[key].config.depends_on:
            for entry in self.entries.values():
                if entry.config.program_name == dep:
                    snap = entry.snapshot
                    states.append((entry.config.namespec, snap.state if snap else None))
        return states

    def _deps_ready(self, key: Key) -> bool:
        return all(state is ProcessState.RUNNING for _, state in self._dependency_states(key))

    def _recheck_dependents(self) -> None:
        if not self.waiting_for_deps or self.shutdown is not None:
            return
        still: list[Key] = []
        for key in self.waiting_for_deps:
            states = self._dependency_states(key)
            fatal = [name for name, state in states if state is ProcessState.FATAL]
            if fatal:
                self.ctx.logger.warning(
                    "not starting %s: dependency %s entered FATAL state",
                    self.entries[key].config.namespec,
                    ", ".join(fatal),
                )
            elif all(state is ProcessState.RUNNING for _, state in states):
                self._queue_start(key)
            else:
                still.append(key)
        self.waiting_for_deps = still

    # -- messages --

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, SnapshotChanged):
            snap = message.snapshot
            entry = self.entries.get((snap.group, snap.name))
            if entry is not None and (entry.snapshot is None or entry.snapshot.serial < snap.serial):
                entry.snapshot = snap
                self._recheck_dependents()
                if self.unpublished:
                    self.unpublished.discard((snap.group, snap.name))
                    self._settle_snapshots()
        elif isinstance(message, PoolDrained):
            self._pool_drained(message)
        elif isinstance(message, StartNext):
            self.starting.discard(message.key)
            self._start_next()
            self._settle_forked()
        elif isinstance(message, ProcessDown):
            self._process_down((message.group, message.name))
        elif isinstance(message, ProcessActorDied):
            self._replace(message)
        elif isinstance(message, GetSnapshots):
            if self.unpublished:  # never a partial list: answer once every process actor has published
                future = HubSafeFuture()
                self.snapshot_waiters.append(future)
                return future
            return self._snapshots()
        elif isinstance(message, FindProcesses):
            return self._find(message.namespec)
        elif isinstance(message, Broadcast):
            for entry in self.entries.values():
                with contextlib.suppress(pykka.ActorDeadError):
                    entry.ref.tell(message.message)
        elif isinstance(message, AutostartForked):
            future = HubSafeFuture()
            self.forked_waiters.append(future)
            self._settle_forked()
            return future
        elif isinstance(message, BeginShutdown):
            return self._begin_shutdown()
        elif isinstance(message, ProcessesInOrder):
            return self._in_order(message.group)
        elif isinstance(message, Reread):
            return self._reread(message.config)
        elif isinstance(message, AddGroup):
            return self._add_group_request(message.name)
        elif isinstance(message, RemoveGroup):
            return self._remove_group(message.name)
        elif isinstance(message, GetConfigInfo):
            return [(g, g.name in self.groups) for g in self.last_read.groups]
        return None

    def _replace(self, died: ProcessActorDied) -> None:
        """One-for-one: a fresh actor for a process whose actor died (its child already killed and reaped).

        It starts STOPPED, and is started again when the process was starting or running and ``autorestart``
        is not false (its child was killed: an unexpected exit), or had not published a state yet and has
        ``autostart``. A process the user had stopped stays stopped. Too many deaths in a row, or a death
        whose cleanup failed, fall back to the orderly shutdown (exit 1).
        """
        key = (died.group, died.name)
        entry = self.entries.get(key)
        if entry is None or entry.ref != died.ref:
            return  # its group was removed meanwhile
        now = time.monotonic()
        recent = [t for t in self.actor_deaths.get(key, []) if now - t < ACTOR_RESTART_PERIOD]
        self.starting.discard(key)  # a Start it never handled will never report back
        escalate = not died.clean or len(recent) >= ACTOR_RESTARTS
        if escalate:
            why = (
                "its cleanup failed"
                if not died.clean
                else f"{len(recent) + 1} deaths in {ACTOR_RESTART_PERIOD:g} s"
            )
            faults.died(f"actor ProcessActor of {entry.config.namespec} ({why})", died.error)
        if escalate or self.shutdown is not None:
            self._process_down(key)
            self._start_next()
            self._settle_forked()
            return
        self.actor_deaths[key] = [*recent, now]
        pool = self.pools.get(died.group)
        before = entry.snapshot
        entry.ref = ProcessActor.start(entry.config, entry.group.priority, self.ctx, pool)
        entry.snapshot = None  # the new actor's serials start again
        self.unpublished.add(key)
        if pool is not None:
            pool.tell(ListenerAttached(died.name, entry.ref))
        self.ctx.logger.warning(
            "replaced the dead actor of %s (%d of at most %d in %g s)",
            entry.config.namespec,
            len(recent) + 1,
            ACTOR_RESTARTS,
            ACTOR_RESTART_PERIOD,
        )
        queued = key in self.start_queue or key in self.waiting_for_deps  # its autostart is still ahead
        if not queued and (
            (before is None and entry.config.autostart)
            or (
                before is not None
                and before.state in RUNNING_STATES
                and entry.config.autorestart is not AutoRestart.NEVER
            )
        ):
            if self._deps_ready(key):
                self._queue_start(key)
            else:
                self.waiting_for_deps.append(key)
        self._start_next()
        self._settle_forked()

    # -- runtime group changes (reread / add / remove) --

    def _in_order(self, only: str | None) -> list[tuple[ProcessSnapshot | None, Any]] | Outcome:
        if only is not None and only not in self.groups:
            return Outcome("BAD_NAME", only)
        groups = sorted(self.groups.values(), key=lambda g: (g.priority, g.name))
        found: list[tuple[ProcessSnapshot | None, Any]] = []
        for group in groups:
            if only is not None and group.name != only:
                continue
            procs = sorted(enumerate(group.processes), key=lambda ip: (ip[1].priority, ip[0]))
            for _, proc in procs:
                entry = self.entries.get((group.name, proc.name))
                if entry is not None:
                    found.append((entry.snapshot, entry.ref))
        return found

    def _reread(self, config: Config) -> tuple[list[str], list[str], list[str]]:
        self.last_read = config
        new = {g.name: g for g in config.groups}
        added = sorted(n for n in new if n not in self.groups)
        removed = sorted(n for n in self.groups if n not in new)
        changed = sorted(
            n for n in new if n in self.groups and _comparable(new[n]) != _comparable(self.groups[n])
        )
        return added, changed, removed

    def _add_group_request(self, name: str) -> Outcome:
        group = self.last_read.group(name)
        if group is None:
            return Outcome("BAD_NAME", name)
        if name in self.groups:
            return Outcome("ALREADY_ADDED", name)
        if self.shutdown is not None:
            return Outcome("SHUTDOWN_STATE")
        self._add_group(group)
        self._autostart([(name, p.name) for p in group.processes])
        self.ctx.logger.info("added process group %s", name)
        return Outcome()

    def _remove_group(self, name: str) -> Outcome:
        if name not in self.groups:
            return Outcome("BAD_NAME", name)
        keys = [k for k in self.entries if k[0] == name]
        for key in keys:
            snap = self.entries[key].snapshot
            if snap is not None and snap.state not in STOPPED_STATES:
                return Outcome("STILL_RUNNING", name)
        for key in keys:
            self.entries.pop(key).ref.stop(block=False)
            self.unpublished.discard(key)
            self.actor_deaths.pop(key, None)
        self._settle_snapshots()
        del self.groups[name]
        pool = self.pools.pop(name, None)
        if pool is not None:
            bus = self.ctx.eventbus
            if bus is not None:
                bus.tell(Unsubscribe(pool))
            pool.stop(block=False)
        self._publish(events.process_group(added=False, group=name))
        self.waiting_for_deps = [k for k in self.waiting_for_deps if k[0] != name]
        self.start_queue = [k for k in self.start_queue if k[0] != name]
        if any(k[0] == name for k in self.starting):
            self.starting = {k for k in self.starting if k[0] != name}  # gone: they will never report back
            self._start_next()
        self.ctx.logger.info("removed process group %s", name)
        return Outcome()

    def _settle_snapshots(self) -> None:
        """Answer the GetSnapshots that waited for new process actors (5,000 take seconds to start; the
        API used to answer meanwhile with the ones that happened to be ready: 1,022 of 5,000)."""
        if self.snapshot_waiters and not self.unpublished:
            waiters, self.snapshot_waiters = self.snapshot_waiters, []
            snapshots = self._snapshots()
            for waiter in waiters:
                waiter.set(snapshots)

    def _snapshots(self) -> list[ProcessSnapshot]:
        snaps = [e.snapshot for e in self.entries.values() if e.snapshot is not None]
        snaps.sort(key=lambda s: (s.group, s.name))
        return snaps

    def _find(self, spec: str) -> list[tuple[ProcessSnapshot | None, Any]] | Outcome:
        group, name = namespec.split(spec)
        if name is None:
            found = [(e.snapshot, e.ref) for (g, _), e in self.entries.items() if g == group]
        else:
            entry = self.entries.get((group, name))
            found = [(entry.snapshot, entry.ref)] if entry is not None else []
        if not found:
            return Outcome("BAD_NAME", spec)
        return found

    # -- shutdown --

    def _begin_shutdown(self) -> HubSafeFuture:
        if self.shutdown is not None:
            return self.shutdown.done
        self.waiting_for_deps = []
        self._publish(events.supervisor_state_change(running=False))
        ranks = start_ranks(tuple(self.groups.values()))
        keyed: dict[tuple[int, int], list[Key]] = {}
        for key in self.entries:
            keyed.setdefault(ranks.get(key, (999, 0)), []).append(key)
        batches = [keyed[r] for r in sorted(keyed, reverse=True)]
        self.shutdown = _ShutdownPlan(batches)
        self._next_batch()
        return self.shutdown.done

    def _next_batch(self) -> None:
        plan = self.shutdown
        assert plan is not None
        if plan.draining:
            return
        while not plan.waiting and plan.batches:
            batch = plan.batches[0]
            pools = {k[0] for k in batch if k[0] in self.pools}
            if pools and not plan.drained:
                self._drain_pools(plan, pools)
                return
            plan.batches.pop(0)
            plan.drained = False
            plan.waiting = set(batch)
            for key in batch:
                entry = self.entries[key]
                try:
                    entry.ref.tell(Shutdown())
                except pykka.ActorDeadError:  # its death was reported; on_failure killed its child
                    plan.waiting.discard(key)
        if not plan.waiting and not plan.batches and not plan.done._result:
            plan.done.set(Outcome())

    def _drain_pools(self, plan: _ShutdownPlan, pools: set[str]) -> None:
        """Let listeners finish the events already on their way before they are stopped.

        The flush travels through the bus behind every event published before it, so a pool that answers
        has seen them all; a bounded wait keeps a stuck listener from holding the shutdown forever.
        """
        bus = self.ctx.eventbus
        if bus is None:
            plan.drained = True
            self._next_batch()
            return
        plan.draining = set(pools)
        plan.drain_token += 1
        token, me = plan.drain_token, self.actor_ref
        bus.tell(Flush(tuple(self.pools[name] for name in pools), me, token))
        self.ctx.ioloop.call_at(time.monotonic() + DRAIN_TIMEOUT, lambda: me.tell(PoolDrained("", token)))

    def _pool_drained(self, message: PoolDrained) -> None:
        plan = self.shutdown
        if plan is None or message.token != plan.drain_token or not plan.draining:
            return
        if message.pool:
            plan.draining.discard(message.pool)
        else:  # the timeout
            self.ctx.logger.warning(
                "event listeners did not drain in time: %s", ", ".join(sorted(plan.draining))
            )
            plan.draining.clear()
        if not plan.draining:
            plan.drained = True
            self._next_batch()

    def _process_down(self, key: Key) -> None:
        plan = self.shutdown
        if plan is None:
            return
        plan.waiting.discard(key)
        if not plan.waiting:
            self._next_batch()


def _comparable(group: GroupConfig) -> GroupConfig:
    """The group minus what must not count as a change (where in the file a section was written)."""
    procs = tuple(dataclasses.replace(p, source_file="", source_line=0) for p in group.processes)
    return dataclasses.replace(group, processes=procs)
