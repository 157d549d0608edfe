"""Client side of the control plane: XML-RPC and log streams over ``http://`` or ``unix://`` URLs.

Stdlib only (http.client + xmlrpc.client), so ``supervisord ctl`` starts fast and needs nothing the daemon's
heavy dependencies provide. Every connection carries a timeout: Supervisor's own client has none and the Go
client neither, and a wedged daemon should not hang a shell script forever.
"""

from __future__ import annotations

import base64
import http.client
import socket
import urllib.parse
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DEFAULT_TIMEOUT = 60.0


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a unix stream socket; the Host header says ``localhost`` as supervisorctl's does."""

    def __init__(self, path: str, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


@dataclass(frozen=True)
class Endpoint:
    """Where the daemon listens, parsed from a server URL, plus the credentials to present."""

    url: str
    host: str  # "host:port" for TCP, "localhost" for unix sockets
    unix_path: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float | None = DEFAULT_TIMEOUT

    @classmethod
    def parse(
        cls,
        url: str,
        username: str | None = None,
        password: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> Endpoint:
        """Accept ``http://host[:port][/…]`` and ``unix:///abs/path``; anything else is a ValueError."""
        if url.startswith("unix://"):
            path = url[len("unix://") :]
            if not path:
                raise ValueError(f"{url}: a unix:// URL needs a socket path")
            return cls(url, "localhost", path, username, password, timeout)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.netloc:
            raise ValueError(f"{url}: server URL must be http://host:port or unix:///path")
        return cls(url, parts.netloc, None, username, password, timeout)

    def auth_header(self) -> dict[str, str]:
        """Basic auth only when both halves are set (supervisorctl's rule)."""
        if self.username and self.password:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
            return {"Authorization": f"Basic {token}"}
        return {}

    def connection(self) -> http.client.HTTPConnection:
        """A fresh, not yet connected connection bounded by the endpoint's timeout."""
        if self.unix_path is not None:
            return UnixHTTPConnection(self.unix_path, timeout=self.timeout)
        return http.client.HTTPConnection(self.host, timeout=self.timeout)


class EndpointTransport(xmlrpc.client.Transport):
    """xmlrpc.client transport that connects where the Endpoint says, with its timeout and credentials."""

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__()
        self.endpoint = endpoint

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        # One connection per proxy call sequence; reuse it while the server keeps it alive.
        if self._connection and self._connection[0] == host and self._connection[1] is not None:
            return self._connection[1]
        conn = self.endpoint.connection()
        self._connection = host, conn
        return conn

    def send_headers(self, connection: http.client.HTTPConnection, headers: Any) -> None:
        extra = list(headers) + list(self.endpoint.auth_header().items())
        super().send_headers(connection, extra)


def server_proxy(endpoint: Endpoint) -> xmlrpc.client.ServerProxy:
    """An XML-RPC proxy for ``POST /RPC2`` at ``endpoint`` (``proxy.supervisor.getState()`` …)."""
    return xmlrpc.client.ServerProxy(
        f"http://{endpoint.host}/RPC2",
        transport=EndpointTransport(endpoint),
        allow_none=False,
    )


class StreamError(Exception):
    """A log stream answered with something other than 200; the message is supervisorctl's wording."""


def open_stream(endpoint: Endpoint, path: str) -> tuple[http.client.HTTPConnection, Iterator[bytes]]:
    """``GET path`` and yield body chunks as they arrive (``/logtail/…``, ``/mainlogtail``).

    The connect and the response headers are bounded by the endpoint's timeout; after that the body may be
    silent for as long as the log is, so reads block. Close the returned connection to stop early.
    """
    conn = endpoint.connection()
    headers = {"Accept": "*/*", "User-Agent": "supervisord-py ctl", **endpoint.auth_header()}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    if response.status != 200:
        response.read()
        conn.close()
        raise StreamError(f"{endpoint.url}{path} Cannot read, status code {response.status}")
    if conn.sock is not None:
        conn.sock.settimeout(None)

    def chunks() -> Iterator[bytes]:
        while True:
            data = response.read1(65536)
            if not data:
                return
            yield data

    return conn, chunks()
