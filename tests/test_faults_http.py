"""Hostile and broken HTTP clients against the real daemon (issue 10, section 4).

Each test reproduces a way a client could freeze, crash or starve the daemon: oversized and pathological
bodies, idle connections under a low descriptor limit, a unix socket path that is not a socket, and
argument values the methods cannot take. The daemon must answer with a clear status or fault, keep serving,
keep respawning its processes, and never write a traceback.
"""

from __future__ import annotations

import socket
import sys
import threading
import xmlrpc.client
from pathlib import Path
from typing import Any

import pytest
from harness import Daemon, wait_for
from rawhttp import exchange, post, read_reply, status_of
from rpcutil import fault_of, free_port, inet_section, wait_ready

from supervisord.web.connections import PER_CONNECTION, RESERVE_BASE


def call_xml(method: str, *params_xml: str) -> bytes:
    params = "".join(f"<param>{p}</param>" for p in params_xml)
    return (
        f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>"
    ).encode()


def no_traceback(d: Daemon) -> None:
    log = d.log()
    assert "Traceback" not in log and " CRIT XML-RPC" not in log, log[-3000:]
    assert "Traceback" not in d.stderr(), d.stderr()[-3000:]


# --- 1. request bodies ---


def test_body_over_the_cap_gets_413_on_every_route(daemon: Any) -> None:
    port = free_port()
    d = daemon("", supervisord=inet_section(port).replace("\n[rpc", "\nrequest_maxbytes = 64KB\n[rpc", 1))
    server = wait_ready(port)
    announced = 200 * 1024 * 1024
    for path in ("/RPC2", "/index.html", "/logtail/x", "/nowhere"):
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {announced}\r\n\r\n".encode()
        reply = exchange(port, head + b"<?xml")  # the rest is never sent: the server must not wait for it
        assert status_of(reply) == 413, (path, reply)
        assert b"connection: close" in reply.lower()
    chunk = b"x" * 8192
    chunked = (
        b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 9
    )
    assert status_of(exchange(port, chunked + b"0\r\n\r\n")) == 413
    # under the cap, a chunked call is still served
    call = xmlrpc.client.dumps((), "supervisor.getAPIVersion").encode()
    small = b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    reply = exchange(port, small + b"%x\r\n%s\r\n0\r\n\r\n" % (len(call), call))
    assert status_of(reply) == 200 and b"3.0" in reply
    # the checks keep Supervisor's offset rules and its string-for-int leniency
    assert fault_of(server.supervisor.readLog, -1, 5) == (3, "BAD_ARGUMENTS")
    assert "RPC interface 'supervisor' initialized" in server.supervisor.readLog("0", "0")
    assert fault_of(server.supervisor.readLog, "zero", 0)[0] == 2
    assert server.supervisor.getState()["statename"] == "RUNNING"
    no_traceback(d)


def test_huge_single_token_does_not_freeze_the_server(daemon: Any) -> None:
    """A 32 MB tag name was parsed in 8 KB slices in quadratic time (minutes, the hub blocked throughout)."""
    port = free_port()
    d = daemon("", supervisord=inet_section(port).replace("\n[rpc", "\nrequest_maxbytes = 64MB\n[rpc", 1))
    server = wait_ready(port)
    body = b"<?xml version='1.0'?><methodCall><m" + b"a" * (32 << 20) + b"/></methodCall>"
    replies: list[bytes] = []
    worker = threading.Thread(target=lambda: replies.append(exchange(port, post("/RPC2", body), 120)))
    worker.start()
    try:
        wait_for(lambda: replies, timeout=60, interval=0.05, what="the reply to a 32 MB token")
    finally:
        worker.join(120)
    assert status_of(replies[0]) == 400
    # the checks keep Supervisor's offset rules and its string-for-int leniency
    assert fault_of(server.supervisor.readLog, -1, 5) == (3, "BAD_ARGUMENTS")
    assert "RPC interface 'supervisor' initialized" in server.supervisor.readLog("0", "0")
    assert fault_of(server.supervisor.readLog, "zero", 0)[0] == 2
    assert server.supervisor.getState()["statename"] == "RUNNING"
    no_traceback(d)


