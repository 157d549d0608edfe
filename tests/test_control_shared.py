"""One control service behind every surface (issue 11): XML-RPC and REST share its rules and its state.

Against the real daemon: a shutdown asked over REST closes XML-RPC at once (one "leaving" flag, not one per
surface), and a signal value no number can hold is BAD_SIGNAL on both surfaces (the signal parser is one).
"""

from __future__ import annotations

import xmlrpc.client
from pathlib import Path

from harness import Daemon, wait_for
from rpcutil import free_port, inet_section, wait_ready, wait_state
from webutil import Rest

PROGRAMS = """\
[program:sleeper]
command = sleep 1000
startsecs = 0
"""

# A program that outlives a shutdown request by seconds: the HTTP servers keep serving while it stops.
SLOW_TO_STOP = """\
[program:stubborn]
command = sh -c 'trap "" TERM; while :; do sleep 0.1; done'
startsecs = 0
stopwaitsecs = 5
"""


def test_a_signal_beyond_any_number_is_bad_signal_on_both_surfaces(tmp_path: Path) -> None:
    port = free_port()
    d = Daemon(tmp_path, PROGRAMS, supervisord=inet_section(port)).start()
    try:
        server = wait_ready(port)
        wait_state(server, "sleeper", "RUNNING")
        resp = Rest(port).post("/program/signal/sleeper", data='{"signal": 1e999}')
        assert resp.status_code == 400, resp.text
        assert resp.json()["code"] == "BAD_SIGNAL"
        try:
            server.supervisor.signalProcess("sleeper", float("inf"))
        except xmlrpc.client.Fault as fault:
            assert fault.faultCode == 11 and fault.faultString.startswith("BAD_SIGNAL")
        else:
            raise AssertionError("an infinite signal was accepted")
        [result] = server.supervisor.signalProcessGroup("sleeper", float("inf"))
        assert result["status"] == 11 and result["description"].startswith("BAD_SIGNAL")
        assert server.supervisor.getProcessInfo("sleeper")["statename"] == "RUNNING"
    finally:
        d.stop()


def test_a_shutdown_over_rest_closes_xmlrpc_at_once(tmp_path: Path) -> None:
    port = free_port()
    d = Daemon(tmp_path, SLOW_TO_STOP, supervisord=inet_section(port)).start()
    try:
        server = wait_ready(port)
        wait_state(server, "stubborn", "RUNNING")
        assert Rest(port).post("/supervisor/shutdown").json() == {"success": True}
        # No wait: the very next call, on another surface, is already refused.
        fresh = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
        try:
            fresh.supervisor.getState()
        except xmlrpc.client.Fault as fault:
            assert fault.faultCode == 6, fault
        else:
            raise AssertionError("XML-RPC still served after a REST shutdown")
        wait_for(lambda: d.proc is not None and d.proc.poll() is not None, 30, what="the daemon to exit")
    finally:
        d.stop()
