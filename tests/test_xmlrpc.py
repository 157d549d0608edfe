"""The XML-RPC API at /RPC2, driven by xmlrpc.client against the real daemon (python-supervisor.md §1)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import socket
import stat
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import Daemon, wait_for
from rpcutil import fault_of, free_port, inet_section, proxy, unix_proxy, wait_ready, wait_state

PROGRAMS = """
[program:sleeper]
command = /bin/sh -c 'echo hello; echo oops >&2; exec sleep 1000'
startsecs = 0.2

[program:manual]
command = sleep 1000
autostart = false
startsecs = 0

[group:grp]
programs = ga,gb
priority = 50

[program:ga]
command = sleep 1000
startsecs = 0
priority = 2

[program:gb]
command = sleep 1000
startsecs = 0
priority = 1

[program:quick]
command = /bin/sh -c 'exit 3'
autostart = false
startsecs = 1
startretries = 0

[program:nosuchcmd]
command = /nonexistent/command
autostart = false

[program:echo]
command = cat
startsecs = 0
autostart = false

[program:binary]
command = /bin/sh -c 'printf "bad \\377\\001 bytes\\n"; exec sleep 1000'
startsecs = 0
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, xmlrpc.client.ServerProxy, int]]:
    tmp = tmp_path_factory.mktemp("xmlrpc")
    port = free_port()
    sock = tmp / "sv.sock"
    extra = inet_section(port) + f"[unix_http_server]\nfile = {sock}\nchmod = 0760\n"
    d = Daemon(tmp, PROGRAMS, supervisord=extra).start()
    try:
        server = wait_ready(port)
        wait_state(server, "sleeper", "RUNNING")
        yield d, server, port
    finally:
        d.kill()


def rpc_post(port: int, body: bytes, method: str = "POST", path: str = "/RPC2") -> tuple[int, bytes, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "text/xml"})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp
    finally:
        conn.close()


# -- identity and state --


def test_versions_identity_pid(env: tuple[Daemon, Any, int]) -> None:
    d, s, _ = env
    assert s.supervisor.getAPIVersion() == "3.0"
    assert s.supervisor.getVersion() == "3.0"
    assert s.supervisor.getSupervisorVersion() == "4.3.0"
    assert s.supervisor.getIdentification() == "supervisor"
    assert s.supervisor.getState() == {"statecode": 1, "statename": "RUNNING"}
    assert s.supervisor.getPID() == d.proc.pid  # type: ignore[union-attr]


def test_system_methods(env: tuple[Daemon, Any, int]) -> None:
    _, s, _ = env
    names = s.system.listMethods()
    assert len(names) == 41 and names == sorted(names)
    assert "supervisor.tailProcessLog" in names and "system.multicall" in names
    assert s.system.methodSignature("supervisor.tailProcessStdoutLog") == ["array", "string", "int", "int"]
    assert "stdout" in s.system.methodHelp("supervisor.readProcessStdoutLog")
    assert fault_of(s.system.methodHelp, "nope.nope") == (4, "SIGNATURE_UNSUPPORTED")
    assert fault_of(s.system.methodSignature, "x") == (4, "SIGNATURE_UNSUPPORTED")


def test_multicall_returns_bare_values(env: tuple[Daemon, Any, int]) -> None:
    d, s, _ = env
    result = s.system.multicall(
        [
            {"methodName": "supervisor.getState", "params": []},
            {"methodName": "supervisor.startProcess", "params": ["nosuch"]},
            {"methodName": "supervisor.getPID"},
            {"methodName": "system.multicall", "params": [[]]},
            {"params": []},
        ]
    )
    assert result[0] == {"statecode": 1, "statename": "RUNNING"}
    assert result[1] == {"faultCode": 10, "faultString": "BAD_NAME: nosuch"}
    assert result[2] == d.proc.pid  # type: ignore[union-attr]
    assert result[3]["faultCode"] == 2 and result[4]["faultCode"] == 2


