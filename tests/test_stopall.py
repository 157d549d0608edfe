"""Stopping many processes in one request: every stop told at once, the replies gathered in one go.

End to end with the real daemon and real children (200 of them), plus the gathering primitive on its own.
"""

from __future__ import annotations

import re
import textwrap
import threading
import time
from pathlib import Path

import pykka
import pytest
from harness import tagged_pids, wait_for
from rpcutil import free_port, inet_section, proxy

from supervisord.actors.messages import Outcome
from supervisord.runtime.gather import Gather

N = 200


def _all_in(server, state: str, n: int) -> bool:
    infos = server.supervisor.getAllProcessInfo()
    return len(infos) == n and all(i["statename"] == state for i in infos)


def test_stop_all_of_200_answers_each_once_and_logs_each_stop(daemon) -> None:
    port = free_port()
    d = daemon(
        inet_section(port)
        + textwrap.dedent(
            f"""
        [program:s]
        command = sleep 1000
        process_name = s%(process_num)03d
        numprocs = {N}
        startsecs = 0
        """
        )
    )
    server = proxy(port)
    wait_for(lambda: _all_in(server, "RUNNING", N), 60, what="200 RUNNING")
    pids = {i["name"]: i["pid"] for i in server.supervisor.getAllProcessInfo() if i["group"] == "s"}

    results = server.supervisor.stopProcessGroup("s")

    # One result per process, each Supervisor's struct, and by the time the call returns each is STOPPED.
    assert sorted(r["name"] for r in results) == sorted(pids)
    assert all(r == {"name": r["name"], "group": "s", "status": 80, "description": "OK"} for r in results)
    infos = [i for i in server.supervisor.getAllProcessInfo() if i["group"] == "s"]
    assert {i["statename"] for i in infos} == {"STOPPED"}
    # Each stop logged once, with Supervisor's words, and every child reaped (no zombie, nothing left).
    for name in pids:
        assert d.count(rf"^stopped: {name} \(terminated by SIGTERM\)$") == 1, name
    alive = set(tagged_pids(d.tag)) - {d.proc.pid if d.proc else 0}
    assert not alive & set(pids.values())
    assert d.stop() == 0


