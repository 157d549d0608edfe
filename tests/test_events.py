"""Events end to end: real listeners (Supervisor's childutils, superlance) against the real daemon."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
import time
import xmlrpc.client
from pathlib import Path

import pytest
import requests
from harness import wait_for
from prometheus_client.parser import text_string_to_metric_families
from rpcutil import free_port

PY = sys.executable
LISTENERS = Path(__file__).parent / "listeners.py"
SUPERLANCE_BIN = Path(sys.executable).parent


def records(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split(" ", 3) for line in path.read_text().splitlines()]


def per_process(path: Path) -> dict[str, list[str]]:
    """PROCESS_STATE events per process: 'EVENT from_state extra' in order."""
    out: dict[str, list[str]] = {}
    for name, _serial, _poolserial, payload in records(path):
        if not name.startswith("PROCESS_STATE_"):
            continue
        fields = dict(tok.split(":", 1) for tok in payload.split(" "))
        detail = " ".join(f"{k}:{v}" for k, v in fields.items() if k in ("from_state", "tries", "expected"))
        out.setdefault(fields["processname"], []).append(f"{name} {detail}")
    return out


SCENARIO = """
[eventlistener:rec]
command = {py} {listeners} record {out}
events = PROCESS_STATE
buffer_size = 50
[program:quitter]
command = sh -c 'sleep 0.3; exit 3'
startsecs = 0
autorestart = false
[program:crash]
command = sh -c 'exit 1'
; a long startsecs keeps Supervisor's late-reap race (a fast crash seen as RUNNING then EXITED) out of reach
startsecs = 3
startretries = 1
[program:steady]
command = sleep 1000
startsecs = 0
"""


def run_scenario(cmd: list[str], tmp: Path) -> dict[str, list[str]]:
    tmp.mkdir()
    out = tmp / "events.txt"
    conf = tmp / "sv.conf"
    conf.write_text(
        textwrap.dedent(
            f"""\
            [supervisord]
            nodaemon = true
            logfile = {tmp}/sv.log
            pidfile = {tmp}/sv.pid
            childlogdir = {tmp}
            """
        )
        + textwrap.dedent(SCENARIO).format(py=PY, listeners=LISTENERS, out=out)
    )
    proc = subprocess.Popen(
        [*cmd, "-c", str(conf)], cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(
            lambda: (
                "PROCESS_STATE_FATAL" in (out.read_text() if out.exists() else "")
                and "PROCESS_STATE_EXITED" in out.read_text()
            ),
            timeout=20,
            what="FATAL and EXITED events",
        )
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return per_process(out)


def test_childutils_listener_sees_supervisors_sequence(tmp_path: Path) -> None:
    ours = run_scenario([PY, "-m", "supervisord"], tmp_path / "ours")
    theirs = run_scenario([PY, "-m", "supervisor.supervisord"], tmp_path / "theirs")
    for name in ("quitter", "crash"):
        assert ours[name] == theirs[name], name
    assert ours["quitter"] == [
        "PROCESS_STATE_STARTING from_state:STOPPED tries:0",
        "PROCESS_STATE_RUNNING from_state:STARTING",
        "PROCESS_STATE_EXITED from_state:RUNNING expected:0",
    ]
    # steady's shutdown events reach the listener, which is stopped last
    assert (
        ours["steady"][-2:]
        == theirs["steady"][-2:]
        == [
            "PROCESS_STATE_STOPPING from_state:RUNNING",
            "PROCESS_STATE_STOPPED from_state:STOPPING",
        ]
    )


def test_event_envelope_serials_and_group_events(daemon, tmp_path: Path) -> None:
    out = tmp_path / "events.txt"
    d = daemon(
        f"""
        [eventlistener:rec]
        command = {PY} {LISTENERS} record {out}
        events = EVENT
        buffer_size = 100
        [program:one]
        command = sleep 1000
        startsecs = 0
        """
    )
    wait_for(
        lambda: any(r[0] == "PROCESS_STATE_RUNNING" and "processname:one" in r[3] for r in records(out)),
        what="RUNNING of one",
    )
    assert d.stop() == 0
    rows = records(out)
    assert rows[0][:2] == ["PROCESS_GROUP_ADDED", "0"]
    assert {r[3] for r in rows if r[0] == "PROCESS_GROUP_ADDED"} == {"groupname:rec|", "groupname:one|"}
    assert [int(r[1]) for r in rows] == sorted(int(r[1]) for r in rows)  # serials increase
    assert [int(r[2]) for r in rows] == list(range(len(rows)))  # one pool: poolserial counts from 0
    assert "SUPERVISOR_STATE_CHANGE_RUNNING" in [r[0] for r in rows]


def test_listener_dying_mid_event_gets_it_redelivered(daemon, tmp_path: Path) -> None:
    out = tmp_path / "events.txt"
    d = daemon(
        f"""
        [eventlistener:flaky]
        command = {PY} {LISTENERS} failonce {out}
        events = PROCESS_GROUP,SUPERVISOR_STATE_CHANGE_RUNNING
        startsecs = 0
        """
    )
    marker = Path(str(out) + ".failed")
    wait_for(marker.exists, what="the first delivery")
    wait_for(lambda: len(records(out)) >= 2, what="redelivery")
    failed_serial = marker.read_text()
    assert failed_serial in [r[1] for r in records(out)]  # the event it died on came back
    assert d.stop() == 0


def test_garbage_from_listener_leaves_it_unknown_not_respawned(daemon, tmp_path: Path) -> None:
    """Supervisor's rule: a protocol violation makes the listener UNKNOWN until it restarts for its own
    reasons. Respawning it from the pool looped for ever (5,725 spawns in 10 s for a banner before READY)."""
    out = tmp_path / "starts.txt"
    port = free_port()
    d = daemon(
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [eventlistener:bad]
        command = {PY} {LISTENERS} garbage {out}
        events = TICK_5
        startsecs = 0
        """
    )
    d.wait_log(r"bad: has entered the UNKNOWN state")
    rpc = _rpc(port)
    pid = rpc.supervisor.getProcessInfo("bad")["pid"]
    # An absence can only be watched for a while: the old code respawned it within milliseconds.
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        info = rpc.supervisor.getProcessInfo("bad")
        assert (info["statename"], info["pid"]) == ("RUNNING", pid), d.log()
    assert d.count(r"spawned: 'bad'") == 1 and out.read_text().split() == ["started"]
    # a hand restart gives it a fresh protocol state (and it violates it again)
    rpc.supervisor.stopProcess("bad")
    rpc.supervisor.startProcess("bad")
    wait_for(lambda: d.count(r"bad: has entered the UNKNOWN state") == 2, what="the second violation")
    assert rpc.supervisor.getProcessInfo("bad")["pid"] != pid
    assert d.count(r"spawned: 'bad'") == 2
    assert d.stop() == 0