def test_dispatch_faults(env: tuple[Daemon, Any, int]) -> None:
    _, s, _ = env
    assert fault_of(s.supervisor.nosuchMethod) == (1, "UNKNOWN_METHOD")
    assert fault_of(s.supervisor._getGroupAndProcess, "x") == (1, "UNKNOWN_METHOD")
    assert fault_of(getattr(s, "a.b.c")) == (1, "UNKNOWN_METHOD")
    assert fault_of(s.nonamespace) == (1, "UNKNOWN_METHOD")
    assert fault_of(s.supervisor.getState, 1)[0] == 2
    assert fault_of(s.supervisor.getProcessInfo)[0] == 2
    assert fault_of(s.supervisor.readLog, "a", "b")[0] == 2


def test_http_errors(env: tuple[Daemon, Any, int]) -> None:
    _, _, port = env
    assert rpc_post(port, b"garbage")[0] == 400
    assert rpc_post(port, b"", method="GET")[0] == 400
    no_name = b"<?xml version='1.0'?><methodCall><params></params></methodCall>"
    assert rpc_post(port, no_name)[0] == 400
    call = xmlrpc.client.dumps((), "supervisor.getAPIVersion").encode()
    status, body, resp = rpc_post(port, call, path="/RPC2xyz")  # a prefix match, like Supervisor
    assert status == 200 and b"3.0" in body
    assert resp.getheader("Content-Type").startswith("text/xml")


# -- process info --


def test_process_info_struct_and_order(env: tuple[Daemon, Any, int]) -> None:
    _, s, _ = env
    info = s.supervisor.getProcessInfo("sleeper")
    assert list(info) == [
        "name", "group", "start", "stop", "now", "state", "statename", "spawnerr", "exitstatus",
        "logfile", "stdout_logfile", "pid", "stderr_logfile", "description",
    ]  # fmt: skip
    assert info["statename"] == "RUNNING" and info["pid"] > 0
    assert info["description"].startswith(f"pid {info['pid']}, uptime ")
    assert s.supervisor.getProcessInfo("grp:ga")["group"] == "grp"
    assert fault_of(s.supervisor.getProcessInfo, "grp:*") == (10, "BAD_NAME: grp:*")
    assert fault_of(s.supervisor.getProcessInfo, "nosuch") == (10, "BAD_NAME: nosuch")
    names = [(p["group"], p["name"]) for p in s.supervisor.getAllProcessInfo()]
    assert names == sorted(names)
    manual = s.supervisor.getProcessInfo("manual")
    assert manual["statename"] == "STOPPED" and manual["description"] == "Not started"


def test_all_config_info(env: tuple[Daemon, Any, int]) -> None:
    _, s, _ = env
    infos = s.supervisor.getAllConfigInfo()
    assert [i["name"] for i in infos] == sorted(i["name"] for i in infos)
    ga = next(i for i in infos if i["name"] == "ga")
    assert ga["group"] == "grp" and ga["group_prio"] == 50 and ga["process_prio"] == 2 and ga["inuse"]
    assert ga["exitcodes"] == [0] and ga["stopsignal"] == 15 and ga["serverurl"] == "auto"
    manual = next(i for i in infos if i["name"] == "manual")
    assert manual["autostart"] is False and manual["directory"] == "none"


# -- start / stop / signal --


def test_start_stop_single(env: tuple[Daemon, Any, int]) -> None:
    _, s, _ = env
    assert s.supervisor.startProcess("manual") is True
    assert s.supervisor.getProcessInfo("manual")["statename"] == "RUNNING"
    assert fault_of(s.supervisor.startProcess, "manual") == (60, "ALREADY_STARTED: manual")
    assert s.supervisor.stopProcess("manual") is True
    assert s.supervisor.getProcessInfo("manual")["statename"] == "STOPPED"
    assert fault_of(s.supervisor.stopProcess, "manual") == (70, "NOT_RUNNING: manual")
    assert fault_of(s.supervisor.startProcess, "nosuch")[0] == 10
    assert fault_of(s.supervisor.stopProcess, "nosuch:*") == (10, "BAD_NAME: nosuch")
    assert s.supervisor.startProcess("manual", False) is True
    wait_state(s, "manual", "RUNNING")
    assert s.supervisor.stopProcess("manual", False) is True
    wait_state(s, "manual", "STOPPED")


