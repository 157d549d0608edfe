"""etcd v3 through etcd3gw (etcd's HTTP/JSON gateway over requests): endpoints, TLS and etcd's own auth.

etcd3gw speaks the gateway's KV, lease and watch calls; what it lacks is failing over between endpoints and
etcd authentication (the gateway wants a token from ``/v3/auth/authenticate`` in an ``Authorization``
header). Both are added here and nothing else: each call goes to one endpoint; a connection error moves on
to the next one and raises :class:`StoreDown`, which the agent treats as "etcd is away for now".
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

import etcd3gw
import requests
from etcd3gw import exceptions as etcd_errors
from etcd3gw.lease import Lease

from supervisord.config.model import FleetConfig

T = TypeVar("T")


class StoreDown(Exception):
    """etcd cannot be reached (or refused us) right now."""


class LeaseGone(Exception):
    """etcd answered that our lease does not exist (it expired, or etcd lost it): register again."""


class Store:
    def __init__(self, cfg: FleetConfig, timeout: float) -> None:
        self.cfg = cfg
        self.timeout = timeout
        self.index = 0
        self.client = self._client(cfg.etcd[0])

    def _client(self, endpoint: str) -> etcd3gw.Etcd3Client:
        parts = urllib.parse.urlsplit(endpoint)
        session = requests.Session()
        if self.cfg.cafile:
            session.verify = self.cfg.cafile
        if self.cfg.certfile and self.cfg.keyfile:
            session.cert = (self.cfg.certfile, self.cfg.keyfile)
        return etcd3gw.Etcd3Client(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 2379,
            protocol=parts.scheme,
            timeout=self.timeout,
            session=session,
        )

    @property
    def endpoint(self) -> str:
        return self.cfg.etcd[self.index]

    def _next_endpoint(self) -> None:
        self.client.session.close()
        self.index = (self.index + 1) % len(self.cfg.etcd)
        self.client = self._client(self.endpoint)

    def _authenticate(self) -> None:
        """etcd auth: a token for the configured user, sent on every later call (etcd3gw has no auth)."""
        answer = self.client.post(
            self.client.get_url("/auth/authenticate"),
            json={"name": self.cfg.username, "password": self.cfg.password},
        )
        self.client.session.headers["Authorization"] = answer["token"]

    def call(self, fn: Callable[[etcd3gw.Etcd3Client], T]) -> T:
        """``fn(client)``; a dead endpoint or a refusal is :class:`StoreDown` (a stale token is renewed)."""
        for attempt in (1, 2):
            try:
                if self.cfg.username and "Authorization" not in self.client.session.headers:
                    self._authenticate()
                return fn(self.client)
            except (etcd_errors.ConnectionFailedError, etcd_errors.ConnectionTimeoutError) as exc:
                endpoint = self.endpoint
                self._next_endpoint()
                raise StoreDown(f"{endpoint}: {_short(exc)}") from None
            except etcd_errors.Etcd3Exception as exc:
                text = str(getattr(exc, "detail_text", "") or exc)
                if "lease not found" in text:
                    raise LeaseGone(text[:200]) from None
                if self.cfg.username and "auth" in text.lower() and attempt == 1:
                    self.client.session.headers.pop("Authorization", None)  # expired token: log in again
                    continue
                raise StoreDown(f"{self.endpoint}: {_short(exc)} {text[:200]}") from None
            except (requests.RequestException, ValueError, KeyError) as exc:
                endpoint = self.endpoint
                self._next_endpoint()
                raise StoreDown(f"{endpoint}: {_short(exc)}") from None
        raise StoreDown(f"{self.endpoint}: authentication failed")

    # -- the few operations the fleet uses --

    def grant(self, ttl: int) -> Lease:
        return self.call(lambda c: c.lease(ttl))

    def keepalive(self, lease: Lease) -> int:
        """The lease's new TTL, or -1 when it has already expired."""
        return int(self.call(lambda c: Lease(lease.id, c).refresh()))

    def revoke(self, lease: Lease) -> None:
        self.call(lambda c: Lease(lease.id, c).revoke())

    def put(self, key: str, value: Any, lease: Lease | None = None) -> None:
        data = json.dumps(value, separators=(",", ":"))
        self.call(lambda c: c.put(key, data, lease=Lease(lease.id, c) if lease else None))

    def create(self, key: str, value: Any, lease: Lease) -> bool:
        """Put only if ``key`` does not exist (one transaction)."""
        data = json.dumps(value, separators=(",", ":"))
        return bool(self.call(lambda c: c.create(key, data, lease=Lease(lease.id, c))))

    def get_prefix(self, prefix: str) -> list[tuple[str, bytes, int]]:
        """(key, value, lease id) for every key under ``prefix``."""
        found = self.call(lambda c: c.get_prefix(prefix))
        out = []
        for value, meta in found:
            key = meta["key"].decode() if isinstance(meta["key"], bytes) else str(meta["key"])
            out.append((key, value, int(meta.get("lease", 0) or 0)))
        return out

    def close(self) -> None:
        self.client.session.close()


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