def test_crashmail_sends_mail_for_unexpected_exit(daemon, tmp_path: Path) -> None:
    mail = tmp_path / "mail.txt"
    sendmail = tmp_path / "sendmail"
    sendmail.write_text(f"#!/bin/sh\ncat >> {mail}\n")
    sendmail.chmod(0o755)
    port = free_port()
    d = daemon(
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [eventlistener:crashmail]
        command = {SUPERLANCE_BIN}/crashmail -a -m ops@example.com -s {sendmail}
        events = PROCESS_STATE_EXITED
        [program:crasher]
        command = sh -c 'sleep 1.5; exit 1'
        startsecs = 1
        autorestart = false
        """
    )
    wait_for(lambda: mail.exists() and "exited unexpectedly" in mail.read_text(), timeout=15, what="a mail")
    text = mail.read_text()
    pid = d.pid_of("crasher")
    assert "To: ops@example.com" in text
    assert f"Process crasher in group crasher exited unexpectedly (pid {pid}) from state RUNNING" in text
    assert d.stop() == 0


def _rpc(port: int) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")


def test_memmon_restarts_a_process_over_its_limit(daemon, tmp_path: Path) -> None:
    port = free_port()
    d = daemon(
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [eventlistener:memmon]
        command = {SUPERLANCE_BIN}/memmon -p big=20MB
        events = TICK_5
        [program:big]
        command = {PY} -c "import time; x = bytearray(60 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096]); time.sleep(1000)"
        startsecs = 0
        """
    )
    d.wait_log(r"spawned: 'big'")
    first = d.pid_of("big")
    d.wait_log(r"stopped: big \(terminated by SIGTERM\)", timeout=20)
    wait_for(lambda: d.pid_of("big") != first, what="big to be started again")
    assert d.stop() == 0