def test_start_faults(env: tuple[Daemon, Any, int]) -> None:
    _, s, _ = env
    assert fault_of(s.supervisor.startProcess, "quick")[0] == 50  # SPAWN_ERROR: died within startsecs
    code, text = fault_of(s.supervisor.startProcess, "nosuchcmd")
    assert code == 20 and "/nonexistent/command" in text


def test_group_and_all_results(env: tuple[Daemon, Any, int]) -> None:
    _, s, _ = env
    stopped = s.supervisor.stopProcessGroup("grp")
    assert sorted(r["name"] for r in stopped) == ["ga", "gb"]
    assert all(r["status"] == 80 and r["description"] == "OK" and r["group"] == "grp" for r in stopped)
    assert s.supervisor.stopProcessGroup("grp") == []  # nothing running: nothing to report
    started = s.supervisor.startProcess("grp:*")
    assert [r["name"] for r in started] == ["gb", "ga"]  # process priority order, immediate results
    assert s.supervisor.startProcessGroup("grp") == []
    assert fault_of(s.supervisor.startProcessGroup, "nosuch") == (10, "BAD_NAME: nosuch")
    every = s.supervisor.startAllProcesses()
    assert {r["name"] for r in every} >= {"manual", "echo"}
    assert all(r["status"] in (80, 20, 50) for r in every)
    stopped = s.supervisor.stopAllProcesses()
    assert {r["name"] for r in stopped} >= {"sleeper", "ga", "gb", "manual"}
    assert all(p["statename"] != "RUNNING" for p in s.supervisor.getAllProcessInfo())
    s.supervisor.startProcess("sleeper")
    s.supervisor.startProcessGroup("grp")


def test_signals(env: tuple[Daemon, Any, int]) -> None:
    _, s, _ = env
    wait_state(s, "sleeper", "RUNNING")
    assert s.supervisor.signalProcess("sleeper", "CONT") is True
    assert s.supervisor.signalProcess("sleeper", 18) is True
    assert s.supervisor.signalProcess("sleeper", "SIGCONT") is True
    assert fault_of(s.supervisor.signalProcess, "sleeper", "FOO") == (11, "BAD_SIGNAL: FOO")
    assert fault_of(s.supervisor.signalProcess, "nosuch", "FOO")[0] == 10
    assert fault_of(s.supervisor.signalProcess, "manual", "HUP") == (70, "NOT_RUNNING: manual")
    res = s.supervisor.signalProcessGroup("grp", "CONT")
    assert sorted(r["name"] for r in res) == ["ga", "gb"] and {r["status"] for r in res} == {80}
    bad = s.supervisor.signalProcessGroup("grp", "FOO")
    assert {r["status"] for r in bad} == {11}
    res = s.supervisor.signalAllProcesses("CONT")
    assert "sleeper" in {r["name"] for r in res}


# -- logs --


def test_process_logs(env: tuple[Daemon, Any, int]) -> None:
    _, s, _ = env
    wait_for(lambda: "hello" in s.supervisor.readProcessStdoutLog("sleeper", 0, 0), what="stdout captured")
    assert "hello" in s.supervisor.readProcessLog("sleeper", -100, 0)
    assert "oops" in s.supervisor.readProcessStderrLog("sleeper", 0, 0)
    assert s.supervisor.readProcessStdoutLog("sleeper", 0, 2) == "he"
    assert fault_of(s.supervisor.readProcessStdoutLog, "sleeper", -1, 5) == (3, "BAD_ARGUMENTS")
    assert fault_of(s.supervisor.readProcessStdoutLog, "sleeper", 0, -5) == (3, "BAD_ARGUMENTS")
    assert fault_of(s.supervisor.readProcessStdoutLog, "nosuch", 0, 0)[0] == 10
    data, offset, overflow = s.supervisor.tailProcessStdoutLog("sleeper", 0, 3)
    size = len(s.supervisor.readProcessStdoutLog("sleeper", 0, 0).encode())
    assert (len(data), offset, overflow) == (3, size, True)
    assert s.supervisor.tailProcessLog("sleeper", size, 10) == ["", size, False]
    assert s.supervisor.tailProcessStderrLog("sleeper", 0, 100)[0].startswith("oops")
    assert fault_of(s.supervisor.tailProcessStdoutLog, "grp:*", 0, 1)[0] == 10


