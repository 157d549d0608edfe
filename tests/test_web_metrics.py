"""``/metrics``' text cache against prometheus-client's own encoder: byte for byte, in both formats.

The scrape writes the supervisord families from :class:`~supervisord.web.metrics.TextCache` (kept per process
until its snapshot changes) instead of running the encoder over 7,000 samples; these tests hold it to the
encoder's output over the same registry, across changes, removals, odd names and both content types. The
daemon-level checks (promtool, the parser, agreement with getAllProcessInfo) are in tests/test_web_live.py.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import time
from typing import Any

import pytest
from prometheus_client.exposition import choose_encoder

from supervisord.snapshot import ProcessSnapshot
from supervisord.states import ProcessState
from supervisord.web.metrics import Metrics

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


class Snapshots:
    """The control service's two calls the metrics make: the snapshots, and file work (done inline here)."""

    def __init__(self, snaps: list[ProcessSnapshot]) -> None:
        self.snaps = snaps

    def snapshots(self) -> list[ProcessSnapshot]:
        return list(self.snaps)

    @staticmethod
    def offload(fn: Any, *args: Any) -> Any:
        return fn(*args)

    @staticmethod
    def event_drops() -> dict[str, int]:
        return {"pool": 3}


class Feed:
    def __init__(self) -> None:
        self.starts: collections.Counter[tuple[str, str]] = collections.Counter()


def snap(name: str, group: str, state: ProcessState, pid: int = 0, serial: int = 1) -> ProcessSnapshot:
    start = time.time() - 5 if pid else 0.0
    return ProcessSnapshot(name, group, state, pid, start, 0.0, "", 0, "", "", 999, 999, serial)


def supervisord_part(body: bytes) -> bytes:
    """The document up to the daemon's own ``process_*`` families (their CPU figures move between calls)."""
    return body[: body.index(b"# HELP process_")]


@pytest.mark.parametrize("accept", ["", OPENMETRICS])
def test_cached_text_is_the_encoders(accept: str) -> None:
    me = os.getpid()  # a real pid, so the CPU and memory families have samples
    snaps = [
        snap("web", "web", ProcessState.RUNNING, me),
        snap("a", "g", ProcessState.STOPPED),
        snap("b", "g", ProcessState.STARTING, me),
        snap('odd "name" \\ with\nline', "g", ProcessState.EXITED),
        snap("ütf-8 ☃", "grp", ProcessState.FATAL),
    ]
    control, feed = Snapshots(snaps), Feed()
    feed.starts[("web", "web")] = 3
    metrics = Metrics(control, feed)  # type: ignore[arg-type]
    encoder, content_type = choose_encoder(accept)

    def check() -> None:
        body, kind = metrics.render(accept)
        assert kind == content_type
        assert supervisord_part(body) == supervisord_part(encoder(metrics.registry))
        if accept:
            assert body.endswith(b"# EOF\n") and body.count(b"# EOF") == 1

    check()
    check()  # every line from the cache this time
    # A process changes state, one goes, one arrives, another restarts: only those lines are redone.
    snaps[1] = dataclasses.replace(snaps[1], state=ProcessState.RUNNING, pid=me, start=time.time(), serial=2)
    del snaps[2]
    snaps.append(snap("new", "grp", ProcessState.BACKOFF))
    feed.starts[("web", "web")] += 1
    check()
    body, _ = metrics.render(accept)
    assert b'name="b"' not in body and b'group="grp",name="new"' in body


def test_an_empty_daemon_has_the_headers_only() -> None:
    metrics = Metrics(Snapshots([]), Feed())  # type: ignore[arg-type]
    body, _ = metrics.render("")
    assert supervisord_part(body) == supervisord_part(choose_encoder("")[0](metrics.registry))
    assert b"# TYPE node_supervisord_restarts_total counter" in body
