"""Prometheus ``GET /metrics``: node_exporter's supervisord names, read from the actors at scrape time.

One registry of our own (never the global one) with a collector that takes every snapshot in one ask to the
supervisor actor, so a scrape costs one message plus work proportional to the process count; removed
programs simply vanish. A scrape writes those families through :class:`TextCache` (the encoder's own text,
kept per process until its snapshot changes) and encodes only the daemon's ``process_*`` afresh.
``node_supervisord_start_time_seconds`` is a gauge, as prometheus-client would rename a counter to ``…_total``
(architecture.md §0.13). Per-process CPU and memory come from psutil, read on the
hub's thread pool; the daemon's own ``process_*`` come from prometheus-client's ProcessCollector.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from supervisord.snapshot import ProcessSnapshot
from supervisord.states import ProcessState
from supervisord.web.routing import Request, Response

if TYPE_CHECKING:
    from supervisord.control import Control
    from supervisord.web.feed import EventFeed

UP_STATES = frozenset({ProcessState.STARTING, ProcessState.RUNNING, ProcessState.STOPPING})


class _Usage:
    """CPU seconds and RSS per pid through psutil, with handles kept per pid.

    Reading 1,000 processes costs two /proc files each (over 100 ms on a loaded machine), so a scrape does
    not wait for it: it reads synchronously only the pids it has never read, and answers the others from
    the previous reading while a fresh one runs on the hub's thread pool for the next scrape. The values
    are therefore at most one scrape interval old; the process list itself is always current.
    """

    def __init__(self) -> None:
        self.handles: dict[int, Any] = {}
        self.values: dict[int, tuple[float, int]] = {}
        self.lock = threading.Lock()  # reads run in pool threads; one at a time
        self.refreshing: Any = None

    def read(self, pids: list[int]) -> dict[int, tuple[float, int]]:
        import psutil

        out: dict[int, tuple[float, int]] = {}
        with self.lock:
            for pid in pids:
                proc = self.handles.get(pid)
                try:
                    if proc is None:
                        proc = self.handles[pid] = psutil.Process(pid)
                    with proc.oneshot():
                        cpu = proc.cpu_times()
                        rss = proc.memory_info().rss
                except (psutil.Error, OSError):
                    self.handles.pop(pid, None)
                    continue
                out[pid] = (cpu.user + cpu.system + cpu.children_user + cpu.children_system, rss)
        return out

    def current(self, control: Control, pids: list[int]) -> dict[int, tuple[float, int]]:
        """Usage of ``pids``: new ones read now, known ones from the last reading (refreshed meanwhile)."""
        import gevent

        wanted = set(pids)
        with self.lock:
            for pid in [p for p in self.handles if p not in wanted]:
                del self.handles[pid]
        self.values = {pid: v for pid, v in self.values.items() if pid in wanted}
        missing = [pid for pid in pids if pid not in self.values]
        if missing:
            self.values.update(control.offload(self.read, missing))
        if self.refreshing is None or self.refreshing.ready():
            self.refreshing = gevent.spawn(self._refresh, control, pids)
        return self.values

    def _refresh(self, control: Control, pids: list[int]) -> None:
        fresh = control.offload(self.read, pids)
        self.values = {pid: fresh.get(pid, v) for pid, v in self.values.items()} | fresh


# The supervisord families, in exposition order: (name, help, type). Counters get ``_total`` on their samples.
FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("node_supervisord_up", "Process Up", "gauge"),
    ("node_supervisord_state", "Process State", "gauge"),
    ("node_supervisord_exit_status", "Process Exit Status", "gauge"),
    ("node_supervisord_start_time_seconds", "Process start time", "gauge"),
    ("node_supervisord_process_cpu_seconds", "CPU time of the process and its reaped children", "counter"),
    ("node_supervisord_process_resident_memory_bytes", "Resident memory of the process", "gauge"),
    (
        "node_supervisord_restarts",
        "Starts of the process after its first, since the daemon (re)started",
        "counter",
    ),
)
CPU, RSS = (
    4,
    5,
)  # the families whose values change on every scrape (psutil); the others change with a snapshot
STATIC = (0, 1, 2, 3, 6)
SAMPLE_NAMES = tuple(name + "_total" if kind == "counter" else name for name, _, kind in FAMILIES)
Values = tuple[float | None, ...]


def _static_values(snap: ProcessSnapshot, restarts: int) -> Values:
    """The values of the :data:`STATIC` families for one process (None: no sample)."""
    return (
        1 if snap.state in UP_STATES else 0,
        int(snap.state),
        snap.exitstatus,
        int(snap.start) if snap.state is ProcessState.RUNNING else None,
        max(0, restarts - 1),
    )


def _usage_values(snap: ProcessSnapshot, usage: dict[int, tuple[float, int]]) -> tuple[float, int] | None:
    return usage.get(snap.pid) if snap.pid and snap.state in UP_STATES else None


class SupervisordCollector:
    """The supervisord families as prometheus-client metric objects (the reference TextCache matches)."""

    def __init__(self, control: Control, feed: EventFeed, usage: _Usage) -> None:
        self.control = control
        self.feed = feed
        self.usage = usage

    def describe(self) -> list[Any]:
        return []  # else registering would call collect() once

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        kinds = {"gauge": GaugeMetricFamily, "counter": CounterMetricFamily}
        families = [kinds[kind](name, doc, labels=["name", "group"]) for name, doc, kind in FAMILIES]
        snaps: list[ProcessSnapshot] = self.control.snapshots()
        usage = self.usage.current(self.control, _up_pids(snaps))
        for snap in snaps:
            lv = [snap.name, snap.group]
            restarts = self.feed.starts.get((snap.group, snap.name), 0)
            for index, value in zip(STATIC, _static_values(snap, restarts), strict=True):
                if value is not None:
                    families[index].add_metric(lv, value)
            used = _usage_values(snap, usage)
            if used is not None:
                families[CPU].add_metric(lv, used[0])
                families[RSS].add_metric(lv, used[1])
        yield from families


# Processes with memory_max, cpu_max or pids_max: their own cgroup's usage (families present only then).
CGROUP_FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("node_supervisord_cgroup_memory_bytes", "Memory used by the process's own cgroup", "gauge"),
    ("node_supervisord_cgroup_cpu_seconds", "CPU time used by the process's own cgroup", "counter"),
    ("node_supervisord_cgroup_oom_kills", "Processes killed by the memory limit of its cgroup", "counter"),
)


def _cgroup_families(control: Control, snaps: list[ProcessSnapshot]) -> list[Any]:
    """The cgroup families, read on the hub's thread pool; none when no live process has a cgroup."""
    live = [snap for snap in snaps if snap.cgroup is not None]
    if not live:
        return []
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from supervisord.runtime.cgroups import read_usage

    usages = control.offload(read_usage, [snap.cgroup for snap in live])
    kinds = {"gauge": GaugeMetricFamily, "counter": CounterMetricFamily}
    memory, cpu, oom = (
        kinds[kind](name, doc, labels=["name", "group"]) for name, doc, kind in CGROUP_FAMILIES
    )
    for snap, usage in zip(live, usages, strict=True):
        if usage is None:
            continue
        lv = [snap.name, snap.group]
        if usage.memory_bytes is not None:
            memory.add_metric(lv, usage.memory_bytes)
        if usage.cpu_seconds is not None:
            cpu.add_metric(lv, usage.cpu_seconds)
        oom.add_metric(lv, usage.oom_kills)
    return [memory, cpu, oom]


