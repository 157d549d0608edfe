"""A protocol-faithful fake of Nacos's config service (HTTP Open API v1), for tests: no Nacos can be
installed here (a Java server no reachable registry carries), so this speaks its wire format instead.

Built from Nacos's Open API documentation and its server source (ConfigController, ConfigServletInner,
LongPollingService, MD5Util, the auth filter):

* ``POST /nacos/v1/auth/login`` (and ``/nacos/v1/auth/users/login``), form ``username``/``password``:
  ``{"accessToken", "tokenTtl", "globalAdmin"}``, or 403 ``unknown user!``. With users configured, every
  other call needs ``?accessToken=``: missing → 403 ``user not found!``, unknown → 403 ``token invalid!``,
  past its life → 403 ``token expired!``.
* Configs are keyed by (tenant, group, dataId); the tenant ``public`` is the empty tenant. ``GET`` answers
  the content with ``Content-MD5`` (404 ``config data not exist``); ``POST`` publishes (400 without
  dataId/group/content), compare-and-set with a ``casMd5`` header (a mismatch is a 500 whose message says
  the CAS failed, as Nacos 2 answers); ``DELETE`` removes. Both answer ``true``.
* ``POST /nacos/v1/cs/configs/listener``, form ``Listening-Configs`` (``dataId^2group^2md5[^2tenant]^1``…):
  without ``Long-Pulling-Timeout`` it answers at once; with it, it holds the request until one of the listed
  configs has another MD5 (``""`` for a missing one) or the timeout passes, then answers the URL-encoded
  ``dataId^2group[^2tenant]^1`` lines that differ (empty when none), encoded as Java's URLEncoder does.
* Outages: :meth:`stop` (connection refused; :meth:`start` again on the same port), ``mode = "500"`` (every
  call a 500), ``mode = "timeout"`` (calls are held without an answer until the mode changes or it stops).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORD, LINE = "\x02", "\x01"


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class FakeNacos:
    def __init__(self, users: dict[str, str] | None = None, token_ttl: float = 18000.0) -> None:
        self.users = users or {}
        self.token_ttl = token_ttl
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.configs: dict[tuple[str, str, str], str] = {}
        self.mode = "ok"
        self.cond = threading.Condition()
        self.calls: list[tuple[str, str, int]] = []  # (method, path, status) of every answered call
        self.logins = 0
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # -- life --

    def start(self) -> FakeNacos:
        fake = self

        class Handler(_Handler):
            nacos = fake

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self.server = server
        self.mode = "ok"
        self.thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        """Close the port: from now on a connection is refused (held requests are dropped unanswered)."""
        if self.server is None:
            return
        with self.cond:
            self.mode = "down"
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()
        assert self.thread is not None
        self.thread.join(5)
        self.server = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- the test's side --

    def publish(self, data_id: str, content: str, group: str = "DEFAULT_GROUP", tenant: str = "") -> None:
        with self.cond:
            self.configs[(_tenant(tenant), group, data_id)] = content
            self.cond.notify_all()

    def content(self, data_id: str, group: str = "DEFAULT_GROUP", tenant: str = "") -> str | None:
        with self.cond:
            return self.configs.get((_tenant(tenant), group, data_id))

    def set_mode(self, mode: str) -> None:
        with self.cond:
            self.mode = mode
            self.cond.notify_all()

    def expire_tokens(self) -> None:
        with self.cond:
            self.tokens = {token: 0.0 for token in self.tokens}

    def count(self, method: str, path: str, status: int | None = None) -> int:
        return sum(1 for m, p, s in list(self.calls) if m == method and p == path and status in (None, s))


def _tenant(tenant: str) -> str:
    return "" if tenant in ("", "public") else tenant


class _Handler(BaseHTTPRequestHandler):
    nacos: FakeNacos
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing --

    def _reply(
        self, status: int, body: str, content_type: str = "text/plain;charset=UTF-8", **headers: str
    ) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)
        self.nacos.calls.append((self.command, urllib.parse.urlsplit(self.path).path, status))

    def _params(self) -> dict[str, str]:
        url = urllib.parse.urlsplit(self.path)
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length).decode("utf-8")
            form = urllib.parse.parse_qs(body, keep_blank_values=True)
            params.update({k: v[-1] for k, v in form.items()})
        return params

    def _outage(self) -> bool:
        """True when the call was dealt with by the outage mode (a 500, or held without an answer)."""
        nacos = self.nacos
        with nacos.cond:
            while nacos.mode == "timeout":
                nacos.cond.wait(0.1)
            mode = nacos.mode
        if mode == "500":
            self._reply(500, "Internal Server Error: the fake is in outage mode")
            return True
        if mode == "down":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        return False

    def _authorized(self, params: dict[str, str]) -> bool:
        nacos = self.nacos
        if not nacos.users:
            return True
        token = params.get("accessToken")
        if not token:
            self._reply(403, "user not found!")
            return False
        with nacos.cond:
            expiry = nacos.tokens.get(token)
        if expiry is None:
            self._reply(403, "token invalid!")
            return False
        if time.monotonic() >= expiry:
            self._reply(403, "token expired!")
            return False
        return True

    # -- verbs --

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        path = urllib.parse.urlsplit(self.path).path
        params = self._params()
        if self._outage():
            return
        if method == "POST" and path in ("/nacos/v1/auth/login", "/nacos/v1/auth/users/login"):
            return self._login(params)
        if not self._authorized(params):
            return
        if path == "/nacos/v1/cs/configs":
            return {"GET": self._get, "POST": self._publish, "DELETE": self._delete}[method](params)
        if path == "/nacos/v1/cs/configs/listener" and method == "POST":
            return self._listen(params)
        self._reply(404, json.dumps({"status": 404, "error": "Not Found", "path": path}), "application/json")

    def _login(self, params: dict[str, str]) -> None:
        nacos = self.nacos
        user, password = params.get("username", ""), params.get("password", "")
        if not nacos.users or nacos.users.get(user) != password:
            return self._reply(403, "unknown user!")
        token = secrets.token_hex(16)
        with nacos.cond:
            nacos.tokens[token] = time.monotonic() + nacos.token_ttl
            nacos.logins += 1
        body = {"accessToken": token, "tokenTtl": int(nacos.token_ttl), "globalAdmin": True, "username": user}
        self._reply(200, json.dumps(body), "application/json")

    def _key(self, params: dict[str, str]) -> tuple[str, str, str] | None:
        data_id, group = params.get("dataId", ""), params.get("group", "")
        if not data_id or not group:
            self._reply(400, "caused: Required parameter 'dataId' or 'group' is not present;")
            return None
        return (_tenant(params.get("tenant", "")), group, data_id)

    def _get(self, params: dict[str, str]) -> None:
        key = self._key(params)
        if key is None:
            return
        with self.nacos.cond:
            content = self.nacos.configs.get(key)
        if content is None:
            return self._reply(404, "config data not exist")
        self._reply(200, content, Content_MD5=md5(content), Config_Type="text")

    def _publish(self, params: dict[str, str]) -> None:
        key = self._key(params)
        if key is None:
            return
        content = params.get("content")
        if not content:
            return self._reply(400, "caused: Required parameter 'content' is not present;")
        cas = self.headers.get("casMd5")
        nacos = self.nacos
        with nacos.cond:
            old = nacos.configs.get(key)
            if cas and old is not None and md5(old) != cas:
                conflict = {"code": 500, "message": "Cas publish fail, server md5 may have changed."}
                return self._reply(500, json.dumps(conflict), "application/json")
            nacos.configs[key] = content
            nacos.cond.notify_all()
        self._reply(200, "true")

    def _delete(self, params: dict[str, str]) -> None:
        key = self._key(params)
        if key is None:
            return
        with self.nacos.cond:
            self.nacos.configs.pop(key, None)
            self.nacos.cond.notify_all()
        self._reply(200, "true")

    def _listen(self, params: dict[str, str]) -> None:
        probe = params.get("Listening-Configs")
        if not probe:
            return self._reply(400, "invalid probeModify")
        wanted = []
        for line in probe.split(LINE):
            if not line:
                continue
            fields = line.split(WORD)
            if len(fields) not in (3, 4):
                return self._reply(400, "invalid probeModify")
            data_id, group, client_md5 = fields[:3]
            tenant = fields[3] if len(fields) == 4 else ""
            wanted.append((data_id, group, _tenant(tenant), client_md5))
        hold = self.headers.get("Long-Pulling-Timeout")
        deadline = time.monotonic() + (int(hold) / 1000 if hold else 0)
        nacos = self.nacos
        with nacos.cond:
            while True:
                changed = [(d, g, t) for d, g, t, m in wanted if _md5_of(nacos.configs.get((t, g, d))) != m]
                left = deadline - time.monotonic()
                if changed or left <= 0 or nacos.mode != "ok":
                    break
                nacos.cond.wait(min(left, 0.2))
        if nacos.mode == "down":
            return
        lines = "".join(d + WORD + g + (WORD + t if t else "") + LINE for d, g, t in changed)
        self._reply(200, urllib.parse.quote_plus(lines), Pragma="no-cache", Cache_Control="no-cache,no-store")


def _md5_of(content: str | None) -> str:
    return "" if content is None else md5(content)
