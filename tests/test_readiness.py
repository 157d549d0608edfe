"""Readiness, health checks, backoff and rolling restarts end to end: the real daemon, real children that
speak sd_notify or serve HTTP, real probes (README "Readiness", "Health checks", "Backoff", "Rolling
restart"). Children wait for a "go" file the test creates, so "still STARTING" is shown by the daemon having
seen something later (a STATUS= line), never by a sleep.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

from harness import wait_for
from rpcutil import free_port, inet_section, wait_ready

LISTENERS = Path(__file__).parent / "listeners.py"

NOTIFY_CHILD = """\
import os, socket, sys, time
go = sys.argv[1]
def say(text):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(text.encode(), "\\0" + os.environ["NOTIFY_SOCKET"][1:])
say("STATUS=waiting for go")
while not os.path.exists(go):
    time.sleep(0.02)
say("READY=1\\nSTATUS=serving")
time.sleep(1000)
"""

HTTP_CHILD = """\
import http.server, os, sys, time
go, port = sys.argv[1], int(sys.argv[2])
while not os.path.exists(go):
    time.sleep(0.02)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/ready" else 404)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def info(server: Any, name: str) -> dict[str, Any]:
    result: dict[str, Any] = server.supervisor.getProcessInfo(name)
    return result


def test_notify_child_is_running_only_on_ready_and_its_dependent_waits(daemon, tmp_path: Path) -> None:
    child = write(tmp_path / "notify_child.py", NOTIFY_CHILD)
    go = tmp_path / "go"
    port = free_port()
    d = daemon(
        f"""
        [program:db]
        command = {sys.executable} {child} {go}
        readiness_check = notify
        startsecs = 60

        [program:web]
        command = sleep 1000
        depends_on = db
        startsecs = 0
        """,
        supervisord=inet_section(port),
    )
    server = wait_ready(port)
    first = wait_for(
        lambda: (i := info(server, "db"))["description"] == "waiting for go" and i,
        what="db's STATUS= shown as its description",
    )
    assert first["statename"] == "STARTING"
    assert info(server, "web")["statename"] == "STOPPED"  # held back: db is not ready
    assert "spawned: 'web'" not in d.log()
    go.touch()
    running = wait_for(
        lambda: (i := info(server, "db"))["statename"] == "RUNNING" and i, what="db RUNNING after READY=1"
    )
    assert re.fullmatch(r"pid \d+, uptime \S+; serving", running["description"]), running
    wait_for(lambda: info(server, "web")["statename"] == "RUNNING", what="web started after db was ready")
    log = d.log()
    assert log.index("success: db entered RUNNING state, process is ready (notify)") < log.index(
        "spawned: 'web'"
    )
    rest = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/program/info/db").read())
    assert rest["status"] == "serving" and rest["statename"] == "RUNNING"
    assert set(info(server, "db")) == set(first)  # Supervisor's struct, no extra fields over XML-RPC
    assert d.stop() == 0


WATCHDOG_CHILD = """\
import os, socket, sys, time
stop, out = sys.argv[1], sys.argv[2]
with open(out, "a") as fh:
    fh.write(os.environ["WATCHDOG_USEC"] + "\\n")
def say(text):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(text.encode(), "\\0" + os.environ["NOTIFY_SOCKET"][1:])
say("READY=1")
while not os.path.exists(stop):
    say("WATCHDOG=1")
    with open(out + ".pings", "a") as fh:
        fh.write("p")
    time.sleep(0.1)
time.sleep(1000)
"""