class CgroupCollector:
    """The cgroup families for the reference registry (a scrape encodes them through :class:`_Fixed`)."""

    def __init__(self, control: Control) -> None:
        self.control = control

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        yield from _cgroup_families(self.control, self.control.snapshots())


class _Fixed:
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> list[Any]:
        return self.families


def _up_pids(snaps: list[ProcessSnapshot]) -> list[int]:
    return [s.pid for s in snaps if s.pid and s.state in UP_STATES]


_Entry = tuple[ProcessSnapshot, int, str, tuple[str, ...]]


class TextCache:
    """The supervisord families' text for one encoder, with each process's lines kept until it changes.

    Why: prometheus-client's encoder formats every sample afresh (label escaping, sorting, float formatting:
    about 10 µs each), and 1,000 processes are 7,000 samples, most of a scrape. Here the label text and the
    five snapshot-driven lines of a process are made once per snapshot change, so a scrape formats only the
    two psutil values per process. Everything is derived from the encoder itself (the family headers, each
    process's label text), so the output is the encoder's byte for byte (tests/test_web_metrics.py compares).
    """

    def __init__(self, encoder: Callable[[Any], bytes]) -> None:
        self.encoder = encoder
        self.headers = [self._encode([(name, doc, kind, [])]) for name, doc, kind in FAMILIES]
        self.labels: dict[tuple[str, str], str] = {}
        self.entries: dict[tuple[str, str], _Entry] = {}

    def _encode(self, families: list[tuple[str, str, str, list[tuple[list[str], float]]]]) -> str:
        """The encoder's text for these families alone (without OpenMetrics' closing ``# EOF``)."""
        from prometheus_client import CollectorRegistry
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        made = []
        for name, doc, kind, samples in families:
            family = (GaugeMetricFamily if kind == "gauge" else CounterMetricFamily)(
                name, doc, labels=["name", "group"]
            )
            for lv, value in samples:
                family.add_metric(lv, value)
            made.append(family)

        class Once:
            def collect(self) -> list[Any]:
                return made

        registry = CollectorRegistry(auto_describe=False)
        registry.register(Once())  # type: ignore[arg-type]
        text = self.encoder(registry).decode("utf-8")
        return text.removesuffix("# EOF\n")

    def _learn_labels(self, keys: list[tuple[str, str]]) -> None:
        """The encoder's label text (``{group="g",name="n"}``) of each new process, in one encoder pass."""
        text = self._encode([("x", "x", "gauge", [([name, group], 0) for group, name in keys])])
        lines = [line for line in text.split("\n") if line.startswith("x")]
        for key, line in zip(keys, lines, strict=True):
            self.labels[key] = line[1 : line.rindex(" ")]

    def render(self, snaps: list[ProcessSnapshot], usage: dict[int, tuple[float, int]], starts: Any) -> str:
        from prometheus_client.utils import floatToGoString as go_float

        floatToGoString: Callable[[float], str] = go_float

        missing = [(s.group, s.name) for s in snaps if (s.group, s.name) not in self.labels]
        if missing:
            self._learn_labels(missing)
        blocks: list[list[str]] = [[] for _ in FAMILIES]
        old, fresh = self.entries, {}
        cpu_name, rss_name = SAMPLE_NAMES[CPU], SAMPLE_NAMES[RSS]
        for snap in snaps:
            key = (snap.group, snap.name)
            restarts = starts.get(key, 0)
            entry = old.get(key)
            if entry is None or entry[0] is not snap or entry[1] != restarts:
                label = self.labels[key]
                lines = tuple(
                    "" if value is None else f"{SAMPLE_NAMES[index]}{label} {floatToGoString(value)}\n"
                    for index, value in zip(STATIC, _static_values(snap, restarts), strict=True)
                )
                entry = (snap, restarts, label, lines)
            fresh[key] = entry
            for index, line in zip(STATIC, entry[3], strict=True):
                blocks[index].append(line)
            used = _usage_values(snap, usage)
            if used is not None:
                blocks[CPU].append(f"{cpu_name}{entry[2]} {floatToGoString(used[0])}\n")
                blocks[RSS].append(f"{rss_name}{entry[2]} {floatToGoString(used[1])}\n")
        self.entries = fresh  # processes that are gone drop out here
        if len(self.labels) > 2 * len(fresh) + 64:
            self.labels = {key: self.labels[key] for key in fresh}
        return "".join(header + "".join(block) for header, block in zip(self.headers, blocks, strict=True))


