"""Refuse cross-site browser requests that change state, as Go 1.25's ``http.CrossOriginProtection`` does.

A browser that holds basic-auth credentials for the daemon would otherwise let any page it visits stop a
process (a form or a no-cors ``fetch`` POST to ``/program/stop/x`` or ``/RPC2``). Browsers say where a
request comes from: ``Sec-Fetch-Site`` (all current ones) or at least ``Origin``. A state-changing request
whose source is another site gets 403 and changes nothing; a request with neither header (supervisorctl,
curl, scripts) is not from a browser and passes.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BODY = b'{"error":"cross-site request refused","code":"FAILED"}'


def cross_site(environ: dict[str, Any]) -> bool:
    """True when a browser says this unsafe request comes from another site."""
    if environ.get("REQUEST_METHOD", "GET") in SAFE_METHODS:
        return False
    fetch_site = environ.get("HTTP_SEC_FETCH_SITE")
    if fetch_site is not None:
        return fetch_site.strip().lower() not in ("same-origin", "none")
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return False
    parsed = urllib.parse.urlsplit(origin.strip())
    host = environ.get("HTTP_HOST", "")
    return not parsed.netloc or parsed.netloc.lower() != host.lower()


class CrossSiteGuard:
    """WSGI middleware in front of every surface (XML-RPC and logtail included)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if cross_site(environ):
            start_response(
                "403 Forbidden",
                [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(BODY)))],
            )
            return [BODY]
        return self.app(environ, start_response)