def test_notify_watchdog_restarts_a_silent_child(daemon, tmp_path: Path) -> None:
    child = write(tmp_path / "watchdog_child.py", WATCHDOG_CHILD)
    stop, out = tmp_path / "stop", tmp_path / "env.txt"
    port = free_port()
    d = daemon(
        f"""
        [program:dog]
        command = {sys.executable} {child} {stop} {out}
        readiness_check = notify
        readiness_watchdog_sec = 2
        startsecs = 30
        """,
        supervisord=inet_section(port),
    )
    server = wait_ready(port)
    wait_for(lambda: info(server, "dog")["statename"] == "RUNNING", what="dog RUNNING")
    first = info(server, "dog")["pid"]
    pings = Path(str(out) + ".pings")
    wait_for(lambda: pings.exists() and len(pings.read_text()) >= 30, what="3 s of pings")
    assert info(server, "dog")["pid"] == first and "WATCHDOG" not in d.log()  # kept alive
    stop.touch()
    d.wait_log(r"health check of dog failed \(no WATCHDOG=1 for 2 s\): restarted")
    wait_for(lambda: info(server, "dog")["pid"] not in (0, first), what="dog restarted")
    assert out.read_text().split()[0] == "2000000"
    assert "no WATCHDOG=1 for 2 s); restarted" in info(server, "dog")["description"]
    assert d.stop() == 0


def test_readiness_deadline_is_startsecs(daemon, tmp_path: Path) -> None:
    child = write(tmp_path / "notify_child.py", NOTIFY_CHILD)
    port = free_port()
    daemon(
        f"""
        [program:slow]
        command = {sys.executable} {child} {tmp_path / "never"}
        readiness_check = notify
        startsecs = 1
        startretries = 0
        """,
        supervisord=inet_section(port),
    )
    server = wait_ready(port)
    fatal = wait_for(lambda: (i := info(server, "slow"))["statename"] == "FATAL" and i, what="slow FATAL")
    assert fatal["spawnerr"] == "not ready within 1 seconds (notify)"


def test_http_readiness_check_gates_running(daemon, tmp_path: Path) -> None:
    child = write(tmp_path / "http_child.py", HTTP_CHILD)
    go = tmp_path / "go"
    port, app_port = free_port(), free_port()
    d = daemon(
        f"""
        [program:app]
        command = {sys.executable} {child} {go} {app_port}
        readiness_check = http://127.0.0.1:{app_port}/ready
        readiness_check_period = 0.2
        startsecs = 60
        """,
        supervisord=inet_section(port),
    )
    server = wait_ready(port)
    d.wait_log(r"readiness check of app: ConnectionError")  # polled, and refused while the app is not up
    assert info(server, "app")["statename"] == "STARTING"
    go.touch()
    wait_for(lambda: info(server, "app")["statename"] == "RUNNING", what="app RUNNING once it answers")
    assert f"process is ready (http://127.0.0.1:{app_port}/ready)" in d.log()
    assert d.stop() == 0


