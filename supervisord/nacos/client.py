"""A small client for Nacos's HTTP Open API v1 (config service), on ``requests``.

What it speaks (Nacos 1.x/2.x, ``/nacos/v1``):

* ``POST /nacos/v1/auth/login`` (form ``username``, ``password``) → ``{"accessToken", "tokenTtl"}``; the
  token rides as the ``accessToken`` query parameter and is renewed once 90% of its life has passed, or at
  once when a server answers 403 (expired or unknown token);
* ``GET /nacos/v1/cs/configs?dataId&group&tenant`` → the content (404: no such config);
* ``POST /nacos/v1/cs/configs`` (form ``dataId, group, tenant, content, type``) publishes; a ``casMd5``
  *header* makes it compare-and-set (the server answers an error when the stored MD5 differs);
* ``DELETE /nacos/v1/cs/configs?dataId&group&tenant``;
* ``POST /nacos/v1/cs/configs/listener``, form ``Listening-Configs = dataId^2group^2md5[^2tenant]^1`` with
  header ``Long-Pulling-Timeout``: the server holds the request until the config's MD5 differs from ours
  (answering the URL-encoded ``dataId^2group[^2tenant]^1`` lines that changed) or the timeout passes (an
  empty answer). ``^1``/``^2`` are the characters 0x01/0x02.

Every call has a timeout; a refused connection, a timeout or a 5xx moves on to the next server of the list,
and a round over all of them is retried with a growing pause. Each failure is one log line naming the server
and the reason; only the last one is raised.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import urllib.parse
from typing import Any

import requests

from supervisord.nacos.errors import (
    NacosConflict,
    NacosDenied,
    NacosError,
    NacosNotFound,
    NacosUnavailable,
)
from supervisord.nacos.settings import NacosSettings, md5_hex

__all__ = ["NacosClient", "NacosConflict", "NacosDenied", "NacosError", "NacosNotFound", "NacosUnavailable"]

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
LONG_POLL_MS = 30000
WORD = "\x02"
LINE = "\x01"
CONFIGS = "/nacos/v1/cs/configs"
LISTENER = "/nacos/v1/cs/configs/listener"
LOGIN = "/nacos/v1/auth/login"
_TOKEN = re.compile(r"(accessToken=)[^&\s'\"]+")


class NacosClient:
    def __init__(
        self,
        settings: NacosSettings,
        logger: logging.Logger,
        *,
        rounds: int = 3,
        backoff: float = 0.2,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.logger = logger
        self.rounds = rounds
        self.backoff = backoff
        self.read_timeout = read_timeout
        self._local = threading.local()  # a Session per thread: the long poll runs beside the others
        self._token_lock = threading.Lock()
        self._token = ""
        self._token_renew_at = 0.0
        self._preferred = 0  # index of the last server that answered

    # -- plumbing --

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # a proxy from the environment must not see our credentials
            self._local.session = session
        return session

    def _servers(self) -> list[str]:
        servers = list(self.settings.servers)
        first = self._preferred % len(servers)
        return servers[first:] + servers[:first]

    def _token_for(self, server: str, force: bool = False) -> str:
        """A valid access token ("" when no username is set), logging in on ``server`` if needed."""
        if not self.settings.username:
            return ""
        with self._token_lock:
            if self._token and not force and time.monotonic() < self._token_renew_at:
                return self._token
            reply = self._session().post(
                server + LOGIN,
                data={"username": self.settings.username, "password": self.settings.password},
                timeout=(CONNECT_TIMEOUT, self.read_timeout),
            )
            if reply.status_code in (401, 403):
                raise NacosDenied(f"login as {self.settings.username!r} refused by {server}: {_brief(reply)}")
            if reply.status_code != 200:
                raise _ServerError(f"login answered {_brief(reply)}")
            try:
                body = reply.json()
                token, ttl = str(body["accessToken"]), float(body.get("tokenTtl", 18000))
            except (ValueError, KeyError, TypeError):
                raise _ServerError(f"login answered no accessToken: {_brief(reply)}") from None
            self._token, self._token_renew_at = token, time.monotonic() + ttl * 0.9
            return token

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        read_timeout: float | None = None,
        rounds: int | None = None,
    ) -> requests.Response:
        """One request to the first server that answers it; 4xx answers are returned to the caller."""
        last = "no server configured"
        rounds = self.rounds if rounds is None else rounds
        for attempt in range(rounds):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            failures = []
            for index, server in enumerate(self._servers()):
                try:
                    reply = self._once(server, method, path, params, data, headers, read_timeout)
                except (requests.RequestException, _ServerError) as exc:
                    failures.append(f"{server}: {_reason(exc)}")
                    last = "; ".join(failures)
                    self.logger.warning("nacos: %s %s on %s failed: %s", method, path, server, _reason(exc))
                    continue
                self._preferred = (self._preferred + index) % len(self.settings.servers)
                return reply
        raise NacosUnavailable(f"no Nacos server answered {method} {path} ({last})")

    def _once(
        self,
        server: str,
        method: str,
        path: str,
        params: dict[str, str] | None,
        data: dict[str, str] | None,
        headers: dict[str, str] | None,
        read_timeout: float | None,
    ) -> requests.Response:
        for fresh in (False, True):
            query = dict(params or {})
            token = self._token_for(server, force=fresh)
            if token:
                query["accessToken"] = token
            reply = self._session().request(
                method,
                server + path,
                params=query,
                data=data,
                headers=headers,
                timeout=(CONNECT_TIMEOUT, read_timeout or self.read_timeout),
            )
            if reply.status_code == 403 and token and not fresh:
                self.logger.info("nacos: %s refused our token (%s); logging in again", server, _brief(reply))
                continue
            if reply.status_code >= 500 and not _cas_failure(reply, headers):
                raise _ServerError(_brief(reply))
            return reply
        if reply.status_code == 403:
            raise NacosDenied(f"{server} refused access: {_brief(reply)}")
        return reply

    def _key(self) -> dict[str, str]:
        key = {"dataId": self.settings.data_id, "group": self.settings.group}
        if self.settings.tenant:
            key["tenant"] = self.settings.tenant
        return key

    # -- the config --

    def get(self, rounds: int | None = None) -> tuple[str, str]:
        """(content, md5) of our dataId; NacosNotFound when it does not exist."""
        reply = self._call("GET", CONFIGS, params=self._key(), rounds=rounds)
        if reply.status_code == 404:
            raise NacosNotFound(self.describe() + " does not exist")
        _expect_ok(reply, "GET config")
        reply.encoding = "utf-8"
        text = reply.text
        return text, md5_hex(text)

    def publish(self, content: str, cas_md5: str | None = None) -> str:
        """Publish ``content`` (compare-and-set against ``cas_md5`` when given); return its MD5."""
        headers = {"casMd5": cas_md5} if cas_md5 else None
        form = {**self._key(), "content": content, "type": "text"}
        reply = self._call("POST", CONFIGS, data=form, headers=headers)
        if _cas_failure(reply, headers):
            raise NacosConflict(f"{self.describe()} was changed by someone else since it was read")
        _expect_ok(reply, "publish")
        answer = reply.text.replace(" ", "").lower()
        if answer.strip() not in ("true", "") and '"data":true' not in answer:
            raise NacosError(f"publish answered {_brief(reply)}")
        return md5_hex(content)

    def delete(self) -> None:
        reply = self._call("DELETE", CONFIGS, params=self._key())
        _expect_ok(reply, "delete")

    def listen(self, md5: str, hold_ms: int = LONG_POLL_MS) -> bool:
        """Long-poll once: True when the server says our dataId's MD5 is no longer ``md5``."""
        probe = WORD.join([self.settings.data_id, self.settings.group, md5])
        if self.settings.tenant:
            probe += WORD + self.settings.tenant
        reply = self._call(
            "POST",
            LISTENER,
            data={"Listening-Configs": probe + LINE},
            headers={"Long-Pulling-Timeout": str(hold_ms)},
            read_timeout=hold_ms / 1000 * 1.5 + 1,
            rounds=1,
        )
        _expect_ok(reply, "listen")
        for line in urllib.parse.unquote_plus(reply.text).split(LINE):  # Java URLEncoder form
            fields = line.split(WORD)
            if len(fields) >= 2 and fields[0] == self.settings.data_id and fields[1] == self.settings.group:
                return True
        return False

    def describe(self) -> str:
        ns = self.settings.namespace or "public"
        return f"Nacos config dataId={self.settings.data_id} group={self.settings.group} namespace={ns}"


class _ServerError(Exception):
    """A 5xx or an unusable answer: try the next server."""


def _cas_failure(reply: requests.Response, headers: dict[str, str] | None) -> bool:
    if not headers or "casMd5" not in headers or reply.status_code < 400:
        return False
    text = reply.text.lower()
    return reply.status_code == 409 or "cas" in text or "conflict" in text


def _expect_ok(reply: requests.Response, what: str) -> None:
    if reply.status_code != 200:
        raise NacosError(f"{what} answered {_brief(reply)}")


def _brief(reply: requests.Response) -> str:
    text = " ".join(reply.text.split())[:200]
    return f"HTTP {reply.status_code}" + (f" {text}" if text else "")


def _reason(exc: Any) -> str:
    if isinstance(exc, requests.ConnectTimeout | requests.ReadTimeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or reset"
    return _TOKEN.sub(r"\1<hidden>", str(exc))  # a URL in the message must not leak the token
