"""The fleet agent: this daemon's membership, published state and view of the other nodes, on its own thread.

Why a thread of its own: every etcd call is blocking HTTP (etcd3gw over requests) that may hang for a whole
timeout while etcd is away; on the gevent hub it would stall every request, on an actor worker it would hold
a worker others need. Here it stalls nothing but the fleet. The hub and the web routes only read
:attr:`FleetAgent.view`, an immutable value the thread replaces whole.

Each tick (at most 1 s, a third of the TTL): register or keep the lease alive (its keys carry this node's
name, API URL, version, start time and load), publish the process summary if something changed since the last
publish (so a restart storm costs one write per tick, not one per event), then read the whole prefix once:
the other nodes, their summaries, and the shared programs. etcd going away changes nothing for the local
programs; the agent logs it once, retries every tick, and registers again when etcd answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from supervisord.config.errors import ConfigError
from supervisord.config.model import FleetConfig
from supervisord.fleet.shared import SHARED, Sections
from supervisord.fleet.store import LeaseGone, Store, StoreDown
from supervisord.snapshot import ProcessSnapshot
from supervisord.states import ProcessState

if TYPE_CHECKING:
    from etcd3gw.lease import Lease

    from supervisord.daemon import Daemon

ASK_TIMEOUT = 10.0
STOP_JOIN = 5.0


class NameTaken(Exception):
    """Another live lease holds this node's name: two daemons must not publish as one node."""


@dataclass(frozen=True)
class Node:
    """One node as this daemon sees it."""

    name: str
    status: str  # ONLINE, OFFLINE (its lease ended), UNKNOWN (etcd is unreachable from here)
    info: dict[str, Any]  # what the node registered: url, version, started, load figures
    processes: tuple[ProcessSnapshot, ...] = ()


@dataclass(frozen=True)
class View:
    connected: bool = False
    nodes: dict[str, Node] = field(default_factory=dict)  # other nodes, by name


def summary(snaps: list[ProcessSnapshot]) -> list[list[Any]]:
    """The compact published form of every process: name, group, state, pid, start, stop, exit status."""
    return [[s.name, s.group, int(s.state), s.pid, int(s.start), int(s.stop), s.exitstatus] for s in snaps]


def from_summary(rows: Any) -> tuple[ProcessSnapshot, ...]:
    out = []
    for row in rows if isinstance(rows, list) else []:
        try:
            name, group, state, pid, start, stop, exitstatus = row
            out.append(
                ProcessSnapshot(
                    name=str(name),
                    group=str(group),
                    state=ProcessState(int(state)),
                    pid=int(pid),
                    start=float(start),
                    stop=float(stop),
                    spawnerr="",
                    exitstatus=int(exitstatus),
                    stdout_logfile="",
                    stderr_logfile="",
                    group_priority=0,
                    priority=0,
                    serial=0,
                )
            )
        except (TypeError, ValueError):
            continue  # a row we cannot read (another version's?) is left out, not fatal
    return tuple(out)


def shared_sections(prefix: str, entries: list[tuple[str, bytes]]) -> Sections:
    """``<prefix>/shared/<program>`` = the section's ``key = value`` lines (or a whole ``[program:x]``)."""
    out = []
    for key, value in sorted(entries):
        name = key[len(prefix) :]
        text = value.decode("utf-8", "replace")
        if not text.lstrip().startswith("["):
            text = f"[program:{name}]\n{text}"
        out.append((f"etcd:{key}", text))
    return tuple(out)


