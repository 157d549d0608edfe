"""The one Bottle app every listener serves, wrapped in HTTP Basic auth when credentials are configured."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supervisord.daemon import Daemon

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
UNAUTHORIZED_HTML = b"<html><head><title>Unauthorized</title></head><body>Unauthorized</body></html>"
UNAUTHORIZED_JSON = b'{"error":"credentials needed","code":"UNAUTHORIZED"}'
JSON_PREFIXES = ("/program/", "/group/", "/supervisor/", "/api/")


def password_matches(configured: str, given: str) -> bool:
    """Constant-time check of a plain or ``{SHA}``+hex-sha1 password."""
    if configured.startswith("{SHA}"):
        digest = hashlib.sha1(given.encode()).hexdigest()
        return hmac.compare_digest(configured[5:].lower().encode(), digest.encode())
    return hmac.compare_digest(configured.encode(), given.encode())


class BasicAuth:
    """WSGI middleware: every route (RPC, logtail, GUI, static, 404s) needs the credentials."""

    def __init__(
        self, app: WSGIApp, username: str, password: str, open_paths: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.username = username
        self.password = password
        self.open_paths = open_paths  # GETs answered without credentials (``metrics_auth = false``)

    def _authorized(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        user_ok = hmac.compare_digest(user.encode(), self.username.encode())
        return password_matches(self.password, password) and user_ok

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self._authorized(environ.get("HTTP_AUTHORIZATION", "")) or (
            environ.get("PATH_INFO") in self.open_paths and environ.get("REQUEST_METHOD") == "GET"
        ):
            return self.app(environ, start_response)
        body, content_type = UNAUTHORIZED_HTML, "text/html"
        if environ.get("PATH_INFO", "").startswith(JSON_PREFIXES):  # the REST API answers in JSON
            body, content_type = UNAUTHORIZED_JSON, "application/json; charset=utf-8"
        start_response(
            "401 Unauthorized",
            [
                ("WWW-Authenticate", 'Basic realm="default"'),
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ],
        )
        return [body]


class LazyApp:
    """A WSGI app built on the first request that reaches it.

    Why: every XML-RPC call and every logtail stream is answered before Bottle (RPCFront, LogTail), so a
    daemon driven by supervisorctl never needs Bottle and what it imports (``json``, ``http.cookies``,
    ``configparser``…: about 2 MB of resident memory); it is loaded when a request for another surface or
    a malformed call first arrives.
    """

    def __init__(self, factory: Callable[[], WSGIApp]) -> None:
        self.factory = factory
        self.app: WSGIApp | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.app is None:
            self.app = self.factory()
        return self.app(environ, start_response)


def build_app(daemon: Daemon) -> WSGIApp:
    """Assemble every HTTP surface into one WSGI app (auth is added per listener, see for_listener)."""
    from supervisord.web import logtail, surfaces, xmlrpc
    from supervisord.web.crosssite import CrossSiteGuard

    live = surfaces.Live(daemon)  # from now on: the live feed counts and keeps every state event
    dispatcher = xmlrpc.install(daemon, live.control)  # XML-RPC shares the one control service

    def bottle_app() -> WSGIApp:
        import bottle

        app = bottle.Bottle(catchall=True, autojson=True)
        # Surfaces register their routes here (xmlrpc's slow path; rest, gui, metrics).
        xmlrpc.add_routes(app, dispatcher, daemon)
        wsgi: WSGIApp = live.mount(app)  # REST, SSE, metrics and the GUI answer before Bottle
        return wsgi

    front = logtail.LogTail(xmlrpc.RPCFront(LazyApp(bottle_app), dispatcher, daemon), live.control)
    wsgi: WSGIApp = CrossSiteGuard(front)
    for name in ("inet_http_server", "unix_http_server"):
        section = getattr(daemon.config, name)
        if section is not None and not section.username:
            daemon.logger.critical("Server %r running without any HTTP authentication checking", name)
    return wsgi


def for_listener(app: WSGIApp, section: Any) -> WSGIApp:
    """The app as one listener serves it: each server section has its own credentials, as in Supervisor."""
    if section is not None and section.username:
        open_paths = frozenset() if getattr(section, "metrics_auth", True) else frozenset({"/metrics"})
        return BasicAuth(app, section.username, section.password or "", open_paths)
    return app
