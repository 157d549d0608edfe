"""Prometheus ``GET /metrics``: node_exporter's supervisord names, read from the actors at scrape time.

One registry of our own (never the global one) with a collector that takes every snapshot in one ask to the
supervisor actor, so a scrape costs one message plus work proportional to the process count; removed
programs simply vanish. ``node_supervisord_start_time_seconds`` is a gauge, as prometheus-client would rename
a counter to ``…_total`` (architecture.md §0.13). Per-process CPU and memory come from psutil, read on the
hub's thread pool; the daemon's own ``process_*`` come from prometheus-client's ProcessCollector.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from supervisord.states import ProcessState
from supervisord.web.routing import Request, Response

if TYPE_CHECKING:
    from supervisord.control import Control
    from supervisord.snapshot import ProcessSnapshot
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


class SupervisordCollector:
    def __init__(self, control: Control, feed: EventFeed) -> None:
        self.control = control
        self.feed = feed
        self.usage = _Usage()

    def describe(self) -> list[Any]:
        return []  # else registering would call collect() once

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        labels = ["name", "group"]
        up = GaugeMetricFamily("node_supervisord_up", "Process Up", labels=labels)
        state = GaugeMetricFamily("node_supervisord_state", "Process State", labels=labels)
        exit_status = GaugeMetricFamily("node_supervisord_exit_status", "Process Exit Status", labels=labels)
        start_time = GaugeMetricFamily(
            "node_supervisord_start_time_seconds", "Process start time", labels=labels
        )
        cpu = CounterMetricFamily(
            "node_supervisord_process_cpu_seconds",
            "CPU time of the process and its reaped children",
            labels=labels,
        )
        rss = GaugeMetricFamily(
            "node_supervisord_process_resident_memory_bytes", "Resident memory of the process", labels=labels
        )
        restarts = CounterMetricFamily(
            "node_supervisord_restarts",
            "Starts of the process after its first, since the daemon (re)started",
            labels=labels,
        )
        snaps: list[ProcessSnapshot] = self.control.snapshots()
        running = [s.pid for s in snaps if s.pid and s.state in UP_STATES]
        usage = self.usage.current(self.control, running)
        for snap in snaps:
            lv = [snap.name, snap.group]
            up.add_metric(lv, 1 if snap.state in UP_STATES else 0)
            state.add_metric(lv, int(snap.state))
            exit_status.add_metric(lv, snap.exitstatus)
            if snap.state is ProcessState.RUNNING:
                start_time.add_metric(lv, int(snap.start))
            if snap.pid in usage and snap.state in UP_STATES:
                seconds, resident = usage[snap.pid]
                cpu.add_metric(lv, seconds)
                rss.add_metric(lv, resident)
            restarts.add_metric(lv, max(0, self.feed.starts.get((snap.group, snap.name), 0) - 1))
        yield from (up, state, exit_status, start_time, cpu, rss, restarts)


class Metrics:
    def __init__(self, control: Control, feed: EventFeed) -> None:
        from prometheus_client import CollectorRegistry, ProcessCollector

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SupervisordCollector(control, feed))
        ProcessCollector(registry=self.registry)
        self.scrapes = 0

    def handle(self, req: Request) -> Response:
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(req.headers.get("accept", ""))
        started = time.perf_counter()
        body = encoder(self.registry)
        self.scrapes += 1
        elapsed = time.perf_counter() - started
        return Response(200, body, content_type, [("X-Scrape-Seconds", f"{elapsed:.6f}")])