def test_binary_log_is_replaced_not_broken(env: tuple[Daemon, Any, int]) -> None:
    _, s, _ = env
    text = wait_for(lambda: s.supervisor.readProcessStdoutLog("binary", 0, 0), what="binary output")
    assert text == "bad \ufffd\ufffd bytes\n"
    assert s.supervisor.readProcessStdoutLog("binary", 5, 1) == "\ufffd"  # a split character


def test_clear_process_logs(env: tuple[Daemon, Any, int]) -> None:
    _, s, _ = env
    s.supervisor.startProcess("echo")
    assert s.supervisor.sendProcessStdin("echo", "first\n") is True
    wait_for(lambda: "first" in s.supervisor.readProcessStdoutLog("echo", 0, 0), what="echo output")
    assert s.supervisor.clearProcessLogs("echo") is True
    assert s.supervisor.readProcessStdoutLog("echo", 0, 0) == ""
    assert s.supervisor.sendProcessStdin("echo", xmlrpc.client.Binary(b"second\n")) is True
    wait_for(lambda: s.supervisor.readProcessStdoutLog("echo", 0, 0) == "second\n", what="appended output")
    results = s.supervisor.clearAllProcessLogs()
    assert {r["status"] for r in results} == {80} and "echo" in {r["name"] for r in results}
    assert s.supervisor.clearProcessLog("echo") is True
    assert fault_of(s.supervisor.clearProcessLogs, "nosuch")[0] == 10
    assert fault_of(s.supervisor.sendProcessStdin, "echo", 5)[0] == 2
    assert fault_of(s.supervisor.sendProcessStdin, "manual", "x") == (70, "NOT_RUNNING: manual")
    assert fault_of(s.supervisor.sendProcessStdin, "nosuch", "x")[0] == 10
    s.supervisor.stopProcess("echo")


def test_main_log(env: tuple[Daemon, Any, int]) -> None:
    _, s, _ = env
    assert "supervisord started" in s.supervisor.readLog(0, 0)
    assert len(s.supervisor.readMainLog(0, 10)) == 10
    assert fault_of(s.supervisor.readLog, -5, 5) == (3, "BAD_ARGUMENTS")
    assert s.supervisor.sendRemoteCommEvent("type", "data") is True


def test_unix_socket_mode_and_access(env: tuple[Daemon, Any, int]) -> None:
    d, _, _ = env
    path = d.tmp / "sv.sock"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o760
    assert unix_proxy(path).supervisor.getAPIVersion() == "3.0"


# -- runtime group changes (a daemon of their own: they rewrite the config) --


def test_reload_config_add_remove(daemon: Any, tmp_path: Path) -> None:
    port = free_port()
    d = daemon(
        "[program:keep]\ncommand = sleep 1000\nstartsecs = 0\n"
        "[program:gone]\ncommand = sleep 1000\nstartsecs = 0\n"
        "[program:edit]\ncommand = sleep 1000\nstartsecs = 0\n",
        supervisord=inet_section(port),
    )
    s = wait_ready(port)
    wait_state(s, "keep", "RUNNING")
    keep_pid = s.supervisor.getProcessInfo("keep")["pid"]
    assert s.supervisor.reloadConfig() == [[[], [], []]]
    text = d.config.read_text()
    text = text.replace("[program:gone]\ncommand = sleep 1000\nstartsecs = 0\n", "")
    text = text.replace("[program:edit]\ncommand = sleep 1000", "[program:edit]\ncommand = sleep 1001")
    text += "\n# moved lines must not count as a change\n[program:new]\ncommand = sleep 1000\nstartsecs = 0\n"
    d.config.write_text(text)
    assert s.supervisor.reloadConfig() == [[["new"], ["edit"], ["gone"]]]
    assert fault_of(s.supervisor.removeProcessGroup, "gone") == (91, "STILL_RUNNING: gone")
    assert fault_of(s.supervisor.removeProcessGroup, "nosuch") == (10, "BAD_NAME: nosuch")
    s.supervisor.stopProcessGroup("gone")
    assert s.supervisor.removeProcessGroup("gone") is True
    assert fault_of(s.supervisor.getProcessInfo, "gone")[0] == 10
    assert s.supervisor.addProcessGroup("new") is True
    wait_state(s, "new", "RUNNING")  # added groups autostart
    assert fault_of(s.supervisor.addProcessGroup, "new") == (90, "ALREADY_ADDED: new")
    assert fault_of(s.supervisor.addProcessGroup, "nosuch") == (10, "BAD_NAME: nosuch")
    assert s.supervisor.getProcessInfo("keep")["pid"] == keep_pid
    infos = {i["name"]: i for i in s.supervisor.getAllConfigInfo()}
    assert infos["edit"]["command"] == "sleep 1001" and infos["new"]["inuse"] and "gone" not in infos
    d.config.write_text(text + "\n[program:broken\n")
    code, msg = fault_of(s.supervisor.reloadConfig)
    assert code == 92 and msg.startswith("CANT_REREAD: ")
    assert d.stop() == 0


