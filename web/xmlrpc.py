"""Supervisor 4.3's XML-RPC API at ``POST /RPC2`` (python-supervisor.md §1).

The HTTP part (parse, dispatch, marshal, the 400s) lives here; the method bodies live in
:mod:`supervisord.web.rpcmethods`, which turns each call into asks to the actors. Every handler runs in
its own greenlet on the hub, so a deferred call (``startProcess`` with ``wait``) simply waits on a
hub-safe future while other requests proceed.

Calls are answered by :class:`RPCFront`, a plain WSGI layer in front of Bottle, never inside a Bottle
route: ``bottle.request``/``bottle.response`` are *thread*-locals, and every greenlet runs on the hub's one
thread, so a call that waits (``startAllProcesses``) would find its response headers rebound by whatever
request ran meanwhile (a ``getPID`` in between made it send the ``getPID``'s Content-Length: a truncated
reply). Bottle keeps the error paths (non-POST, unparsable body), which never yield.
"""

from __future__ import annotations

import inspect
import io
import re
import xmlrpc.client
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import bottle

from supervisord.web.faults import RPCError, fault_code

if TYPE_CHECKING:
    from supervisord.daemon import Daemon

MAXINT = 2**31 - 1
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(data: bytes | str) -> str:
    """Text that always marshals: invalid UTF-8 and XML-illegal characters become U+FFFD.

    Supervisor answers HTTP 500 or malformed XML for such log bytes (#1485, #1293); a client would rather
    see a replacement character.
    """
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return _ILLEGAL_XML.sub("\ufffd", text)


def capped(value: int) -> int:
    """XML-RPC ints are 32-bit: clamp, like Supervisor's ``capped_int``."""
    return max(-MAXINT - 1, min(MAXINT, int(value)))


class Method:
    """One callable API entry: the function, its ``[return, params…]`` signature and its help text."""

    def __init__(self, fn: Callable[..., Any], signature: list[str]) -> None:
        self.fn = fn
        self.signature = signature
        self.help = inspect.getdoc(fn) or ""
        self.sig = inspect.signature(fn)


class Dispatcher:
    """Name → method table plus the ``system.*`` introspection and Supervisor's own multicall."""

    def __init__(self, gate: Callable[[str], None]) -> None:
        self.methods: dict[str, Method] = {}
        self.gate = gate  # raises SHUTDOWN_STATE for gated names while the daemon is stopping
        self.register("system.listMethods", self.list_methods, ["array"])
        self.register("system.methodHelp", self.method_help, ["string", "string"])
        self.register("system.methodSignature", self.method_signature, ["array", "string"])
        self.register("system.multicall", self.multicall, ["array", "array"])

    def register(self, name: str, fn: Callable[..., Any], signature: list[str]) -> None:
        self.methods[name] = Method(fn, signature)

    # -- system.* --

    def list_methods(self) -> list[str]:
        """Return an array listing the available method names."""
        return sorted(self.methods)

    def method_help(self, name: str) -> str:
        """Return the help text of the method named ``name``."""
        method = self.methods.get(name)
        if method is None:
            raise RPCError("SIGNATURE_UNSUPPORTED")
        return method.help

    def method_signature(self, name: str) -> list[str]:
        """Return ``[return type, param types…]`` of the method named ``name``."""
        method = self.methods.get(name)
        if method is None:
            raise RPCError("SIGNATURE_UNSUPPORTED")
        return list(method.signature)

    def multicall(self, calls: list[Any]) -> list[Any]:
        """Run several calls in order; each result is the bare value or a fault struct."""
        if not isinstance(calls, list):
            raise RPCError("INCORRECT_PARAMETERS")
        results: list[Any] = []
        for call in calls:
            try:
                if not isinstance(call, dict) or not call.get("methodName"):
                    raise RPCError("INCORRECT_PARAMETERS")
                name = call["methodName"]
                if name == "system.multicall":
                    raise RPCError("INCORRECT_PARAMETERS", "Recursive system.multicall forbidden")
                params = call.get("params", [])
                if not isinstance(params, list):
                    raise RPCError("INCORRECT_PARAMETERS")
                results.append(self.call(name, params))
            except RPCError as exc:
                results.append({"faultCode": exc.code, "faultString": exc.text})
            except Exception as exc:  # a bug in one call must not sink the others
                results.append({"faultCode": fault_code("FAILED"), "faultString": f"FAILED: {exc!r}"})
        return results

    # -- dispatch --

    def call(self, name: str, params: list[Any]) -> Any:
        parts = name.split(".")
        if len(parts) != 2 or any(not p or p.startswith("_") for p in parts):
            raise RPCError("UNKNOWN_METHOD")
        method = self.methods.get(name)
        if method is None:
            raise RPCError("UNKNOWN_METHOD")
        try:
            method.sig.bind(*params)
        except TypeError:
            raise RPCError("INCORRECT_PARAMETERS") from None
        self.gate(name)
        return method.fn(*params)


def _response(body: bytes) -> bytes:
    bottle.response.content_type = "text/xml"
    return body


# --- marshalling ---


class _Unmarshallable(Exception):
    """A value the fast marshaller does not know: let xmlrpc.client decide (it may raise TypeError)."""


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _escape(text: str) -> str:
    """xmlrpc.client.escape, without three replace() passes over text that needs none (nearly all)."""
    if "&" in text or "<" in text or ">" in text:
        return text.translate(_ESCAPES)
    return text