# --- 2. connections and descriptors ---

LOW_NOFILE = 200
SET_NOFILE = (
    f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({LOW_NOFILE}, {LOW_NOFILE})); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def test_idle_connections_cannot_starve_the_api_or_spawning(daemon: Any) -> None:
    """Many idle connections under a low descriptor limit: the API answers and a crashing program respawns."""
    port = free_port()
    d = daemon(
        """
        [program:crasher]
        command = /bin/sh -c 'sleep 0.2; exit 1'
        startsecs = 0
        autorestart = true
        """,
        supervisord="minfds = 100\n" + inet_section(port),
        start=False,
    )
    d.start(prefix=[sys.executable, "-c", SET_NOFILE])
    server = wait_ready(port)
    d.wait_log(r"spawned: 'crasher'", count=2)
    idle: list[socket.socket] = []
    try:
        for _ in range(2 * LOW_NOFILE):
            sock = socket.socket()
            sock.settimeout(0.5)
            try:
                sock.connect(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            idle.append(sock)
        assert len(idle) > LOW_NOFILE  # accepted or queued: more than the daemon could hold at once
        before = d.count(r"spawned: 'crasher'")
        wait_for(
            lambda: _answers(port), timeout=30, interval=0.2, what="getState while idle connections are held"
        )
        d.wait_log(r"spawned: 'crasher'", count=before + 3, timeout=30)
    finally:
        for sock in idle:
            sock.close()
    assert server.supervisor.getState()["statename"] == "RUNNING"
    log = d.log()
    assert "Too many open files" not in log and "FATAL" not in log, log[-3000:]
    no_traceback(d)


def test_busy_connections_beyond_the_cap_get_503(daemon: Any) -> None:
    """With every connection busy (log streams here), one more is answered 503 instead of taking a descriptor."""
    port = free_port()
    d = daemon("", supervisord="minfds = 100\n" + inet_section(port), start=False)
    d.start(prefix=[sys.executable, "-c", SET_NOFILE])
    wait_ready(port)
    cap = (LOW_NOFILE - RESERVE_BASE) // PER_CONNECTION
    streams: list[socket.socket] = []
    try:
        for _ in range(cap):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(b"GET /mainlogtail HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(12) == b"HTTP/1.1 200"  # streaming: busy until we hang up
            streams.append(sock)
        assert status_of(exchange(port, b"GET /mainlogtail HTTP/1.1\r\nHost: x\r\n\r\n")) == 503
    finally:
        for sock in streams:
            sock.close()
    wait_for(lambda: _answers(port), timeout=30, interval=0.1, what="getState once the streams are gone")
    no_traceback(d)


def _answers(port: int) -> bool:
    try:
        proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
        return bool(proxy.supervisor.getState()["statename"] == "RUNNING")
    except (OSError, xmlrpc.client.ProtocolError):  # refused, or 503 while the cap is still full
        return False


def test_connection_without_a_request_head_is_closed(daemon: Any) -> None:
    port = free_port()
    limits = "\nheader_timeout = 0.5\nidle_timeout = 1\n[rpc"
    d = daemon("", supervisord=inet_section(port).replace("\n[rpc", limits, 1))
    wait_ready(port)
    silent = socket.create_connection(("127.0.0.1", port), timeout=30)
    partial = socket.create_connection(("127.0.0.1", port), timeout=30)
    partial.sendall(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\n")  # the head never ends
    kept = socket.create_connection(("127.0.0.1", port), timeout=30)
    call = xmlrpc.client.dumps((), "supervisor.getAPIVersion").encode()
    kept.sendall(post("/RPC2", call))
    assert status_of(read_reply(kept)) == 200  # then it idles, kept alive
    try:
        for sock in (silent, partial, kept):
            assert read_reply(sock) == b""  # closed by the server, before the 30 s socket timeout
    finally:
        for sock in (silent, partial, kept):
            sock.close()
    assert _answers(port)
    no_traceback(d)


# --- 3. the unix socket path ---


@pytest.mark.parametrize("kind", ["directory", "file"])
def test_unix_socket_path_that_is_not_a_socket_is_refused(daemon: Any, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "sv.sock"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_text("precious\n")
    d = daemon("", supervisord=f"[unix_http_server]\nfile = {path}\n", start=False)
    with pytest.raises(AssertionError, match="exited"):
        d.start()
    assert d.proc is not None and d.proc.returncode != 0
    err = d.stderr()
    assert f"{path} exists and is not a socket" in err and "Traceback" not in err, err
    assert path.is_dir() if kind == "directory" else path.read_text() == "precious\n"


# --- 4. bad arguments ---


def test_bad_arguments_get_specific_faults_and_no_traceback(daemon: Any) -> None:
    port = free_port()
    d = daemon(
        """
        [program:talker]
        command = /bin/sh -c 'echo hi; exec sleep 1000'
        startsecs = 0
        """,
        supervisord=inet_section(port),
    )
    server = wait_ready(port)
    d.wait_log(r"success: talker")
    huge = "<value><int>1180591620717411303424</int></value>"  # 2**70
    zero = "<value><int>0</int></value>"
    name = "<value><string>talker</string></value>"
    for method, params in [
        ("supervisor.readLog", (huge, zero)),
        ("supervisor.readLog", (zero, huge)),
        ("supervisor.readProcessStdoutLog", (name, huge, zero)),
        ("supervisor.readProcessStderrLog", (name, zero, huge)),
        ("supervisor.tailProcessStdoutLog", (name, huge, zero)),
        ("supervisor.readLog", ("<value><double>inf</double></value>", zero)),
    ]:
        reply = exchange(port, post("/RPC2", call_xml(method, *params)))
        assert status_of(reply) == 200, (method, reply)
        assert b"<int>3</int>" in reply and b"BAD_ARGUMENTS" in reply, (method, reply)
    assert fault_of(server.system.methodSignature, []) == (4, "SIGNATURE_UNSUPPORTED")
    assert fault_of(server.system.methodHelp, {"a": 1}) == (4, "SIGNATURE_UNSUPPORTED")
    for fn, args in [
        (server.supervisor.getProcessInfo, ([],)),
        (server.supervisor.startProcess, ({"a": 1},)),
        (server.supervisor.signalProcess, ("talker", [15])),
        (server.supervisor.readLog, ([], 0)),
        (server.supervisor.addProcessGroup, ({},)),
        (server.system.multicall, ("not an array",)),
    ]:
        assert fault_of(fn, *args)[0] == 2, fn
    assert fault_of(server.supervisor.signalProcess, "talker", float("inf"))[0] == 11  # BAD_SIGNAL
    assert (
        server.system.multicall([{"methodName": ["x"]}, {"methodName": 5}])
        == [{"faultCode": 2, "faultString": "INCORRECT_PARAMETERS"}] * 2
    )
    deep = "<value><array><data>" * 1000 + "</data></array></value>" * 1000
    assert status_of(exchange(port, post("/RPC2", call_xml("supervisor.getProcessInfo", deep)))) == 400
    deep_b64 = deep.replace("<data>", "<data><value><base64>eA==</base64></value>", 1)  # the stdlib's path
    assert status_of(exchange(port, post("/RPC2", call_xml("supervisor.getProcessInfo", deep_b64)))) == 400
    # the checks keep Supervisor's offset rules and its string-for-int leniency
    assert fault_of(server.supervisor.readLog, -1, 5) == (3, "BAD_ARGUMENTS")
    assert "RPC interface 'supervisor' initialized" in server.supervisor.readLog("0", "0")
    assert fault_of(server.supervisor.readLog, "zero", 0)[0] == 2
    assert server.supervisor.getState()["statename"] == "RUNNING"
    no_traceback(d)