class FleetAgent:
    def __init__(
        self, daemon: Daemon, cfg: FleetConfig, run_on_hub: Callable[[Callable[[], None]], None]
    ) -> None:
        self.daemon = daemon
        self.cfg = cfg
        self.name = cfg.name
        self.logger = daemon.logger
        self.run_on_hub = run_on_hub
        self.tick = min(1.0, cfg.ttl / 3)
        self.store = Store(cfg, timeout=max(1.0, min(5.0, cfg.ttl / 2)))
        self.view = View()
        self.lease: Lease | None = None
        self.next_keepalive = 0.0
        self.dirty = True
        self.publishes = 0  # summary writes (tests and the bench read it)
        self.rejected: Sections | None = None
        self.started = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet", daemon=True)
        self._down_since: float | None = None
        self._seen: set[str] = set()
        self._offline_since: dict[str, float] = {}  # monotonic time each OFFLINE node was first seen so
        self._name_taken = False
        self._updating: Any = None  # a gevent lock, made on the hub: one shared-programs update at a time

    # -- keys --

    def _key(self, kind: str, name: str | None = None) -> str:
        return f"{self.cfg.prefix}/{kind}/{name if name is not None else self.name}"

    # -- life --

    def start(self) -> None:
        import gevent.lock

        from supervisord.actors.eventbus import Watch

        self._updating = gevent.lock.BoundedSemaphore()
        bus = self.daemon.ctx.eventbus if self.daemon.ctx is not None else None
        if bus is not None:
            bus.tell(Watch(self._on_event))
        self._thread.start()

    def stop(self) -> None:
        """Leave the fleet at once (revoke the lease) rather than after the TTL."""
        self._stop.set()
        self._thread.join(STOP_JOIN)  # bounded by one etcd call's timeout; the thread revokes on its way out

    def _on_event(self, event: Any) -> None:
        """In the bus's thread: only mark the summary stale (the next tick publishes, once)."""
        if event.name.startswith(("PROCESS_STATE_", "PROCESS_GROUP_")):
            self.dirty = True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._once()
                if self._down_since is not None:
                    self.logger.info(
                        "fleet: etcd at %s answers again; registered as %s", self.store.endpoint, self.name
                    )
                    self._down_since = None
            except LeaseGone:
                self.logger.warning("fleet: our lease had expired; registering again")
                self.lease = None
            except NameTaken as exc:
                if not self._name_taken:  # said once, not every tick
                    self.logger.error("fleet: %s; retrying", exc)
                self._name_taken = True
            except StoreDown as exc:
                self._lost(str(exc))
            except Exception:  # a bug must be seen, and must not end the fleet
                self.logger.exception("fleet: unexpected error; retrying")
            self._stop.wait(self.tick)
        lease, self.lease = self.lease, None
        if lease is not None:
            try:
                self.store.revoke(lease)
            except StoreDown:
                pass  # etcd is away: the lease ends by itself within the TTL
        self.store.close()

    def _set_view(self, view: View) -> None:
        """Replace the view whole (hub readers never see half of one); tell the GUIs if it changed."""
        old, self.view = self.view, view
        hook = self.daemon.on_fleet_change
        if hook is not None and view != old:
            hook()

    def _lost(self, why: str) -> None:
        self._set_view(
            View(
                connected=False,
                nodes={
                    n: Node(n, "UNKNOWN", node.info, node.processes) for n, node in self.view.nodes.items()
                },
            )
        )
        if self._down_since is None:
            self._down_since = time.monotonic()
            self.logger.warning("fleet: etcd unreachable (%s); supervising goes on, retrying", why)

    # -- one tick --

    def _once(self) -> None:
        now = time.monotonic()
        if self.lease is None:
            self._register()
        elif now >= self.next_keepalive:
            if self.store.keepalive(self.lease) <= 0:
                self.logger.warning("fleet: our lease had expired; registering again")
                self.lease = None
                self._register()
            else:
                self.store.put(self._key("nodes"), self._record(), self.lease)
                self.next_keepalive = now + self.cfg.ttl / 3
        if self.dirty and self.lease is not None:
            self._publish()
        self._read()

    def _register(self) -> None:
        lease = self.store.grant(self.cfg.ttl)
        if not self.store.create(self._key("nodes"), self._record(), lease):
            self.store.revoke(lease)
            raise NameTaken(
                f"the name {self.name!r} is held by another live node (or our own past run's lease)"
            )
        self.lease = lease
        self._name_taken = False
        self.next_keepalive = time.monotonic() + self.cfg.ttl / 3
        self.dirty = True
        self._publish()
        self.logger.info("fleet: registered as %s (%s) at %s", self.name, self.cfg.url, self.store.endpoint)

    def _record(self) -> dict[str, Any]:
        from supervisord.control import Control

        node = Control(self.daemon).node()
        keys = ("version", "pid", "cpu_percent", "rss_bytes", "mem_total", "mem_used", "mem_used_percent")
        return {
            "name": self.name,
            "url": self.cfg.url,
            "started": int(self.started),
            **{k: node[k] for k in keys},
        }

    def _publish(self) -> None:
        from supervisord.actors.messages import GetSnapshots

        supervisor = self.daemon.supervisor
        if supervisor is None:
            return
        self.dirty = False  # before the ask: a change during it marks it again
        snaps = supervisor.ask(GetSnapshots(), timeout=ASK_TIMEOUT)
        self.store.put(self._key("procs"), summary(list(snaps)), self.lease)
        self.publishes += 1

    def _read(self) -> None:
        import json

        entries = self.store.get_prefix(self.cfg.prefix + "/")
        records: dict[str, dict[str, Any]] = {}
        procs: dict[str, Any] = {}
        shared: list[tuple[str, bytes]] = []
        nodes_prefix, procs_prefix, shared_prefix = (
            f"{self.cfg.prefix}/{k}/" for k in ("nodes", "procs", "shared")
        )
        for key, value, _lease in entries:
            try:
                if key.startswith(nodes_prefix):
                    records[key[len(nodes_prefix) :]] = json.loads(value)
                elif key.startswith(procs_prefix):
                    procs[key[len(procs_prefix) :]] = json.loads(value)
                elif key.startswith(shared_prefix):
                    shared.append((key, value))
            except ValueError:
                continue
        nodes: dict[str, Node] = {}
        for name, record in records.items():
            if name != self.name and isinstance(record, dict):
                nodes[name] = Node(name, "ONLINE", record, from_summary(procs.get(name)))
        now, online = time.monotonic(), set(nodes)
        for name in self._seen - online - {self.name}:
            since = self._offline_since.setdefault(name, now)
            if now - since >= self.cfg.offline_keep:  # listed long enough to be noticed: forget it
                self._seen.discard(name)
                del self._offline_since[name]
                continue
            old = self.view.nodes.get(name)
            nodes[name] = Node(name, "OFFLINE", old.info if old else {}, ())
        for name in online:
            self._offline_since.pop(name, None)
        self._seen |= online
        self._set_view(View(connected=True, nodes=dict(sorted(nodes.items()))))
        if self.cfg.shared_programs:
            self._apply_shared(shared_sections(shared_prefix, shared))

    # -- shared programs --

    def _apply_shared(self, sections: Sections) -> None:
        """Validate the shared programs as the loader would; apply them like ``update`` only if valid."""
        if sections == SHARED.get() or sections == self.rejected:
            return
        from supervisord.config.loader import load_config

        try:
            load_config(self.daemon.config.path, shared=sections)
        except ConfigError as exc:
            self.rejected = sections
            self.logger.error("fleet: shared programs rejected, nothing changed: %s", exc)
            return
        self.rejected = None
        SHARED.set(sections)
        self.logger.info("fleet: shared programs changed (%d); applying them like update", len(sections))
        self.run_on_hub(self._update)

    def _update(self) -> None:
        """On the hub: the same reread-and-apply as ``supervisorctl update``."""
        from supervisord import faults
        from supervisord.control import Control

        try:
            with self._updating:
                changes = Control(self.daemon).update()
        except faults.Fault as err:
            self.logger.error("fleet: applying the shared programs failed: %s", err.text)
            return
        self.logger.info(
            "fleet: shared programs applied: added %s, changed %s, removed %s",
            changes.added,
            changes.changed,
            changes.removed,
        )


def start_fleet(daemon: Daemon, cfg: FleetConfig) -> Callable[[], None]:
    """Start the agent (on the hub thread, from the daemon's run); returns its stopper."""
    import gevent

    loop = gevent.get_hub().loop

    def run_on_hub(fn: Callable[[], None]) -> None:
        loop.run_callback_threadsafe(lambda: gevent.spawn(fn))

    agent = FleetAgent(daemon, cfg, run_on_hub)
    daemon.fleet = agent
    agent.start()
    return agent.stop