@pytest.mark.parametrize("buffer_size", [2000, 10])
def test_pool_of_three_under_a_burst(daemon, tmp_path: Path, buffer_size: int) -> None:
    out = tmp_path / "events.txt"
    port = free_port()
    d = daemon(
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [eventlistener:pool]
        command = {PY} {LISTENERS} record {out}
        process_name = pool_%(process_num)d
        numprocs = 3
        events = REMOTE_COMMUNICATION
        buffer_size = {buffer_size}
        startsecs = 0
        """,
        supervisord="loglevel = info\n",
    )
    rpc = _rpc(port)
    wait_for(
        lambda: all(p["statename"] == "RUNNING" for p in rpc.supervisor.getAllProcessInfo()),
        what="pool RUNNING",
    )
    wait_for(lambda: d.count(r"spawned: 'pool_\d'") == 3, what="3 listeners")
    calls = [
        {"methodName": "supervisor.sendRemoteCommEvent", "params": ["burst", str(i)]} for i in range(1000)
    ]
    rpc.system.multicall(calls)

    def settled() -> bool:
        dropped = d.count(r"pool pool event buffer overflowed, discarding event")
        return len(records(out)) + dropped >= 1000

    wait_for(settled, timeout=30, what="every event delivered or dropped")
    rows = records(out)
    dropped = d.count(r"pool pool event buffer overflowed, discarding event")
    payloads = [r[3] for r in rows]
    assert len(payloads) == len(set(payloads))  # exactly once
    assert len(rows) + dropped == 1000
    if buffer_size >= 1000:
        assert dropped == 0
    poolserials = [int(r[2]) for r in rows]
    assert len(set(poolserials)) == len(poolserials)
    assert d.stop() == 0


def test_log_communication_and_remote_events_reach_a_listener(daemon, tmp_path: Path) -> None:
    out_a, out_b = tmp_path / "a.txt", tmp_path / "b.txt"
    port = free_port()
    d = daemon(
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [eventlistener:a]
        command = {PY} {LISTENERS} record {out_a}
        events = PROCESS_LOG,PROCESS_COMMUNICATION,REMOTE_COMMUNICATION
        buffer_size = 50
        [eventlistener:b]
        command = {PY} {LISTENERS} record {out_b}
        events = REMOTE_COMMUNICATION
        [program:talker]
        command = sh -c 'sleep 1; echo plain-line; printf "<!--XSUPERVISOR:BEGIN-->secret<!--XSUPERVISOR:END-->"; exec sleep 1000'
        stdout_events_enabled = true
        stdout_capture_maxbytes = 1MB
        startsecs = 0
        """
    )
    rpc = _rpc(port)
    wait_for(lambda: any(r[0] == "PROCESS_COMMUNICATION_STDOUT" for r in records(out_a)), what="a comm event")
    wait_for(
        lambda: all(p["statename"] == "RUNNING" for p in rpc.supervisor.getAllProcessInfo()), what="RUNNING"
    )
    assert rpc.supervisor.sendRemoteCommEvent("mytype", "some data") is True
    wait_for(lambda: any(r[0] == "REMOTE_COMMUNICATION" for r in records(out_b)), what="remote event in b")
    wait_for(lambda: any(r[0] == "REMOTE_COMMUNICATION" for r in records(out_a)), what="remote event in a")
    pid = d.pid_of("talker")
    rows_a = records(out_a)
    log = [r for r in rows_a if r[0] == "PROCESS_LOG_STDOUT"]
    assert log and log[0][3].startswith(
        f"processname:talker groupname:talker pid:{pid} channel:stdout|plain-line"
    )
    comm = [r for r in rows_a if r[0] == "PROCESS_COMMUNICATION_STDOUT"]
    assert comm[0][3] == f"processname:talker groupname:talker pid:{pid}|secret"
    remote_a = next(r for r in rows_a if r[0] == "REMOTE_COMMUNICATION")
    remote_b = next(r for r in records(out_b) if r[0] == "REMOTE_COMMUNICATION")
    assert remote_a[3] == remote_b[3] == "type:mytype|some data"
    assert remote_a[1] == remote_b[1]  # one global serial for the event...
    assert remote_b[2] == "0" and remote_a[2] != "0"  # ...and each pool numbers it in its own sequence
    assert d.stop() == 0


