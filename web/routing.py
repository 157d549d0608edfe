"""Routes as plain functions of a parsed request, returning a response object, behind one WSGI adapter.

Why not Bottle routes: ``bottle.request``/``bottle.response`` are thread-locals and every request greenlet
runs on the hub's one thread, so a route that waits on an actor would find them rebound by whatever request
ran meanwhile (the XML-RPC front had that bug once). Here a handler receives a :class:`Request` built from
*its* environ before it runs, and hands back a :class:`Response` the adapter sends: nothing global is there to
touch, so the safe way is the only way. Bottle still does the matching (its :class:`bottle.Router`, which
has no thread-local state), and describes every route for the OpenAPI document.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from supervisord import faults
from supervisord.web.server import SOCKET_KEY

BODY_MAX = 1024 * 1024  # a JSON body larger than this is refused (413) before it is read
JSON_TYPE = "application/json; charset=utf-8"

# How each domain error reads over HTTP.
STATUS = {
    "BAD_NAME": 404,
    "NO_FILE": 404,
    "UNKNOWN_METHOD": 404,
    "ALREADY_STARTED": 409,
    "NOT_RUNNING": 409,
    "ALREADY_ADDED": 409,
    "STILL_RUNNING": 409,
    "SHUTDOWN_STATE": 503,
    "BAD_SIGNAL": 400,
    "BAD_ARGUMENTS": 400,
    "INCORRECT_PARAMETERS": 400,
    "SIGNATURE_UNSUPPORTED": 400,
    "CANT_REREAD": 400,
}
REASONS = {
    200: "OK",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Payload Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Request:
    """Everything a handler may know about its request, copied out of the WSGI environ."""

    method: str
    path: str
    args: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    socket: Any = None  # the client's socket, so a stream can notice a hang-up

    def json(self) -> Any:
        """The body as JSON; a :class:`~supervisord.faults.BadArguments` (400) when it is not."""
        try:
            return json.loads(self.body.decode("utf-8")) if self.body.strip() else None
        except (UnicodeDecodeError, ValueError) as exc:
            raise faults.BadArguments(f"the body is not JSON: {exc}") from None

    def flag(self, name: str, default: bool) -> bool:
        value = self.query.get(name)
        if value is None:
            return default
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise faults.BadArguments(f"{name} must be true or false")

    def integer(self, name: str, default: int | None) -> int | None:
        value = self.query.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise faults.BadArguments(f"{name} must be an integer") from None


@dataclass
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(value: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(value, separators=(",", ":")).encode())


def error_response(status: int, text: str, code: str) -> Response:
    return json_response({"error": text, "code": code}, status)


def fault_response(err: faults.Fault) -> Response:
    return error_response(STATUS.get(err.name, 500), err.text, err.name)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    rule: str  # Bottle syntax: /program/start/<name>
    handler: Handler
    doc: dict[str, Any]  # the OpenAPI operation (summary, parameters, requestBody, responses)
    body: bool = False  # the handler reads a body (else any body is ignored unread)


class Routes:
    """A route table: Bottle's matcher plus what the OpenAPI document says about each route."""

    def __init__(self) -> None:
        import bottle

        self.router = bottle.Router()
        self.table: list[Route] = []

    def add(self, methods: str | tuple[str, ...], rule: str, handler: Handler, **doc: Any) -> None:
        if isinstance(methods, str):
            methods = (methods,)
        body = bool(doc.pop("body", False))
        route = Route(methods, rule, handler, doc, body)
        self.table.append(route)
        for method in methods:
            self.router.add(rule, method, route)

    def match(
        self, environ: dict[str, Any]
    ) -> tuple[Route | None, dict[str, str], int, list[tuple[str, str]]]:
        """(route, args, 200, []) or (None, {}, 404/405, headers)."""
        import bottle

        try:
            route, args = self.router.match(environ)
        except bottle.HTTPError as exc:
            headers = [(k, v) for k, v in exc.headerlist if k.lower() == "allow"]
            return None, {}, exc.status_code, headers
        return route, args, 200, []


class RoutedApp:
    """WSGI: answer the paths ``routes`` knows, pass every other request on to ``fallback``.

    ``prefixes`` are the paths this app owns: under them an unknown route is a JSON 404, not the fallback's.
    """

    def __init__(self, routes: Routes, fallback: Any, prefixes: tuple[str, ...], logger: Any) -> None:
        self.routes = routes
        self.fallback = fallback
        self.prefixes = prefixes
        self.logger = logger

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "") or "/"
        route, args, status, headers = self.routes.match(environ)
        if route is None:
            if not any(path == p or path.startswith(p + "/") for p in self.prefixes) and status == 404:
                return self.fallback(environ, start_response)
            if status == 405:
                reply = error_response(405, "method not allowed", "UNKNOWN_METHOD")
                reply.headers += headers
            else:
                reply = error_response(status, f"no such route: {path}", "UNKNOWN_METHOD")
            return self._send(reply, start_response)
        try:
            request = self._request(environ, route, args)
            reply = route.handler(request)
        except faults.Fault as err:
            reply = fault_response(err)
        except _TooLarge:
            reply = error_response(413, f"the body is larger than {BODY_MAX} bytes", "BAD_ARGUMENTS")
        except Exception as exc:  # a bug must reach the log, never the client as a traceback
            self.logger.critical("%s %s raised: %r", environ.get("REQUEST_METHOD"), path, exc, exc_info=True)
            reply = error_response(500, f"internal error: {type(exc).__name__}", "FAILED")
        return self._send(reply, start_response)

    @staticmethod
    def _request(environ: dict[str, Any], route: Route, args: dict[str, str]) -> Request:
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()}
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        body = b""
        if route.body:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                raise faults.BadArguments("bad Content-Length") from None
            if length > BODY_MAX:
                raise _TooLarge()
            if length > 0:
                body = environ["wsgi.input"].read(length)
        return Request(
            method=environ.get("REQUEST_METHOD", "GET"),
            path=environ.get("PATH_INFO", ""),
            args=dict(args),  # PATH_INFO arrives percent-decoded
            query=query,
            headers=headers,
            body=body,
            socket=environ.get(SOCKET_KEY),
        )

    @staticmethod
    def _send(reply: Response, start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = [("Content-Type", reply.content_type), *reply.headers]
        body = reply.body
        if isinstance(body, bytes):
            headers.append(("Content-Length", str(len(body))))
            out: Iterable[bytes] = [body]
        else:
            out = body
        start_response(f"{reply.status} {REASONS.get(reply.status, 'Error')}", headers)
        return out


class _TooLarge(Exception):
    pass
