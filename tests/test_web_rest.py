"""The JSON REST API (issue 11), against the real daemon with ``requests``: every route and every error."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import Daemon, wait_for
from rpcutil import free_port, inet_section, wait_ready, wait_state
from webutil import Rest

JSON = "application/json; charset=utf-8"
PROGRAMS = """\
[program:cat]
command = cat
startsecs = 0
stdout_logfile = {tmp}/cat.log
stderr_logfile = NONE

[program:sleeper]
command = sleep 1000
startsecs = 0

[program:idle]
command = sleep 1000
startsecs = 0
autostart = false

[program:slow]
command = sleep 1000
startsecs = 1
autostart = false

[group:pair]
programs = one,two

[program:one]
command = sleep 1000
startsecs = 0

[program:two]
command = sleep 1000
startsecs = 0
"""


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rest, Any, Daemon]]:
    tmp = tmp_path_factory.mktemp("rest")
    port = free_port()
    d = Daemon(tmp, PROGRAMS.format(tmp=tmp), supervisord=inet_section(port)).start()
    try:
        server = wait_ready(port)
        for name in ("cat", "sleeper", "pair:one", "pair:two"):
            wait_state(server, name, "RUNNING")
        yield Rest(port), server, d
    finally:
        d.stop()


def _error(resp: Any, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == JSON
    body = resp.json()
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"]
    return str(body["error"])


def test_list_matches_getAllProcessInfo(web: Any) -> None:
    rest, server, _ = web
    resp = rest.get("/program/list")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == JSON
    ours = {(p["group"], p["name"]): p for p in resp.json()}
    theirs = {(p["group"], p["name"]): p for p in server.supervisor.getAllProcessInfo()}
    assert ours.keys() == theirs.keys()
    for key, info in theirs.items():
        # Supervisor's fields, plus the REST extras: readiness status, health verdict, last watch/cron note
        assert set(ours[key]) == set(info) | {"status", "health", "note"}
        for field in ("state", "statename", "pid", "start", "logfile", "stderr_logfile"):
            assert ours[key][field] == info[field]


def test_info_by_name_node_and_errors(web: Any) -> None:
    rest, server, _ = web
    info = rest.get("/program/info/pair:one").json()
    assert info["name"] == "one" and info["group"] == "pair" and info["statename"] == "RUNNING"
    assert info["pid"] == server.supervisor.getProcessInfo("pair:one")["pid"]
    assert rest.get("/program/info/supervisor/cat").json()["name"] == "cat"  # the local node's identifier
    _error(rest.get("/program/info/nope"), 404, "BAD_NAME")
    _error(rest.get("/program/info/othernode/cat"), 404, "BAD_NAME")
    _error(rest.get("/program/info/pair:*"), 404, "BAD_NAME")  # a group is not one process
    _error(rest.get("/program/nothing-here"), 404, "UNKNOWN_METHOD")
    resp = rest("DELETE", "/program/list")
    _error(resp, 405, "UNKNOWN_METHOD")
    assert "GET" in resp.headers["Allow"]


def test_stop_start_restart_and_conflicts(web: Any) -> None:
    rest, server, _ = web
    assert rest.post("/program/stop/sleeper").json() == {"success": True}
    assert server.supervisor.getProcessInfo("sleeper")["statename"] == "STOPPED"
    _error(rest.post("/program/stop/sleeper"), 409, "NOT_RUNNING")
    assert rest("PUT", "/program/start/sleeper").json() == {"success": True}
    pid = server.supervisor.getProcessInfo("sleeper")["pid"]
    assert pid > 0
    _error(rest.post("/program/start/sleeper"), 409, "ALREADY_STARTED")
    _error(rest.post("/program/start/nope"), 404, "BAD_NAME")
    _error(rest.post("/program/start/sleeper?wait=perhaps"), 400, "BAD_ARGUMENTS")
    _error(rest.get("/program/start/sleeper"), 405, "UNKNOWN_METHOD")
    assert rest.post("/program/restart/supervisor/sleeper").json() == {"success": True}
    assert server.supervisor.getProcessInfo("sleeper")["pid"] not in (0, pid)
    _error(rest.post("/program/restart/othernode/sleeper"), 404, "BAD_NAME")
    # restart of a stopped process starts it
    rest.post("/program/stop/idle")
    assert rest.post("/program/restart/idle").json() == {"success": True}
    assert server.supervisor.getProcessInfo("idle")["statename"] == "RUNNING"
    assert rest.post("/program/stop/idle?wait=false").json() == {"success": True}
    wait_state(server, "idle", "STOPPED")


def test_start_and_stop_programs(web: Any) -> None:
    rest, server, _ = web
    body = rest.post(
        "/program/stopPrograms", json=[{"node": "supervisor", "program": "pair:one"}, "pair:two"]
    )
    assert body.status_code == 200 and body.headers["Content-Type"] == JSON
    result = body.json()
    assert result["success"] is True
    assert sorted(r["name"] for r in result["results"]) == ["one", "two"]
    assert all(r["code"] == "SUCCESS" and r["status"] == 80 for r in result["results"])
    assert server.supervisor.getProcessInfo("pair:one")["statename"] == "STOPPED"
    started = rest.post("/program/startPrograms", json=["pair:one", "pair:two", "cat"]).json()
    assert [r["name"] for r in started["results"]] == ["one", "two"]  # cat already runs: not touched
    assert server.supervisor.getProcessInfo("pair:two")["statename"] == "RUNNING"
    # bad bodies change nothing
    _error(rest.post("/program/stopPrograms", data=b"not json"), 400, "BAD_ARGUMENTS")
    _error(rest.post("/program/stopPrograms", json={"program": "cat"}), 400, "BAD_ARGUMENTS")
    _error(rest.post("/program/stopPrograms", json=[]), 400, "BAD_ARGUMENTS")
    _error(rest.post("/program/stopPrograms", json=[1, 2]), 400, "BAD_ARGUMENTS")
    _error(rest.post("/program/stopPrograms", json=["cat", "nope"]), 404, "BAD_NAME")
    _error(
        rest.post("/program/stopPrograms", json=[{"node": "elsewhere", "program": "cat"}]), 404, "BAD_NAME"
    )
    _error(
        rest.post("/program/stopPrograms", data=b"[" + b'"cat",' * 300_000 + b'"cat"]'), 413, "BAD_ARGUMENTS"
    )
    assert server.supervisor.getProcessInfo("cat")["statename"] == "RUNNING"


def test_group_and_all(web: Any) -> None:
    rest, server, _ = web
    result = rest.post("/group/stop/pair").json()
    assert result["success"] and {r["name"] for r in result["results"]} == {"one", "two"}
    assert server.supervisor.getProcessInfo("pair:one")["statename"] == "STOPPED"
    assert rest.post("/group/stop/pair").json() == {"success": True, "results": []}
    result = rest.post("/group/start/pair").json()
    assert [r["name"] for r in result["results"]] == ["one", "two"]
    _error(rest.post("/group/start/nope"), 404, "BAD_NAME")
    rest.post("/program/stopAll")
    assert all(p["statename"] == "STOPPED" for p in server.supervisor.getAllProcessInfo())
    result = rest.post("/program/startAll").json()
    assert result["success"] and len(result["results"]) == 6
    assert all(p["statename"] == "RUNNING" for p in server.supervisor.getAllProcessInfo())
    rest.post("/program/stopPrograms", json=["idle", "slow"])


def test_signal(web: Any) -> None:
    rest, server, _ = web
    pid = server.supervisor.getProcessInfo("sleeper")["pid"]
    assert rest.post("/program/signal/sleeper", json={"signal": "STOP"}).json() == {"success": True}
    wait_for(lambda: _proc_state(pid) == "T", what="sleeper to be stopped by SIGSTOP")
    assert rest.post("/program/signal/sleeper?signal=CONT").json() == {"success": True}
    wait_for(lambda: _proc_state(pid) == "S", what="sleeper to continue")
    _error(rest.post("/program/signal/sleeper", json={"signal": "NOPE"}), 400, "BAD_SIGNAL")
    _error(rest.post("/program/signal/sleeper"), 400, "BAD_ARGUMENTS")
    _error(rest.post("/program/signal/idle?signal=HUP"), 409, "NOT_RUNNING")
    _error(rest.post("/program/signal/nope?signal=HUP"), 404, "BAD_NAME")


def _proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    return data[data.rfind(b")") + 2 :][:1].decode()


def test_stdin_logs_and_clear(web: Any) -> None:
    rest, _, d = web
    logfile = Path(d.tmp) / "cat.log"
    assert rest.post("/program/stdin/cat", json={"chars": "hello rest\n"}).json() == {"success": True}
    wait_for(lambda: b"hello rest\n" in logfile.read_bytes(), what="cat to echo")
    _error(rest.post("/program/stdin/cat", json={"text": "x"}), 400, "BAD_ARGUMENTS")
    _error(rest.post("/program/stdin/idle", json={"chars": "x"}), 409, "NOT_RUNNING")
    # the tail by default, offset/length, sizes in headers
    rest.post("/program/stdin/cat", json={"chars": "".join(f"line {i}\n" for i in range(20000))})
    wait_for(lambda: logfile.read_bytes().endswith(b"line 19999\n"), what="cat to echo 20000 lines")
    data = logfile.read_bytes()
    resp = rest.get("/program/log/cat/stdout")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert len(data) > 64 * 1024 and resp.content == data[-64 * 1024 :]
    assert int(resp.headers["X-Log-Size"]) == len(data)
    assert int(resp.headers["X-Log-Offset"]) == len(data) - 64 * 1024
    resp = rest.get("/program/log/supervisor/cat/stdout?offset=0&length=11")
    assert resp.content == b"hello rest\n" and resp.headers["X-Log-Next-Offset"] == "11"
    assert len(rest.get("/program/log/cat/stdout?length=99999999").content) == len(data)  # capped at 1 MiB
    resp = rest.get("/program/log/cat/stdout?download=1")
    assert resp.content == data and "attachment" in resp.headers["Content-Disposition"]
    _error(rest.get("/program/log/cat/stdout?offset=-5"), 400, "BAD_ARGUMENTS")
    _error(rest.get("/program/log/cat/stdout?length=x"), 400, "BAD_ARGUMENTS")
    _error(rest.get("/program/log/nope/stdout"), 404, "BAD_NAME")
    _error(rest.get("/program/log/cat/stderr"), 404, "NO_FILE")  # stderr_logfile = NONE
    assert rest.get("/program/log/cat/etc").status_code == 404
    assert rest.post("/program/clearLog/cat").json() == {"success": True}
    wait_for(lambda: logfile.stat().st_size == 0, what="the log to be emptied")
    _error(rest.post("/program/clearLog/nope"), 404, "BAD_NAME")


def test_nodes_ping_info(web: Any) -> None:
    rest, _, d = web
    nodes = rest.get("/supervisor/listNodes").json()
    assert len(nodes) == 1 and nodes[0]["name"] == "supervisor" and nodes[0]["status"] == "ONLINE"
    assert {"cpu_percent", "mem_total", "mem_used", "mem_used_percent"} <= set(nodes[0])
    assert rest.get("/supervisor/supervisor/ping").json() == {"success": True}
    assert rest.get("/supervisor/ping").json() == {"success": True}
    _error(rest.get("/supervisor/elsewhere/ping"), 404, "BAD_NAME")
    info = rest.get("/supervisor/info").json()
    assert info["pid"] == d.proc.pid and info["config_file"] == str(d.config)
    assert info["rss_bytes"] > 0 and info["version"] == "4.3.0"


def test_reload_applies_the_new_config(web: Any) -> None:
    rest, server, d = web
    original = d.config.read_text()
    d.config.write_text(original + "\n[program:late]\ncommand = sleep 1000\nstartsecs = 0\n")
    try:
        result = rest.post("/supervisor/reload").json()
        assert result == {"success": True, "added": ["late"], "changed": [], "removed": []}
        wait_state(server, "late", "RUNNING")
    finally:
        d.config.write_text(original)
    result = rest("PUT", "/supervisor/supervisor/reload").json()
    assert result["removed"] == ["late"]
    _error(rest.get("/program/info/late"), 404, "BAD_NAME")
    d.config.write_text(original + "\n[program:broken\n")
    try:
        _error(rest.post("/supervisor/reload"), 400, "CANT_REREAD")
    finally:
        d.config.write_text(original)


def test_rest_over_the_unix_socket(tmp_path: Path, daemon: Any) -> None:
    from rpcutil import UnixHTTPConnection

    sock = tmp_path / "sd.sock"
    d = daemon(
        "[program:cat]\ncommand = cat\nstartsecs = 0\n",
        supervisord=textwrap.dedent(f"[unix_http_server]\nfile = {sock}\n"),
    )
    assert d

    def get(path: str, method: str = "GET") -> tuple[int, bytes]:
        conn = UnixHTTPConnection(str(sock), timeout=10)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    wait_for(lambda: sock.exists() and get("/program/info/cat")[0] == 200, what="the unix socket")
    assert get("/program/stop/cat", "POST") == (200, b'{"success":true}')


def test_a_waiting_route_keeps_its_own_response(web: Any) -> None:
    """While a start waits (startsecs = 1) other requests come and go on the same hub thread; the waiting
    one still answers its own status, type and length (routes never touch Bottle's thread-locals)."""
    import concurrent.futures

    rest, _, _ = web
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        slow = pool.submit(rest.post, "/program/start/slow")
        quick = [
            pool.submit(rest.get, path)
            for _ in range(40)
            for path in ("/program/log/cat/stdout?length=3", "/program/info/nope", "/program/list")
        ]
        for future in quick:
            resp = future.result()
            assert len(resp.content) == int(resp.headers["Content-Length"])
        resp = slow.result()
    assert resp.status_code == 200 and resp.headers["Content-Type"] == JSON
    assert resp.content == b'{"success":true}' and resp.headers["Content-Length"] == "16"
    rest.post("/program/stop/slow")