def test_shutdown_gates_and_exits(daemon: Any) -> None:
    port = free_port()
    d = daemon("[program:a]\ncommand = sleep 1000\nstartsecs = 0\n", supervisord=inet_section(port))
    s = wait_ready(port)
    assert s.supervisor.shutdown() is True
    code, _ = fault_of(s.supervisor.getState)
    assert code == 6
    assert s.system.listMethods()  # system.* is never gated
    assert d.proc.wait(20) == 0  # type: ignore[union-attr]
    assert "supervisord stopped" in d.log()


def test_restart_keeps_listening_same_pid(daemon: Any) -> None:
    port = free_port()
    d = daemon("[program:a]\ncommand = sleep 1000\nstartsecs = 0\n", supervisord=inet_section(port))
    s = wait_ready(port)
    wait_state(s, "a", "RUNNING")
    old = s.supervisor.getProcessInfo("a")["pid"]
    assert s.supervisor.restart() is True
    assert fault_of(s.supervisor.restart)[0] == 6

    def new_pid() -> int:
        try:
            info = s.supervisor.getProcessInfo("a")
        except (xmlrpc.client.Fault, OSError):
            return 0
        return int(info["pid"]) if info["statename"] == "RUNNING" and info["pid"] != old else 0

    wait_for(new_pid, 20, interval=0.05, what="a new runtime after restart")
    assert s.supervisor.getPID() == d.proc.pid  # type: ignore[union-attr]
    assert d.stop() == 0


# -- auth and sockets --


def test_basic_auth(daemon: Any) -> None:
    port = free_port()
    digest = hashlib.sha1(b"secret").hexdigest()
    daemon("", supervisord=inet_section(port, "user", "{SHA}" + digest))
    call = xmlrpc.client.dumps((), "supervisor.getAPIVersion").encode()
    status, _, resp = rpc_post(port, call)
    assert status == 401 and resp.getheader("WWW-Authenticate") == 'Basic realm="default"'
    with pytest.raises(xmlrpc.client.ProtocolError) as info:
        proxy(port, "user:wrong").supervisor.getAPIVersion()
    assert info.value.errcode == 401
    good = proxy(port, "user:secret")
    wait_for(lambda: good.supervisor.getAPIVersion() == "3.0", what="authorized call")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    token = base64.b64encode(b"user:secret").decode()
    conn.request("GET", "/logtail/nosuch", headers={"Authorization": f"Basic {token}"})
    assert conn.getresponse().status == 404


def test_stale_unix_socket_is_replaced(daemon: Any, tmp_path: Path) -> None:
    path = tmp_path / "stale.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens
    d = daemon("", supervisord=f"[unix_http_server]\nfile = {path}\n")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    wait_for(lambda: unix_proxy(path).supervisor.getAPIVersion() == "3.0", what="unix socket answers")
    assert d.stop() == 0
    assert not path.exists()


