"""Reload (SIGHUP or XML-RPC ``supervisor.restart``): listeners follow the new config, and the log says why.

Supervisor re-opens its HTTP servers on every reload, so a changed port, socket file, chmod, chown or
credentials take effect; we keep a listener whose settings did not change (its backlog survives).
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import stat
import xmlrpc.client
from pathlib import Path

import pytest
from harness import wait_for
from rpcutil import free_port, inet_section, proxy, unix_proxy, wait_ready

PROGRAM = """
[program:sleeper]
command = sleep 1000
startsecs = 0
"""


def refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def answers(server: xmlrpc.client.ServerProxy) -> bool:
    try:
        return bool(server.supervisor.getState()["statename"] == "RUNNING")
    except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
        return False


def test_rpc_restart_rebinds_a_changed_port_with_new_credentials(daemon) -> None:
    old_port, new_port = free_port(), free_port()
    d = daemon(PROGRAM + inet_section(old_port))
    server = wait_ready(old_port)
    d.config.write_text(
        d.config.read_text().replace(f":{old_port}\n", f":{new_port}\nusername = u\npassword = p\n")
    )
    assert server.supervisor.restart() is True
    wait_for(lambda: answers(proxy(new_port, "u:p")), 20, 0.05, what="the new port to answer")
    d.wait_log(r"supervisord started with pid", count=2)
    assert refused(old_port), "the old port is still open after the reload"
    try:
        proxy(new_port).supervisor.getState()
        raise AssertionError("the new credentials were not applied")
    except xmlrpc.client.ProtocolError as exc:
        assert exc.errcode == 401
    # Supervisor logs no signal for an RPC restart; the old code said "received SIGHUP".
    assert d.count(r"SIGHUP") == 0, d.log()
    assert d.stop() == 0


def test_sighup_rebinds_a_changed_socket_file_and_mode_and_keeps_an_unchanged_one(
    daemon, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.sock", tmp_path / "b.sock"
    unix = f"[unix_http_server]\nfile = {first}\nchmod = 0700\n"
    rpc = "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
    d = daemon(PROGRAM + unix + rpc)
    wait_for(lambda: answers(unix_proxy(first)), 20, 0.05, what="the socket to answer")
    inode = first.stat().st_ino

    d.signal(signal.SIGHUP)  # nothing changed: the same socket goes on serving
    d.wait_log(r"supervisord started with pid", count=2)
    wait_for(lambda: answers(unix_proxy(first)), 20, 0.05, what="the socket to answer again")
    assert first.stat().st_ino == inode

    d.config.write_text(
        d.config.read_text().replace(f"file = {first}\nchmod = 0700", f"file = {second}\nchmod = 0760")
    )
    d.signal(signal.SIGHUP)
    d.wait_log(r"supervisord started with pid", count=3)
    wait_for(lambda: answers(unix_proxy(second)), 20, 0.05, what="the new socket to answer")
    assert not first.exists(), "the old socket file was left behind"
    assert stat.S_IMODE(second.stat().st_mode) == 0o760

    d.config.write_text(d.config.read_text().replace("chmod = 0760", "chmod = 0766"))
    d.signal(signal.SIGHUP)  # the same path, a new mode: Supervisor re-creates the socket
    d.wait_log(r"supervisord started with pid", count=4)
    wait_for(lambda: answers(unix_proxy(second)), 20, 0.05, what="the socket to answer after chmod")
    assert stat.S_IMODE(second.stat().st_mode) == 0o766
    assert d.count(r"^received SIGHUP indicating restart request$") == 3
    assert all(level == "WARN" for _, level, msg in d.entries() if "indicating restart request" in msg)
    assert d.stop() == 0
    assert not second.exists()


def test_reload_onto_a_busy_port_keeps_the_old_listener_and_config(daemon) -> None:
    old_port = free_port()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        d = daemon(PROGRAM + inet_section(old_port))
        wait_ready(old_port)
        busy_port = busy.getsockname()[1]
        d.config.write_text(d.config.read_text().replace(f":{old_port}\n", f":{busy_port}\n"))
        d.signal(signal.SIGHUP)
        d.wait_log(r"could not reload config, keeping the old one: .*Address already in use")
        d.wait_log(r"supervisord started with pid", count=2)
        server = wait_ready(old_port)
        assert server.supervisor.getPID() == d.proc.pid  # type: ignore[union-attr]
        assert d.stop() == 0
    finally:
        busy.close()


def test_sighup_during_shutdown_is_ignored_and_said(daemon) -> None:
    d = daemon(
        """
        [program:slow]
        command = sh -c 'trap "" TERM; sleep 1000'
        startsecs = 0
        stopwaitsecs = 3
        killasgroup = true
        """
    )
    d.wait_log(r"spawned: 'slow'")
    d.signal(signal.SIGTERM)
    d.wait_log(r"received SIGTERM indicating exit request")
    d.signal(signal.SIGHUP)
    d.wait_log(r"ignored SIGHUP indicating restart request \(shutdown in progress\)")
    assert d.stop() == 0
    assert d.count(r"supervisord started with pid") == 1
    assert os.path.exists(d.logfile)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_reload_applies_a_changed_chown(daemon, tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    rpc = "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
    d = daemon(PROGRAM + f"[unix_http_server]\nfile = {path}\n" + rpc)
    wait_for(lambda: answers(unix_proxy(path)), 20, 0.05, what="the socket to answer")
    assert path.stat().st_uid == 0
    nobody = pwd.getpwnam("nobody")
    d.config.write_text(d.config.read_text().replace(f"file = {path}\n", f"file = {path}\nchown = nobody\n"))
    d.signal(signal.SIGHUP)
    d.wait_log(r"supervisord started with pid", count=2)
    wait_for(lambda: answers(unix_proxy(path)), 20, 0.05, what="the socket to answer after the chown")
    assert path.stat().st_uid == nobody.pw_uid
    assert d.stop() == 0


def test_reload_onto_a_socket_someone_else_serves_restores_the_old_socket(daemon, tmp_path: Path) -> None:
    path, taken = tmp_path / "s.sock", tmp_path / "taken.sock"
    rpc = "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(str(taken))
    other.listen(8)
    try:
        d = daemon(PROGRAM + f"[unix_http_server]\nfile = {path}\n" + rpc)
        wait_for(lambda: answers(unix_proxy(path)), 20, 0.05, what="the socket to answer")
        d.config.write_text(d.config.read_text().replace(f"file = {path}", f"file = {taken}"))
        d.signal(signal.SIGHUP)
        d.wait_log(r"could not reload config, keeping the old one: Another program is already listening")
        d.wait_log(r"supervisord started with pid", count=2)
        wait_for(lambda: answers(unix_proxy(path)), 20, 0.05, what="the old socket to answer again")
        assert taken.exists()  # someone else's socket is left alone
        assert d.stop() == 0
        assert not path.exists()
    finally:
        other.close()
