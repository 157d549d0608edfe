"""The fleet in the web API: every node in the lists, and actions on another node forwarded to its API.

Forwarding is a plain HTTP call to the node's own REST API (the URL it registered in etcd), not a request
written into an etcd key for the node to watch: the caller gets the node's real answer (status, error code,
log bytes) synchronously, the node checks the credentials exactly as for any client, a dead node is a
timeout rather than a request left behind in etcd, and etcd carries no commands nobody cleans up.

Security: a request reaches a route only after this node's own Basic auth and cross-site check
(``web/app.py``, ``web/crosssite.py``), so nothing unauthorised is ever forwarded; the forwarded call
carries this node's ``[inet_http_server]`` credentials (the fleet's nodes share one API account) and a
timeout. The calls run on the hub's thread pool, never on the hub itself.

A stream (SSE: ``/events/<node>``, ``/program/follow/<node>/…``) is relayed instead: http.client over
gevent's sockets, so the relay waits on the hub like any greenlet and holds no thread for its lifetime.
Bytes go on as they come, one read at a time; a client that stops reading stops the relay reading, so the
node's own feed drops the relayed stream as it drops any slow client, and memory here stays one chunk.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import gevent

from supervisord import faults
from supervisord.control import SUPERVISOR_VERSION
from supervisord.web.routing import Handler, Request, Response, error_response, json_response

if TYPE_CHECKING:
    from supervisord.control import Control
    from supervisord.fleet.agent import FleetAgent

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 60.0  # a start waits for startsecs on the node
STREAM_START = 10.0  # seconds for a node to answer a stream's headers (it sends them at once)
STREAM_WATCH = 2.0  # seconds between checks that a relayed stream's client and node are still there
STREAM_CHUNK = 64 * 1024  # bytes relayed per read at most: all a relay ever holds
PASSED_HEADERS = ("x-log-offset", "x-log-next-offset", "x-log-size", "content-disposition")
STREAM_HEADERS = ("cache-control", "x-accel-buffering")
LOAD_KEYS = ("cpu_percent", "mem_total", "mem_used", "mem_used_percent")


class FleetWeb:
    def __init__(self, control: Control) -> None:
        self.control = control

    @property
    def agent(self) -> FleetAgent | None:
        return getattr(self.control.daemon, "fleet", None)

    # -- the lists --

    def nodes(self, local: dict[str, Any]) -> list[dict[str, Any]]:
        """``listNodes``: this node (live figures) first, then every other node the fleet knows."""
        agent = self.agent
        if agent is None:
            return [local]
        view = agent.view
        me = {**local, "name": agent.name, "url": agent.cfg.url, "version": SUPERVISOR_VERSION}
        me.update(started=int(agent.started), local=True, etcd=view.connected)
        out = [me]
        for node in view.nodes.values():
            info = node.info
            entry = {"name": node.name, "status": node.status, **{k: info.get(k) for k in LOAD_KEYS}}
            entry.update(
                url=info.get("url"),
                version=info.get("version"),
                started=info.get("started"),
                local=False,
                processes=len(node.processes),
            )
            out.append(entry)
        return out

    def processes(self, local: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``/program/list``: with a fleet, every entry names its node, and the other nodes' follow."""
        agent = self.agent
        if agent is None:
            return local
        out = [{**info, "node": agent.name} for info in local]
        now = time.time()
        for node in agent.view.nodes.values():
            if node.status == "ONLINE":
                out.extend({**snap.info(now), "node": node.name} for snap in node.processes)
        return out

    # -- node routes --

    def node_route(self, rule: str, handler: Handler, stream: bool = False) -> Handler:
        """Wrap a ``<node>`` route: the local node's name is handled here, another node's is forwarded
        (``stream``: relayed as it comes)."""
        plain = re.sub(r"/<node>(?=/|$)", "", rule)

        def route(req: Request) -> Response:
            agent = self.agent
            node = req.args.get("node")
            if agent is None or node in (agent.name, self.control.identifier):
                if agent is not None:
                    req = dataclasses.replace(req, args={**req.args, "node": self.control.identifier})
                return handler(req)
            if stream:
                return self.relay(str(node), req, _fill(plain, req.args))
            return self.forward(str(node), req, _fill(plain, req.args))

        return route

    def _target(self, node: str) -> tuple[str, tuple[str, str] | None] | Response:
        """The node's API URL and the credentials to call it with, or the error to answer."""
        agent = self.agent
        assert agent is not None
        target = agent.view.nodes.get(node)
        if target is None:
            raise faults.BadName(f"no such node: {node}")
        if target.status != "ONLINE" or not target.info.get("url"):
            return error_response(502, f"node {node} is {target.status.lower()}", "NODE_UNREACHABLE")
        inet = self.control.daemon.config.inet_http_server
        # A {SHA} password is refused at load with [fleet] (config/fleet_section.py): it could not be sent.
        auth = (inet.username, inet.password or "") if inet is not None and inet.username else None
        return str(target.info["url"]), auth

    def forward(self, node: str, req: Request, path: str) -> Response:
        agent = self.agent
        assert agent is not None
        found = self._target(node)
        if isinstance(found, Response):
            return found
        base, auth = found
        url = base + path
        headers = {"X-Supervisord-Forwarded-By": agent.name}
        if req.headers.get("content-type"):
            headers["Content-Type"] = req.headers["content-type"]
        try:
            answer = self.control.offload(_call, req.method, url, req.query, req.body, headers, auth)
        except OSError as exc:  # requests' errors are OSErrors: refused, timed out, reset
            return error_response(502, f"node {node} did not answer: {_short(exc)}", "NODE_UNREACHABLE")
        status, content_type, body, passed = answer
        return Response(status, body, content_type, passed)

    def relay(self, node: str, req: Request, path: str) -> Response:
        """Another node's SSE stream, relayed through this node as it comes (see the module's docstring)."""
        import http.client

        agent = self.agent
        assert agent is not None
        found = self._target(node)
        if isinstance(found, Response):
            return found
        base, auth = found
        parts = urllib.parse.urlsplit(base)
        headers = {"X-Supervisord-Forwarded-By": agent.name, "Accept": "text/event-stream"}
        if auth is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        if req.headers.get("last-event-id"):
            headers["Last-Event-ID"] = req.headers["last-event-id"]
        query = f"?{urllib.parse.urlencode(req.query)}" if req.query else ""
        conn = _hub_connection(parts, CONNECT_TIMEOUT)
        try:
            conn.request("GET", parts.path + path + query, headers=headers)
            assert conn.sock is not None
            conn.sock.settimeout(STREAM_START)
            reply = conn.getresponse()
            if reply.status != 200:  # an error answer is small: pass it on whole
                answer = Response(reply.status, reply.read(1 << 20), reply.getheader("Content-Type", ""))
                conn.close()
                return answer
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            return error_response(502, f"node {node} did not answer: {_short(exc)}", "NODE_UNREACHABLE")
        conn.sock.settimeout(None)  # a log may be quiet for hours: the watch below decides when to end

        def online() -> bool:
            target = agent.view.nodes.get(node)
            return target is not None and target.status == "ONLINE"

        passed = [(k, v) for k, v in reply.getheaders() if k.lower() in STREAM_HEADERS]
        body = _relayed(conn, reply, req.socket, online)
        return Response(200, body, reply.getheader("Content-Type", ""), passed)

    def bulk_route(self, rule: str, handler: Handler) -> Handler:
        """startPrograms/stopPrograms with ``[{node, program}]``: each node gets its share, in parallel."""

        def route(req: Request) -> Response:
            agent = self.agent
            body = req.json()
            items = body.get("names") if isinstance(body, dict) else body
            if agent is None or not isinstance(items, list):
                return handler(req)
            local: list[Any] = []
            remote: dict[str, list[Any]] = {}
            for item in items:
                node = item.get("node") if isinstance(item, dict) else None
                if node in (None, "", agent.name, self.control.identifier):
                    local.append(
                        {**item, "node": self.control.identifier} if isinstance(item, dict) else item
                    )
                else:
                    remote.setdefault(str(node), []).append(item.get("program"))
            if not remote:
                return handler(dataclasses.replace(req, body=json.dumps(local).encode()))
            for node in remote:
                if node not in agent.view.nodes:
                    raise faults.BadName(f"no such node: {node}")
            parts: list[tuple[str, list[Any], Callable[[], Response]]] = []
            if local:
                local_req = dataclasses.replace(req, body=json.dumps(local).encode())
                parts.append((agent.name, local, lambda: handler(local_req)))
            for node, names in remote.items():
                sub = dataclasses.replace(req, body=json.dumps(names).encode())
                parts.append((node, names, functools.partial(self.forward, node, sub, rule)))
            jobs = [gevent.spawn(call) for _, _, call in parts]
            gevent.joinall(jobs)
            results: list[dict[str, Any]] = []
            for (node, names, _), job in zip(parts, jobs, strict=True):
                results.extend(_results(node, names, job))
            return json_response(
                {"success": all(r["code"] == "SUCCESS" for r in results), "results": results}
            )

        return route