def test_every_dropped_event_is_logged_and_counted_in_metrics(daemon, tmp_path: Path) -> None:
    """No silent drop: a flood at a small buffer drops events, and /metrics counts exactly the log's lines."""
    out = tmp_path / "events.txt"
    port = free_port()
    d = daemon(
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [eventlistener:small]
        command = {PY} {LISTENERS} record {out}
        events = REMOTE_COMMUNICATION
        buffer_size = 3
        startsecs = 0
        """,
        supervisord="loglevel = info\n",
    )
    rpc = _rpc(port)
    wait_for(lambda: rpc.supervisor.getProcessInfo("small")["statename"] == "RUNNING", what="the listener")
    calls = [
        {"methodName": "supervisor.sendRemoteCommEvent", "params": ["flood", str(i)]} for i in range(500)
    ]
    rpc.system.multicall(calls)
    discarding = r"pool small event buffer overflowed, discarding event \d+"
    wait_for(lambda: len(records(out)) + d.count(discarding) >= 500, timeout=30, what="every event settled")
    dropped = d.count(discarding)
    assert dropped > 0 and len(records(out)) + dropped == 500

    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    counted = {
        sample.labels["pool"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "supervisord_events_dropped"
        for sample in family.samples
        if sample.name == "supervisord_events_dropped_total"
    }
    assert counted == {"small": dropped}
    promtool = shutil.which("promtool")
    if promtool is not None:
        check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    assert d.stop() == 0


@pytest.mark.parametrize("mode", ["failfirst", "dieevery"])
def test_redelivery_keeps_every_event_once_and_in_order(daemon, tmp_path: Path, mode: str) -> None:
    """FAIL redelivers at the head, and a listener that dies holding an event (with more staged behind it
    at its link) loses none of them: each event is acknowledged once, in the order it was sent."""
    out = tmp_path / "events.txt"
    port = free_port()
    d = daemon(
        f"""
        [inet_http_server]
        port = 127.0.0.1:{port}
        [eventlistener:one]
        command = {PY} {LISTENERS} {mode} {out}
        events = REMOTE_COMMUNICATION
        buffer_size = 200
        startsecs = 0
        autorestart = true
        """,
        supervisord="loglevel = info\n",
    )
    rpc = _rpc(port)
    wait_for(lambda: rpc.supervisor.getProcessInfo("one")["statename"] == "RUNNING", what="the listener")
    total = 40
    calls = [{"methodName": "supervisor.sendRemoteCommEvent", "params": ["t", str(i)]} for i in range(total)]
    rpc.system.multicall(calls)
    wait_for(lambda: len(records(out)) >= total, timeout=60, what="every event acknowledged")
    payloads = [int(r[3].rsplit("|", 1)[-1]) for r in records(out)]
    assert payloads == list(range(total))
    assert d.count("discarding event") == 0
    if mode == "dieevery":
        assert d.count(r"exited: one \(exit status 1") >= total // 5 - 1
    assert d.stop() == 0