def test_stop_all_answers_immediate_ones_first_then_in_completion_order(daemon, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    port = free_port()
    d = daemon(
        inet_section(port)
        + textwrap.dedent(
            f"""
        [program:a_stubborn]
        command = sh -c "trap '' TERM; touch {ready}; while true; do sleep 0.1; done"
        startsecs = 0
        stopwaitsecs = 3
        priority = 1
        [program:b_quick]
        command = sleep 1000
        startsecs = 0
        priority = 2
        [program:c_backoff]
        command = false
        startsecs = 5
        startretries = 1000
        priority = 3
        """
        )
    )
    server = proxy(port)
    wait_for(ready.exists, what="the TERM trap")
    wait_for(
        lambda: server.supervisor.getProcessInfo("c_backoff")["statename"] == "BACKOFF", 20, what="BACKOFF"
    )

    started = time.monotonic()
    results = server.supervisor.stopAllProcesses()
    took = time.monotonic() - started

    # BACKOFF stops at once (no signal): first. Then in the order they stopped: the quick one, then the one
    # that ignored SIGTERM and was killed after stopwaitsecs, with "waiting for" logged while it lingered.
    assert [r["name"] for r in results] == ["c_backoff", "b_quick", "a_stubborn"]
    assert all(r["status"] == 80 and r["description"] == "OK" for r in results)
    assert took >= 3
    assert d.count(r"^waiting for a_stubborn to stop$") >= 1
    assert d.count(r"^killing 'a_stubborn' \(\d+\) with SIGKILL$") == 1
    assert d.count(r"^stopped: a_stubborn \(terminated by SIGKILL\)$") == 1
    assert {i["statename"] for i in server.supervisor.getAllProcessInfo()} == {"STOPPED"}
    assert d.stop() == 0


def test_stop_all_without_waiting_answers_at_once_and_still_stops_everything(daemon) -> None:
    port = free_port()
    d = daemon(
        inet_section(port)
        + textwrap.dedent(
            """
        [program:w]
        command = sleep 1000
        process_name = w%(process_num)d
        numprocs = 5
        startsecs = 0
        """
        )
    )
    server = proxy(port)
    wait_for(lambda: _all_in(server, "RUNNING", 5), 20, what="5 RUNNING")
    results = server.supervisor.stopAllProcesses(False)
    assert sorted(r["name"] for r in results) == [f"w{n}" for n in range(5)]
    assert all(r == {"name": r["name"], "group": "w", "status": 80, "description": "OK"} for r in results)
    wait_for(lambda: _all_in(server, "STOPPED", 5), 20, what="5 STOPPED")
    d.wait_log(r"^stopped: w\d \(terminated by SIGTERM\)$", count=5)
    # Nothing running any more: a second stopAll has nothing to stop.
    assert server.supervisor.stopAllProcesses() == []
    assert d.stop() == 0


# -- the gathering primitive --


def test_gather_orders_immediate_answers_by_member_then_deferred_ones_by_completion() -> None:
    gather = Gather(4)
    slots = [gather.slot(i) for i in range(4)]
    slots[3].answer(Outcome(done=slots[3]))  # deferred
    slots[1].answer(Outcome(done=slots[1]))  # deferred
    slots[2].answer(Outcome("NOT_RUNNING", "x"))  # immediate failure
    slots[0].answer(Outcome())  # immediate success
    assert sorted(gather.waiting()) == [1, 3]
    with pytest.raises(pykka.Timeout):
        gather.done.get(timeout=0)
    slots[1].set(Outcome())
    slots[3].set(Outcome())
    gather.done.get(timeout=1)
    assert [(i, o.fault) for i, o in gather.results()] == [
        (0, None),
        (2, "NOT_RUNNING"),
        (1, None),
        (3, None),
    ]
    assert gather.pending() == [] and gather.waiting() == []


def test_gather_ignores_a_second_answer_and_a_set_that_was_not_deferred() -> None:
    gather = Gather(2)
    a, b = gather.slot(0), gather.slot(1)
    a.set(Outcome("FAILED"))  # not deferred: its answer is its outcome
    a.answer(Outcome())
    a.answer(Outcome("FAILED"))  # answered already
    b.answer(Outcome(done=b))
    b.set(Outcome())
    b.set(Outcome("FAILED"))  # finished already
    gather.done.get(timeout=1)
    assert [(i, o.fault) for i, o in gather.results()] == [(0, None), (1, None)]


def test_gather_fail_settles_a_member_that_never_answers_and_a_late_answer_is_dropped() -> None:
    gather = Gather(3)
    s = [gather.slot(i) for i in range(3)]
    s[0].answer(Outcome())
    s[1].answer(Outcome(done=s[1]))
    gather.fail(2, Outcome("SHUTDOWN_STATE"))  # its actor died before it answered
    gather.fail(1, Outcome("SHUTDOWN_STATE"))  # died while stopping
    gather.done.get(timeout=1)
    s[2].answer(Outcome())
    s[1].set(Outcome())
    assert [(i, o.fault) for i, o in gather.results()] == [
        (0, None),
        (1, "SHUTDOWN_STATE"),
        (2, "SHUTDOWN_STATE"),
    ]


def test_gather_of_nothing_is_done_and_many_threads_settle_it_once() -> None:
    assert Gather(0).done.get(timeout=0) is None
    n = 500
    gather = Gather(n)
    slots = [gather.slot(i) for i in range(n)]

    def member(i: int) -> None:
        slots[i].answer(Outcome(done=slots[i]))
        slots[i].set(Outcome())

    threads = [threading.Thread(target=member, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gather.done.get(timeout=5)
    assert sorted(i for i, _ in gather.results()) == list(range(n))


def test_stop_group_names_every_process_it_stopped(daemon) -> None:
    """stopProcessGroup goes the same way: one struct per member, none for other groups."""
    port = free_port()
    d = daemon(
        inet_section(port)
        + textwrap.dedent(
            """
        [program:g]
        command = sleep 1000
        process_name = g%(process_num)d
        numprocs = 3
        startsecs = 0
        [program:other]
        command = sleep 1000
        startsecs = 0
        """
        )
    )
    server = proxy(port)
    wait_for(lambda: _all_in(server, "RUNNING", 4), 20, what="4 RUNNING")
    results = server.supervisor.stopProcessGroup("g")
    assert sorted(r["name"] for r in results) == ["g0", "g1", "g2"]
    assert server.supervisor.getProcessInfo("other")["statename"] == "RUNNING"
    assert re.search(r"stopped: g0 \(terminated by SIGTERM\)", d.log())
    assert d.stop() == 0


# -- the I/O loop: a burst of requests (a stop arms a timer and releases pipes per process) --


def test_a_burst_of_loop_requests_wakes_the_loop_once_and_all_of_them_run() -> None:
    from supervisord.runtime.ioloop import IOLoop

    loop = IOLoop()
    wakes = []
    real_wake = loop._wake
    loop._wake = lambda: (wakes.append(1), real_wake())  # type: ignore[method-assign]
    fired: list[int] = []
    now = time.monotonic()
    timers = [loop.call_at(now, lambda n=n: fired.append(n)) for n in range(100)]
    closed = threading.Event()
    loop.close_writer(-1, closed.set)
    assert len(wakes) == 1  # the first request woke it; the other 100 rode along
    loop.start()
    try:
        wait_for(lambda: len(fired) == 100 and closed.is_set(), 10, what="every queued request to run")
        assert sorted(fired) == list(range(100))
        loop.call_at(time.monotonic(), lambda: fired.append(100))  # the queue was drained: wakes again
        wait_for(lambda: len(fired) == 101, 10, what="a later request to run")
        assert len(wakes) == 2
    finally:
        loop.stop()
    assert all(not t.cancelled for t in timers)


# -- the main log: a stop of many logs a line per process, to the file and to stdout --


def test_one_record_is_formatted_once_for_every_handler(tmp_path: Path) -> None:
    import logging

    from supervisord.mainlog import RotatingLogHandler, SupervisorFormatter

    formatter = SupervisorFormatter()
    made: list[str] = []
    real = formatter._line
    formatter._line = lambda record: made.append(record.getMessage()) or real(record)  # type: ignore[method-assign]
    logger = logging.getLogger("test_stopall.once")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    files = [tmp_path / "a.log", tmp_path / "b.log"]
    handlers = [RotatingLogHandler(str(path), 0, 0) for path in files]
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    try:
        logger.info("stopped: x (terminated by SIGTERM)")
        logger.info("stopped: x (terminated by SIGTERM)")  # the same words, a new record: a new line
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
    assert made == ["stopped: x (terminated by SIGTERM)"] * 2
    texts = [path.read_text() for path in files]
    assert texts[0] == texts[1]
    assert re.fullmatch(
        r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO stopped: x \(terminated by SIGTERM\)\n){2}", texts[0]
    )