@functools.cache
def _hub_connections() -> tuple[type[Any], type[Any]]:
    """http.client's connections on gevent's sockets, made on first use (only a relay needs http.client)."""
    import http.client

    import gevent.socket
    import gevent.ssl

    class HubHTTP(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = gevent.socket.create_connection((self.host, self.port), self.timeout)

    class HubHTTPS(http.client.HTTPSConnection):
        def connect(self) -> None:
            sock = gevent.socket.create_connection((self.host, self.port), self.timeout)
            self.sock = gevent.ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)

    return HubHTTP, HubHTTPS


def _hub_connection(parts: urllib.parse.SplitResult, timeout: float) -> Any:
    https = parts.scheme == "https"
    cls = _hub_connections()[1 if https else 0]
    return cls(parts.hostname, parts.port or (443 if https else 80), timeout=timeout)


def _relayed(conn: Any, reply: Any, sock: Any, online: Callable[[], bool]) -> Iterator[bytes]:
    """The relayed body: the node's bytes as they come, until either end goes (then both are closed).

    A client that hangs up is noticed at the next write, or by a watch every STREAM_WATCH seconds (a peek
    at its socket, as the local feed does at its keep-alives), which also ends the relay when the fleet
    sees the node go OFFLINE: the watch shuts the node's socket down, so the read in progress returns.
    The watch is a greenlet of the relay's lifetime, killed with it; nothing is left behind.
    """
    import http.client
    import socket

    from supervisord.web.logtail import _client_gone

    def watch() -> None:
        while not _client_gone(sock) and online():
            gevent.sleep(STREAM_WATCH)
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):  # already closed
            pass

    watcher = gevent.spawn(watch)
    try:
        while True:
            try:
                data = reply.read1(STREAM_CHUNK)
            except (OSError, ValueError, http.client.HTTPException):
                return  # the node or the client went away: the client (if any) reconnects
            if not data:
                return
            yield data
    finally:
        watcher.kill(block=False)
        conn.close()