def test_unix_socket_in_use_refuses_to_start(daemon: Any, tmp_path: Path) -> None:
    path = tmp_path / "busy.sock"
    busy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    busy.bind(str(path))
    busy.listen(1)
    try:
        d = daemon("", supervisord=f"[unix_http_server]\nfile = {path}\n", start=False)
        with pytest.raises(AssertionError, match="exited"):
            d.start()
        assert "Another program is already listening" in d.stderr()
    finally:
        busy.close()


def test_response_is_one_write(env: tuple[Daemon, Any, int]) -> None:
    """Headers and body arrive together: one recv right after the request sees the whole reply."""
    _, _, port = env
    call = xmlrpc.client.dumps((), "supervisor.getAPIVersion").encode()
    request = (
        b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
        + f"Content-Length: {len(call)}\r\n\r\n".encode()
        + call
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        first = sock.recv(65536)
        head, _, body = first.partition(b"\r\n\r\n")
        length = int(
            next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
        )
        assert len(body) == length and body.endswith(b"</methodResponse>\n")


def test_waiting_call_keeps_its_own_reply(env: tuple[Daemon, Any, int]) -> None:
    """A call that waits (startProcess, startsecs 0.2) while other calls are answered still gets its own
    complete reply: the concurrent getPIDs must not lend it their headers (a truncated body, found by
    scripts/bench when getPID was polled during startAllProcesses)."""
    import threading

    _, server, port = env
    server.supervisor.stopProcess("sleeper")
    outcome: list[Any] = []

    def start() -> None:
        try:
            outcome.append(proxy(port).supervisor.startProcess("sleeper"))
        except Exception as exc:  # recorded, asserted below
            outcome.append(exc)

    starter = threading.Thread(target=start)
    starter.start()
    client = proxy(port)
    pids = [client.supervisor.getPID()]
    while starter.is_alive():
        pids.append(client.supervisor.getPID())
    starter.join(10)
    assert outcome == [True]
    assert len(set(pids)) == 1
    wait_state(server, "sleeper", "RUNNING")


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_unix_socket_chown(daemon: Any, tmp_path: Path) -> None:
    import grp
    import pwd

    path = tmp_path / "owned.sock"
    user = pwd.getpwnam("nobody")
    group = grp.getgrgid(user.pw_gid).gr_name
    daemon("", supervisord=f"[unix_http_server]\nfile = {path}\nchmod = 0770\nchown = nobody:{group}\n")
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (user.pw_uid, user.pw_gid, 0o770)
    assert unix_proxy(path).supervisor.getAPIVersion() == "3.0"


def test_each_listener_has_its_own_credentials(daemon: Any, tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "auth.sock"
    extra = (
        inet_section(port, "inet", "one")
        + f"[unix_http_server]\nfile = {path}\nusername = unix\npassword = two\n"
    )
    daemon("", supervisord=extra)
    assert wait_ready_auth(proxy(port, "inet:one"))
    assert unix_proxy(path, "unix:two").supervisor.getAPIVersion() == "3.0"
    with pytest.raises(xmlrpc.client.ProtocolError):
        unix_proxy(path, "inet:one").supervisor.getAPIVersion()
    with pytest.raises(xmlrpc.client.ProtocolError):
        proxy(port, "unix:two").supervisor.getAPIVersion()


def wait_ready_auth(server: Any) -> bool:
    return bool(wait_for(lambda: server.supervisor.getAPIVersion() == "3.0", what="authorized call"))


def test_clear_main_log(daemon: Any) -> None:
    port = free_port()
    d = daemon(
        "[program:a]\ncommand = sleep 1000\nstartsecs = 0\nautostart = false\n",
        supervisord=inet_section(port),
    )
    s = wait_ready(port)
    assert "supervisord started" in s.supervisor.readLog(0, 0)
    assert s.supervisor.clearLog() is True
    assert "supervisord started" not in d.log()
    s.supervisor.startProcess("a")  # the log is reopened: new lines land in the fresh file
    wait_for(lambda: "spawned: 'a'" in s.supervisor.readLog(0, 0), what="a fresh main log line")
