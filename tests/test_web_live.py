"""Live surfaces (issue 11): SSE state events with ids and Last-Event-ID replay, log follow over SSE, and
Prometheus ``/metrics`` checked by prometheus-client's parser and by ``promtool check metrics``."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import Daemon, wait_for
from rpcutil import free_port, inet_section, wait_ready, wait_state
from webutil import SSE, Rest

PROGRAMS = """\
[program:cat]
command = cat
startsecs = 0
stdout_logfile = {tmp}/cat.log
stdout_logfile_maxbytes = 2KB
stdout_logfile_backups = 2

[program:sleeper]
command = sleep 1000
startsecs = 0

[program:crasher]
command = sh -c 'exit 3'
startsecs = 0
autorestart = false
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rest, Any, Daemon, int]]:
    tmp = tmp_path_factory.mktemp("live")
    port = free_port()
    d = Daemon(tmp, PROGRAMS.format(tmp=tmp), supervisord=inet_section(port)).start()
    try:
        server = wait_ready(port)
        for name in ("cat", "sleeper"):
            wait_state(server, name, "RUNNING")
        wait_state(server, "crasher", "EXITED")
        yield Rest(port), server, d, port
    finally:
        d.stop()


def _is(name: str, state: str) -> Any:
    return lambda e: (
        e.get("event") == "state" and e["json"]["name"] == name and e["json"]["statename"] == state
    )


def test_state_changes_arrive_with_ids_and_replay(live: Any) -> None:
    rest, _, _, port = live
    stream = SSE(port, "/events")
    try:
        assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
        first = stream.next()
        assert first["event"] == "snapshot"  # a client without an id starts from the full picture
        names = {p["name"] for p in first["json"]["processes"]}
        assert names == {"cat", "sleeper", "crasher"}
        rest.post("/program/stop/sleeper")
        stopping = stream.until(_is("sleeper", "STOPPING"))
        stopped = stream.until(_is("sleeper", "STOPPED"))
        assert int(stopped["id"]) > int(stopping["id"]) > int(first["id"])
        assert stopped["json"]["from_state"] == "STOPPING"
        assert stopped["json"]["info"]["statename"] in ("STOPPED", "STARTING", "RUNNING")
        rest.post("/program/start/sleeper")
        running = stream.until(_is("sleeper", "RUNNING"))
    finally:
        stream.close()
    # a browser reconnecting with the id it saw last gets exactly what came after
    replay = SSE(port, "/events", {"Last-Event-ID": stopping["id"]})
    try:
        seen = [replay.next()]
        while seen[-1]["id"] != running["id"]:
            seen.append(replay.next())
        assert seen[0]["id"] == stopped["id"]
        assert [int(e["id"]) for e in seen] == list(range(int(stopped["id"]), int(running["id"]) + 1))
        assert all(e["event"] != "snapshot" for e in seen)
    finally:
        replay.close()
    # an id the daemon never gave (or one too old for the ring) gets a snapshot instead
    for bad in ("999999999", "garbage"):
        other = SSE(port, f"/events?lastEventId={bad}")
        try:
            assert other.next()["event"] == "snapshot"
        finally:
            other.close()


def test_log_follow_over_sse_survives_rotation(live: Any) -> None:
    rest, _, d, port = live
    stream = SSE(port, "/program/follow/cat/stdout")
    try:
        assert stream.status == 200
        rest.post("/program/stdin/cat", json={"chars": "first line\n"})
        stream.until(lambda e: e.get("event") == "log" and "first line" in e["json"])
        # 2 KB per file: this rotates the log at least once
        rest.post("/program/stdin/cat", json={"chars": "".join(f"filler {i:04d}\n" for i in range(400))})
        wait_for(lambda: (Path(d.tmp) / "cat.log.1").exists(), what="the log to rotate")
        rest.post("/program/stdin/cat", json={"chars": "after rotation\n"})
        stream.until(lambda e: e.get("event") == "log" and "after rotation" in e["json"])
    finally:
        stream.close()
    missing = SSE(port, "/program/follow/nope/stdout")
    assert missing.status == 404
    missing.close()


def _scrape(rest: Rest) -> tuple[str, dict[tuple[str, str, str], float]]:
    from prometheus_client.parser import text_string_to_metric_families

    resp = rest.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    values: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            if "name" in sample.labels:
                values[(sample.name, sample.labels["group"], sample.labels["name"])] = sample.value
    return resp.text, values


