"""Helpers for tests that talk to the daemon over HTTP: free ports, proxies (TCP and unix), polling."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import xmlrpc.client
from pathlib import Path
from typing import Any

from harness import wait_for

CHILD = f"{sys.executable} -c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def inet_section(port: int, username: str = "", password: str = "") -> str:
    auth = f"username = {username}\npassword = {password}\n" if username else ""
    return (
        f"[inet_http_server]\nport = 127.0.0.1:{port}\n{auth}"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
    )


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.unix_path = path

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        _, self._extra_headers, _ = self.get_host_info(host)
        return UnixHTTPConnection(self.unix_path)


def proxy(port: int, userinfo: str = "") -> xmlrpc.client.ServerProxy:
    at = f"{userinfo}@" if userinfo else ""
    return xmlrpc.client.ServerProxy(f"http://{at}127.0.0.1:{port}/RPC2")


def unix_proxy(path: str | Path, userinfo: str = "") -> xmlrpc.client.ServerProxy:
    at = f"{userinfo}@" if userinfo else ""
    return xmlrpc.client.ServerProxy(f"http://{at}localhost/RPC2", transport=UnixTransport(str(path)))


def fault_of(fn: Any, *args: Any) -> tuple[int, str]:
    """Call and return (faultCode, faultString); fail if the call succeeded."""
    try:
        result = fn(*args)
    except xmlrpc.client.Fault as exc:
        return exc.faultCode, exc.faultString
    raise AssertionError(f"expected a fault, got {result!r}")


def state_of(server: xmlrpc.client.ServerProxy, name: str) -> str:
    return str(server.supervisor.getProcessInfo(name)["statename"])


def wait_state(server: xmlrpc.client.ServerProxy, name: str, state: str, timeout: float = 15) -> None:
    wait_for(lambda: state_of(server, name) == state, timeout, interval=0.05, what=f"{name} to be {state}")


def wait_ready(port: int, timeout: float = 15) -> xmlrpc.client.ServerProxy:
    server = proxy(port)

    def ready() -> bool:
        try:
            return bool(server.supervisor.getState()["statename"] == "RUNNING")
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
            return False

    wait_for(ready, timeout, interval=0.05, what="the daemon to answer getState")
    return server


def ctl(
    conf: Path | None,
    *args: str,
    url: str | None = None,
    cwd: Path,
    timeout: float = 60,
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run Supervisor's real supervisorctl (from this venv) against our daemon."""
    cmd = [sys.executable, "-m", "supervisor.supervisorctl"]
    if conf is not None:
        cmd += ["-c", str(conf)]
    if url is not None:
        cmd += ["-s", url]
    cmd += [*extra, *args]
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
