"""Operations keys end to end (README "Cron, hooks, limits and log formats"): real daemon, real children.

cron fires on a seconds schedule; the four hooks run in order with the program's environment and their
timeout is enforced; an rlimit is seen in /proc/PID/limits (cgroup limits: tests/test_cgroups.py); a json
log line parses; a gzip rotation loses no line under a steady writer.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sys
import textwrap
import xmlrpc.client
from pathlib import Path

import pytest
from harness import Daemon, tagged_pids, wait_for
from rpcutil import free_port, inet_section

PY = sys.executable


def rpc_daemon(daemon, body: str) -> tuple[Daemon, xmlrpc.client.ServerProxy]:
    port = free_port()
    d = daemon(inet_section(port) + textwrap.dedent(body))
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
    wait_for(lambda: _ping(proxy), what="the XML-RPC server")
    return d, proxy


def _ping(proxy: xmlrpc.client.ServerProxy) -> bool:
    try:
        return proxy.supervisor.getState()["statename"] == "RUNNING"
    except OSError:
        return False


def state(proxy: xmlrpc.client.ServerProxy, name: str) -> dict:
    info: dict = proxy.supervisor.getProcessInfo(name)
    return info


def test_cron_starts_the_program_on_a_seconds_schedule(daemon, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    d, proxy = rpc_daemon(
        daemon,
        f"""
        [program:job]
        command = /bin/sh -c "date +%%s >> {runs}"
        autostart = false
        autorestart = false
        startsecs = 0
        cron = */1 * * * * *
        cron_timezone = UTC
        """,
    )
    wait_for(lambda: runs.exists() and len(runs.read_text().splitlines()) >= 3, what="three cron runs")
    assert d.count(r"cron: starting job") >= 3
    info = state(proxy, "job")
    assert re.search(r"next run \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", info["description"]), info
    config = {c["name"]: c for c in proxy.supervisor.getAllConfigInfo()}["job"]
    assert config["cron"] == "*/1 * * * * *" and config["cron_timezone"] == "UTC"
    d.stop()


def test_cron_does_not_start_a_running_program(daemon, tmp_path: Path) -> None:
    d, _proxy = rpc_daemon(
        daemon,
        """
        [program:busy]
        command = /bin/sleep 1000
        startsecs = 0
        cron = * * * * * *
        """,
    )
    d.wait_log(r"cron: not starting busy \(RUNNING\)", count=2)
    assert d.count(r"spawned: 'busy'") == 1
    d.stop()


HOOK = "/bin/sh -c 'echo $SUPERVISOR_HOOK $SUPERVISOR_PROCESS_NAME $HOOKVAR $(pwd) >> {out}'"


def test_hooks_run_in_order_with_the_programs_environment(daemon, tmp_path: Path) -> None:
    out = tmp_path / "order.txt"
    work = tmp_path / "work"
    work.mkdir()
    hook = HOOK.format(out=out)
    d, proxy = rpc_daemon(
        daemon,
        f"""
        [program:app]
        command = /bin/sh -c "echo main >> {out}; exec sleep 1000"
        directory = {work}
        environment = HOOKVAR="from-env"
        startsecs = 1
        pre_start_hook = {hook}
        post_start_hook = {hook}
        pre_stop_hook = {hook}
        post_stop_hook = {hook}
        """,
    )
    wait_for(lambda: out.exists() and "post_start" in out.read_text(), what="post_start_hook")
    assert state(proxy, "app")["statename"] == "RUNNING"
    proxy.supervisor.stopProcess("app")
    wait_for(lambda: "post_stop" in out.read_text(), what="post_stop_hook")
    lines = out.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["pre_start", "main", "post_start", "pre_stop", "post_stop"]
    for line in lines[:1] + lines[2:]:
        assert line.split()[1:] == ["app", "from-env", str(work)], line
    config = {c["name"]: c for c in proxy.supervisor.getAllConfigInfo()}["app"]
    assert config["pre_start_hook"] == hook and config["hook_timeout"] == 60
    out.unlink()
    proxy.supervisor.startProcess("app")  # waits for RUNNING; then the daemon's shutdown stops it
    # post_start_hook runs after RUNNING, beside the program: a stop before it has written would race it
    wait_for(lambda: out.exists() and "post_start" in out.read_text(), what="second post_start_hook")
    d.stop()
    assert [line.split()[0] for line in out.read_text().splitlines()] == [
        "pre_start",
        "main",
        "post_start",
        "pre_stop",
        "post_stop",
    ]


def test_a_failing_pre_start_hook_fails_the_start_with_its_reason(daemon, tmp_path: Path) -> None:
    d, proxy = rpc_daemon(
        daemon,
        """
        [program:guarded]
        command = /bin/sleep 1000
        autostart = false
        startretries = 0
        pre_start_hook = /bin/sh -c "exit 3"
        """,
    )
    with pytest.raises(xmlrpc.client.Fault) as fault:
        proxy.supervisor.startProcess("guarded")
    assert "SPAWN_ERROR" in fault.value.faultString
    info = state(proxy, "guarded")
    assert info["statename"] == "FATAL"
    assert info["spawnerr"] == "pre_start_hook exit status 3", info
    assert d.count(r"spawned: 'guarded'") == 0
    d.stop()


def test_a_hook_is_killed_at_its_timeout(daemon, tmp_path: Path) -> None:
    d, proxy = rpc_daemon(
        daemon,
        f"""
        [program:slow]
        command = /bin/sleep 1000
        startretries = 0
        hook_timeout = 1
        pre_start_hook = {PY} -c "import time; time.sleep(300)"
        """,
    )
    wait_for(lambda: state(proxy, "slow")["statename"] == "FATAL", timeout=15, what="FATAL after the timeout")
    assert state(proxy, "slow")["spawnerr"] == "pre_start_hook timed out after 1 s (killed)"
    assert not [p for p in tagged_pids(d.tag) if "time.sleep(300)" in _cmdline(p)], "the hook survived"
    d.stop()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _limits(pid: int) -> dict[str, tuple[str, str]]:
    out = {}
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]:
        parts = re.split(r"\s{2,}", line.strip())
        out[parts[0]] = (parts[1], parts[2])
    return out


def test_rlimits_are_set_in_the_child(daemon, tmp_path: Path) -> None:
    d, proxy = rpc_daemon(
        daemon,
        """
        [program:limited]
        command = /bin/sleep 1000
        startsecs = 0
        rlimit_nofile = 123
        rlimit_core = 0
        rlimit_as = unlimited
        """,
    )
    wait_for(lambda: state(proxy, "limited")["statename"] == "RUNNING", what="RUNNING")
    pid = state(proxy, "limited")["pid"]
    # Same pid, the program itself once the wrapper has exec'd it.
    wait_for(lambda: _cmdline(pid).split() == ["/bin/sleep", "1000"], what="the wrapper to exec the program")
    limits = _limits(pid)
    assert limits["Max open files"] == ("123", "123")
    assert limits["Max core file size"] == ("0", "0")
    assert limits["Max address space"] == ("unlimited", "unlimited")
    d.stop()


def test_json_log_lines_parse(daemon, tmp_path: Path) -> None:
    log = tmp_path / "app.json"
    talker = tmp_path / "talker.py"
    talker.write_text("import sys\nprint('hello')\nprint('wörld \"quoted\"')\nsys.stdout.write('tail')\n")
    d, _proxy = rpc_daemon(
        daemon,
        f"""
        [program:talker]
        command = {PY} {talker}
        autorestart = false
        startsecs = 0
        stdout_logfile = {log}
        stdout_log_format = json
        """,
    )
    wait_for(lambda: log.exists() and len(log.read_text().splitlines()) >= 3, what="three json lines")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["line"] for r in records] == ["hello", 'wörld "quoted"', "tail"]
    assert {(r["program"], r["process"], r["stream"]) for r in records} == {("talker", "talker", "stdout")}
    assert [r.get("partial", False) for r in records] == [False, False, True]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", r["time"]) for r in records)
    d.stop()


WRITER = """
import sys, time
n = 0
while n < 20000:
    for _ in range(200):
        sys.stdout.write("line %06d %s\\n" % (n, "x" * 40))
        n += 1
    sys.stdout.flush()
    time.sleep(0.005)