def test_metrics_agree_with_getAllProcessInfo(live: Any) -> None:
    rest, server, _, _ = live
    text, values = _scrape(rest)
    infos = server.supervisor.getAllProcessInfo()
    for info in infos:
        key = (info["group"], info["name"])
        assert values[("node_supervisord_state", *key)] == info["state"]
        assert values[("node_supervisord_exit_status", *key)] == info["exitstatus"]
        assert values[("node_supervisord_up", *key)] == (1 if info["statename"] == "RUNNING" else 0)
        if info["statename"] == "RUNNING":
            assert values[("node_supervisord_start_time_seconds", *key)] == info["start"]
            assert values[("node_supervisord_process_resident_memory_bytes", *key)] > 0
            assert ("node_supervisord_process_cpu_seconds_total", *key) in values
    assert values[("node_supervisord_exit_status", "crasher", "crasher")] == 3
    assert "# TYPE node_supervisord_start_time_seconds gauge" in text
    assert "\nprocess_resident_memory_bytes " in text and "\nprocess_start_time_seconds " in text
    # restarts count the starts after the first
    before = values[("node_supervisord_restarts_total", "cat", "cat")]
    rest.post("/program/restart/cat")
    wait_for(
        lambda: _scrape(rest)[1][("node_supervisord_restarts_total", "cat", "cat")] == before + 1,
        what="the restart counter to move",
    )
    openmetrics = rest.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")


def test_metrics_pass_promtool(live: Any, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus; .ci/run installs it)")
    rest = live[0]
    text = rest.get("/metrics").text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_slow_sse_client_is_dropped_without_holding_up_others() -> None:
    """In-process: a client that stops reading loses its stream once its queue is full; the feed and a
    client that keeps reading go on (the publisher never waits for anyone)."""
    from supervisord.web import feed as feedmod

    live_feed = feedmod.EventFeed(control=None)  # type: ignore[arg-type]
    try:
        slow = live_feed.stream(0, lambda: False)
        assert next(slow).startswith(b"retry")
        fast = live_feed.stream(live_feed.last_id, lambda: False)
        assert next(fast).startswith(b"retry")
        received = 0
        for i in range(feedmod.CLIENT_QUEUE + 10):
            live_feed._emit("supervisor", {"n": i})
            chunk = next(fast)
            assert chunk.startswith(f"id: {live_feed.last_id}\n".encode())
            received += 1
        assert received == feedmod.CLIENT_QUEUE + 10
        assert live_feed.dropped == 1 and len(live_feed.clients) == 1
        # the dropped client's stream ends after what it had queued (the browser then reconnects)
        assert sum(1 for _ in slow) >= 1
    finally:
        live_feed.close()


def test_streams_end_when_the_daemon_restarts(live: Any) -> None:
    """A restart (reload) ends every SSE stream at once; a reconnecting browser gets a snapshot of the new
    run (its ids start again)."""
    rest, server, _, port = live
    stream = SSE(port, "/events")
    try:
        stream.next()  # the snapshot
        assert server.supervisor.restart() is True
        with pytest.raises(AssertionError, match="ended"):
            stream.until(lambda e: False, timeout=10)
    finally:
        stream.close()
    wait_for(lambda: _answers(rest), timeout=30, what="the daemon to come back")
    wait_state(server, "sleeper", "RUNNING")
    again = SSE(port, "/events?lastEventId=5")
    try:
        assert again.next()["event"] in ("snapshot", "group", "supervisor", "state")
    finally:
        again.close()


def _answers(rest: Rest) -> bool:
    try:
        return rest.get("/supervisor/ping").status_code == 200
    except OSError:
        return False


def test_changes_relayed_while_nobody_listened_are_not_replayed_half_told() -> None:
    """In-process: with no client the feed does not ask the actors for infos (a start of 1,000 processes
    must not cost 1,000 more messages), so a client that comes back for those gets a snapshot."""
    from supervisord.web import feed as feedmod

    class Snapshots:
        def snapshots(self) -> list[Any]:
            return []

    live_feed = feedmod.EventFeed(control=Snapshots())  # type: ignore[arg-type]
    try:
        live_feed._emit("state", {"name": "x", "group": "x", "statename": "RUNNING", "info": None})
        stream = live_feed.stream(0, lambda: False)
        assert next(stream).startswith(b"retry")
        assert b"event: snapshot" in next(stream)
        live_feed._emit("state", {"name": "x", "group": "x", "statename": "STOPPED", "info": {"pid": 0}})
        replay = live_feed.stream(1, lambda: False)
        next(replay)
        assert next(replay).startswith(b"id: 2\nevent: state")  # told in full: replayed
    finally:
        live_feed.close()