HTTP_POST_CHILD = """\
import http.server, sys
port, token = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        good = self.headers.get("X-Token") == token and body == b"are you ready?\\n"
        self.send_response(200 if good else 403)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def test_http_check_takes_the_go_projects_curl_options(daemon, tmp_path: Path) -> None:
    """``URL -H 'K: V' -d @FILE`` (the Go project's form, quoted values allowed): a POST with that header
    and body. The child answers 403 to anything else, so RUNNING proves both were sent."""
    child = write(tmp_path / "http_post_child.py", HTTP_POST_CHILD)
    body = write(tmp_path / "body.txt", "are you ready?\n")
    port, app_port = free_port(), free_port()
    d = daemon(
        f"""
        [program:app]
        command = {sys.executable} {child} {app_port} "s3 cret"
        readiness_check = http://127.0.0.1:{app_port}/ -H 'X-Token: s3 cret' -d @{body}
        readiness_check_period = 0.2
        startsecs = 60
        [program:wrong]
        command = {sys.executable} {child} {free_port()} right
        readiness_check = http://127.0.0.1:{app_port}/ -H 'X-Token: wrong' -d @{body}
        readiness_check_period = 0.2
        startsecs = 60
        """,
        supervisord=inet_section(port),
    )
    server = wait_ready(port)
    wait_for(lambda: info(server, "app")["statename"] == "RUNNING", what="app RUNNING once it answers 200")
    d.wait_log(r"readiness check of wrong: HTTP 403")  # the same server, the wrong header: refused
    assert info(server, "wrong")["statename"] == "STARTING"
    assert d.stop() == 0


def test_health_check_failing_three_times_restarts_and_is_reported(daemon, tmp_path: Path) -> None:
    healthy, pidfile, probes = tmp_path / "healthy", tmp_path / "pid", tmp_path / "probes.txt"
    healthy.touch()
    events = tmp_path / "events.txt"
    check = (
        f'/bin/sh -c \'p=$(cat {pidfile}); if test -e {healthy}; then echo "ok $p" >> {probes}; '
        f'else echo "fail $p" >> {probes}; exit 1; fi\''
    )
    port = free_port()
    d = daemon(
        f"""
        [program:svc]
        command = /bin/sh -c 'echo $$ > {pidfile}; exec sleep 1000'
        startsecs = 0
        liveness_check_script = {check}
        ; the restarted process is not checked for 2 s: the verdict on the first one stays readable that long
        liveness_check_initial_delay = 2
        liveness_check_period = 0.1
        liveness_check_failure_threshold = 3

        [eventlistener:rec]
        command = {sys.executable} {LISTENERS} record {events}
        events = HEALTH
        """,
        supervisord=inet_section(port),
    )
    server = wait_ready(port)
    wait_for(lambda: "health: passing (exit 0)" in info(server, "svc")["description"], what="passing")
    first = info(server, "svc")["pid"]
    healthy.unlink()
    wait_for(lambda: info(server, "svc")["pid"] not in (0, first), what="svc restarted by its health check")
    of_first = [line.split()[0] for line in probes.read_text().splitlines() if line.endswith(f" {first}")]
    assert of_first.count("fail") == 3 and of_first[-3:] == ["fail"] * 3, of_first  # then restarted
    description = info(server, "svc")["description"]
    assert re.search(r"health: failed at \d\d:\d\d:\d\d \(exit 1\); restarted", description), description
    line = wait_for(lambda: "HEALTH_FAILED" in (t := events.read_text() if events.exists() else "") and t)
    assert f"processname:svc groupname:svc pid:{first} action:restart|exit 1" in line, line
    assert line.startswith("HEALTH_PASSED ")  # the first verdict, then the failure
    assert d.stop() == 0


def test_health_check_failure_action_stop(daemon, tmp_path: Path) -> None:
    port, dead = free_port(), free_port()  # nothing listens on ``dead``
    d = daemon(
        f"""
        [program:svc]
        command = sleep 1000
        startsecs = 0
        liveness_check_script = tcp://127.0.0.1:{dead}
        liveness_check_initial_delay = 0
        liveness_check_period = 0.1
        liveness_check_failure_threshold = 2
        liveness_check_failure_action = stop
        """,
        supervisord=inet_section(port),
    )
    server = wait_ready(port)
    stopped = wait_for(lambda: (i := info(server, "svc"))["statename"] == "STOPPED" and i, what="svc stopped")
    assert re.search(r"; health: failed at \d\d:\d\d:\d\d \(connect: .*\); stopped$", stopped["description"])
    assert "health check of svc failed" in d.log()
    assert d.stop() == 0


def test_custom_backoff_ramp_by_timestamps(daemon, tmp_path: Path) -> None:
    d = daemon(
        """
        [program:flaky]
        command = /bin/false
        startsecs = 1
        startretries = 3
        backoff_initial = 1.5
        backoff_factor = 2
        backoff_max = 3.5
        """
    )
    d.wait_log(r"gave up: flaky entered FATAL state")
    spawned = d.times(r"spawned: 'flaky' with pid")
    assert len(spawned) == 4
    gaps = [b - a for a, b in itertools.pairwise(spawned)]
    # 1.5 s, 3 s, then 6 s capped to 3.5 s (Supervisor's linear ramp: 1 s, 2 s, 3 s).
    assert gaps[0] >= 1.5 and gaps[1] >= 3 and gaps[2] >= 3.5, gaps
    assert gaps[2] < 6, gaps  # capped by backoff_max, whole seconds away from the uncapped 6 s
    assert d.stop() == 0


def test_startretries_forever_keeps_retrying(daemon, tmp_path: Path) -> None:
    d = daemon(
        """
        [program:flaky]
        command = /bin/false
        startsecs = 1
        startretries = forever
        backoff_initial = 0.05
        backoff_factor = 1
        """
    )
    d.wait_log(r"spawned: 'flaky' with pid", count=8)
    assert "gave up" not in d.log()
    assert d.stop() == 0


def _states(server: Any, names: list[str]) -> dict[str, str]:
    return {i["name"]: i["statename"] for i in server.supervisor.getAllProcessInfo() if i["name"] in names}


def test_rolling_restart_keeps_two_of_three_running(daemon, tmp_path: Path) -> None:
    names = ["a", "b", "c"]
    programs = "".join(
        f"[program:{n}]\ncommand = sleep 1000\nstartsecs = 1\nstopwaitsecs = 5\n\n" for n in names
    )
    port = free_port()
    d = daemon(programs + "[group:g]\nprograms = a,b,c\n", supervisord=inet_section(port))
    server = wait_ready(port)
    wait_for(lambda: set(_states(server, names).values()) == {"RUNNING"}, what="all RUNNING")
    before = {n: info(server, f"g:{n}")["pid"] for n in names}
    seen: list[dict[str, str]] = []
    done = threading.Event()

    def poll() -> None:
        poller = wait_ready(port)
        while not done.is_set():
            seen.append(_states(poller, names))

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        ctl = subprocess.run(
            [
                sys.executable,
                "-m",
                "supervisord",
                "ctl",
                "-s",
                f"http://127.0.0.1:{port}",
                "restart",
                "--rolling",
                "g",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        done.set()
        thread.join()
    assert ctl.returncode == 0, ctl.stdout + ctl.stderr
    assert ctl.stdout.splitlines() == ["g:a: restarted", "g:b: restarted", "g:c: restarted"]
    after = {n: info(server, f"g:{n}")["pid"] for n in names}
    assert all(after[n] != before[n] for n in names)
    assert len(seen) > 10
    assert all(sum(state == "RUNNING" for state in snap.values()) >= 2 for snap in seen), seen
    assert any(sum(state == "RUNNING" for state in snap.values()) == 2 for snap in seen)
    assert d.stop() == 0


def test_rolling_restart_stops_at_the_first_failure(daemon, tmp_path: Path) -> None:
    flag = tmp_path / "b-may-start"
    flag.touch()
    port = free_port()
    d = daemon(
        f"""
        [program:a]
        command = sleep 1000
        startsecs = 0
        [program:b]
        command = /bin/sh -c 'test -e {flag} && exec sleep 1000'
        startsecs = 0.5
        startretries = 0
        [program:c]
        command = sleep 1000
        startsecs = 0
        [group:g]
        programs = a,b,c
        """,
        supervisord=inet_section(port),
    )
    server = wait_ready(port)
    wait_for(lambda: set(_states(server, ["a", "b", "c"]).values()) == {"RUNNING"}, what="all RUNNING")
    c_pid = info(server, "g:c")["pid"]
    flag.unlink()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/group/rollingRestart/g", method="POST")
    answer = json.loads(urllib.request.urlopen(request, timeout=60).read())
    assert answer["success"] is False
    by_name = {r["name"]: r for r in answer["results"]}
    assert by_name["a"]["code"] == "SUCCESS"
    assert by_name["b"]["code"] != "SUCCESS"
    assert by_name["c"]["description"] == "FAILED: not restarted (the rolling restart stopped at g:b)"
    assert info(server, "g:c")["pid"] == c_pid
    assert "rolling restart of g stopped at g:b" in d.log()
    spec = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/openapi.json").read())
    assert "/group/rollingRestart/{group}" in spec["paths"]
    assert d.stop() == 0