print("done", flush=True)
time.sleep(1000)
"""


def test_gzip_rotation_loses_no_line_under_a_steady_writer(daemon, tmp_path: Path) -> None:
    writer = tmp_path / "writer.py"
    writer.write_text(WRITER)
    log = tmp_path / "steady.log"
    d, _proxy = rpc_daemon(
        daemon,
        f"""
        [program:steady]
        command = {PY} {writer}
        startsecs = 0
        stdout_logfile = {log}
        stdout_logfile_maxbytes = 64KB
        stdout_logfile_backups = 100
        stdout_logfile_compress = gzip
        """,
    )

    def finished() -> bool:
        try:  # a rotation renames the file away for a moment before it opens the new one
            return "done" in log.read_text()
        except FileNotFoundError:
            return False

    wait_for(finished, timeout=60, what="the writer to finish")

    def settled() -> bool:
        names = os.listdir(tmp_path)
        return not [n for n in names if re.fullmatch(r"steady\.log\.\d+(\.gz\.tmp)?", n)]

    wait_for(settled, what="every rotated file to be compressed")
    backups = sorted(
        (p for p in tmp_path.iterdir() if re.fullmatch(r"steady\.log\.\d+\.gz", p.name)),
        key=lambda p: -int(p.name.split(".")[2]),
    )
    assert len(backups) > 10
    text = b"".join(gzip.decompress(p.read_bytes()) for p in backups) + log.read_bytes()
    numbers = [int(line.split()[1]) for line in text.decode().splitlines() if line.startswith("line ")]
    assert numbers == list(range(20000))
    d.stop()


def test_a_stuck_pre_stop_hook_delays_the_stop_only_until_its_timeout(daemon, tmp_path: Path) -> None:
    d, proxy = rpc_daemon(
        daemon,
        f"""
        [program:stuck]
        command = /bin/sleep 1000
        startsecs = 0
        hook_timeout = 1
        pre_stop_hook = {PY} -c "import time; time.sleep(300)"
        """,
    )
    wait_for(lambda: state(proxy, "stuck")["statename"] == "RUNNING", what="RUNNING")
    assert proxy.supervisor.stopProcess("stuck") is True  # waits for STOPPED: after the hook was killed
    assert state(proxy, "stuck")["statename"] == "STOPPED"
    d.wait_log(r"pre_stop_hook failed: timed out after 1 s \(killed\) of stuck")
    assert not [p for p in tagged_pids(d.tag) if "time.sleep(300)" in _cmdline(p)], "the hook survived"
    d.stop()