class Metrics:
    """``GET /metrics``: the supervisord families from a :class:`TextCache`, then the ``process_*`` ones.

    The registry holds both collectors, so prometheus-client's own encoder over it gives the same document
    (the reference the cache is tested against); a scrape encodes only the daemon's ``process_*`` that way.
    """

    def __init__(self, control: Control, feed: EventFeed) -> None:
        from prometheus_client import CollectorRegistry, ProcessCollector

        self.control = control
        self.feed = feed
        self.usage = _Usage()
        self.registry = CollectorRegistry(auto_describe=False)  # everything (the reference)
        self.registry.register(SupervisordCollector(control, feed, self.usage))
        self.registry.register(CgroupCollector(control))
        self.own = CollectorRegistry(auto_describe=False)  # the daemon's own metrics, encoded per scrape
        ProcessCollector(registry=self.own)
        self.own.register(EventDropsCollector(control))
        self.registry.register(_Joined(self.own))
        self.caches: dict[str, TextCache] = {}
        self.scrapes = 0

    def render(self, accept: str) -> tuple[bytes, str]:
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(accept)
        cache = self.caches.get(content_type)
        if cache is None:
            cache = self.caches[content_type] = TextCache(encoder)
        snaps: list[ProcessSnapshot] = self.control.snapshots()
        usage = self.usage.current(self.control, _up_pids(snaps))
        text = cache.render(snaps, usage, self.feed.starts)
        return text.encode("utf-8") + self._cgroups(encoder, snaps) + encoder(self.own), content_type

    def _cgroups(self, encoder: Callable[[Any], bytes], snaps: list[ProcessSnapshot]) -> bytes:
        from prometheus_client import CollectorRegistry

        families = _cgroup_families(self.control, snaps)
        if not families:
            return b""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Fixed(families))  # type: ignore[arg-type]
        return encoder(registry).removesuffix(b"# EOF\n")

    def handle(self, req: Request) -> Response:
        started = time.perf_counter()
        body, content_type = self.render(req.headers.get("accept", ""))
        self.scrapes += 1
        elapsed = time.perf_counter() - started
        return Response(200, body, content_type, [("X-Scrape-Seconds", f"{elapsed:.6f}")])


class EventDropsCollector:
    """``supervisord_events_dropped_total{pool=…}``: events a listener pool discarded on buffer overflow.

    Each drop is also one "discarding event" line in the main log, as in Supervisor; the counter makes
    them visible to monitoring. It starts again at 0 when the daemon reloads (a counter reset).
    """

    def __init__(self, control: Control) -> None:
        self.control = control

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        family = CounterMetricFamily(
            "supervisord_events_dropped",
            "Events discarded because a listener pool's buffer_size was exceeded",
            labels=["pool"],
        )
        for pool, count in sorted(self.control.event_drops().items()):
            family.add_metric([pool], count)
        yield family


class _Joined:
    """Another registry's collectors, as one collector of this registry."""

    def __init__(self, registry: Any) -> None:
        self.inner = registry

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        yield from self.inner.collect()