def _results(node: str, names: list[Any], job: Any) -> list[dict[str, Any]]:
    """One part's results, each naming its node; a part that failed whole gives each name its error."""
    reply: Response | None = job.value
    if job.exception is not None or reply is None:
        err = job.exception
        code, text = (err.name, err.text) if isinstance(err, faults.Fault) else ("FAILED", repr(err))
    else:
        try:
            data = json.loads(reply.body if isinstance(reply.body, bytes) else b"".join(reply.body))
        except ValueError:
            data = {"error": "not JSON", "code": "FAILED"}
        if reply.status == 200 and isinstance(data.get("results"), list):
            return [{**r, "node": node} for r in data["results"]]
        code, text = str(data.get("code", "FAILED")), str(data.get("error", reply.status))
    return [
        {
            "node": node,
            "name": str(n.get("program") if isinstance(n, dict) else n),
            "code": code,
            "description": text,
        }
        for n in names
    ]


def _fill(rule: str, args: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        return urllib.parse.quote(args[match.group(1)], safe=":@")

    return re.sub(r"<(\w+)(?::re:[^>]+)?>", one, rule)


def _call(
    method: str,
    url: str,
    query: dict[str, str],
    body: bytes,
    headers: dict[str, str],
    auth: tuple[str, str] | None,
) -> tuple[int, str, bytes, list[tuple[str, str]]]:
    import requests

    reply = requests.request(
        method,
        url,
        params=query,
        data=body or None,
        headers=headers,
        auth=auth,
        timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
        allow_redirects=False,
    )
    passed = [(k, v) for k, v in reply.headers.items() if k.lower() in PASSED_HEADERS]
    return reply.status_code, reply.headers.get("Content-Type", "application/json"), reply.content, passed


def _short(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