def _dump(value: Any, out: list[str]) -> None:
    """Append ``value`` exactly as ``xmlrpc.client.Marshaller`` writes it (same bytes, same errors).

    Why a second marshaller: the stdlib one dispatches through a dict of bound methods per value and was
    the largest single cost of ``getAllProcessInfo`` (3,000 values for 200 processes). This handles the
    types our methods return and defers everything else to the stdlib.
    """
    kind = type(value)
    if kind is str:
        out.append("<value><string>")
        out.append(_escape(value))
        out.append("</string></value>\n")
    elif kind is int:
        if value > MAXINT or value < -MAXINT - 1:
            raise OverflowError("int exceeds XML-RPC limits")
        out.append(f"<value><int>{value}</int></value>\n")
    elif kind is dict:
        out.append("<value><struct>\n")
        for key, item in value.items():
            if type(key) is not str:
                raise _Unmarshallable
            out.append(f"<member>\n<name>{_escape(key)}</name>\n")
            _dump(item, out)
            out.append("</member>\n")
        out.append("</struct></value>\n")
    elif kind is list or kind is tuple:
        out.append("<value><array><data>\n")
        for item in value:
            _dump(item, out)
        out.append("</data></array></value>\n")
    elif kind is bool:
        out.append(f"<value><boolean>{int(value)}</boolean></value>\n")
    else:
        raise _Unmarshallable


def dumps_response(result: Any) -> str:
    """``xmlrpc.client.dumps((result,), methodresponse=True)``, faster for plain structs/arrays/str/int."""
    out = ["<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n"]
    try:
        _dump(result, out)
    except _Unmarshallable:
        return xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False)
    out.append("</param>\n</params>\n</methodResponse>\n")
    return "".join(out)


def _marshal(result: Any) -> bytes:
    try:
        text = dumps_response(result)
    except (OverflowError, TypeError) as exc:
        fault = xmlrpc.client.Fault(fault_code("FAILED"), f"FAILED: unmarshallable result: {exc}")
        text = xmlrpc.client.dumps(fault, methodresponse=True)
    return text.encode("utf-8", "xmlcharrefreplace")


def _marshal_fault(code: int, text: str) -> bytes:
    fault = xmlrpc.client.Fault(code, xml_safe(text))
    return xmlrpc.client.dumps(fault, methodresponse=True).encode("utf-8", "xmlcharrefreplace")


def answer(dispatcher: Dispatcher, daemon: Daemon, name: str, params: tuple[Any, ...]) -> bytes:
    """The response body for one parsed call: the result, or a fault (a method's bug included)."""
    try:
        result = dispatcher.call(name, list(params))
    except RPCError as exc:
        return _marshal_fault(exc.code, exc.text)
    except Exception as exc:
        daemon.logger.critical("XML-RPC method %s raised: %r", name, exc, exc_info=True)
        return _marshal_fault(fault_code("FAILED"), f"FAILED: {exc!r}")
    return _marshal(result)


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            return bytes(stream.read(int(length)))
        except ValueError:
            pass
    return bytes(stream.read())


class RPCFront:
    """WSGI: ``POST /RPC2…`` with a well-formed call is answered here; everything else goes to ``app``.

    Nothing here is shared between requests, so a call may wait on actors (yielding to other greenlets)
    without another request changing its headers (see the module docstring).
    """

    def __init__(self, app: Any, dispatcher: Dispatcher, daemon: Daemon) -> None:
        self.app = app
        self.dispatcher = dispatcher
        self.daemon = daemon

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") != "POST" or not environ.get("PATH_INFO", "").startswith("/RPC2"):
            return self.app(environ, start_response)
        body = _read_body(environ)
        try:
            params, name = xmlrpc.client.loads(body, use_builtin_types=True)
        except Exception:
            name = None
        if not name:  # Bottle's route answers the 400, as before
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            return self.app(environ, start_response)
        out = answer(self.dispatcher, self.daemon, name, params)
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(out)))])
        return [out]


def install(app: bottle.Bottle, daemon: Daemon) -> Dispatcher:
    """Register ``/RPC2`` (a prefix match, as in Supervisor) with every API method.

    Wrap the WSGI app in :class:`RPCFront` (see :func:`front`) so calls bypass Bottle's shared locals.
    """
    from supervisord.web.rpcmethods import SupervisorAPI

    api = SupervisorAPI(daemon)
    dispatcher = Dispatcher(api.gate)
    api.register(dispatcher)
    daemon.logger.info("RPC interface 'supervisor' initialized")

    def rpc2(rest: str = "") -> bytes:
        """The slow path: what RPCFront passed on (a non-POST, an unparsable call), and direct callers."""
        if bottle.request.method != "POST":
            bottle.abort(400, "Bad Request")
        try:
            params, name = xmlrpc.client.loads(bottle.request.body.read(), use_builtin_types=True)
        except Exception:
            bottle.abort(400, "Bad Request")
        if not name:
            bottle.abort(400, "Bad Request")
        assert name is not None
        return _response(answer(dispatcher, daemon, name, params))

    app.route("/RPC2", method="ANY", callback=rpc2)
    app.route("/RPC2<rest:path>", method="ANY", callback=rpc2)
    return dispatcher
