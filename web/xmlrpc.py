"""Supervisor 4.3's XML-RPC API at ``POST /RPC2`` (python-supervisor.md §1).

The HTTP part (parse, dispatch, marshal, the 400s) lives here; the method bodies live in
:mod:`supervisord.web.rpcmethods`, which turns each call into asks to the actors. Every handler runs in
its own greenlet on the hub, so a deferred call (``startProcess`` with ``wait``) simply waits on a
hub-safe future while other requests proceed.
"""

from __future__ import annotations

import inspect
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


def _marshal(result: Any) -> bytes:
    try:
        text = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False)
    except (OverflowError, TypeError) as exc:
        fault = xmlrpc.client.Fault(fault_code("FAILED"), f"FAILED: unmarshallable result: {exc}")
        text = xmlrpc.client.dumps(fault, methodresponse=True)
    return text.encode("utf-8", "xmlcharrefreplace")


def _marshal_fault(code: int, text: str) -> bytes:
    fault = xmlrpc.client.Fault(code, xml_safe(text))
    return xmlrpc.client.dumps(fault, methodresponse=True).encode("utf-8", "xmlcharrefreplace")


def install(app: bottle.Bottle, daemon: Daemon) -> Dispatcher:
    """Register ``/RPC2`` (a prefix match, as in Supervisor) with every API method."""
    from supervisord.web.rpcmethods import SupervisorAPI

    api = SupervisorAPI(daemon)
    dispatcher = Dispatcher(api.gate)
    api.register(dispatcher)
    daemon.logger.info("RPC interface 'supervisor' initialized")

    def rpc2(rest: str = "") -> bytes:
        if bottle.request.method != "POST":
            bottle.abort(400, "Bad Request")
        try:
            params, name = xmlrpc.client.loads(bottle.request.body.read(), use_builtin_types=True)
        except Exception:
            bottle.abort(400, "Bad Request")
        if not name:
            bottle.abort(400, "Bad Request")
        assert name is not None
        try:
            result = dispatcher.call(name, list(params))
        except RPCError as exc:
            return _response(_marshal_fault(exc.code, exc.text))
        except Exception as exc:
            daemon.logger.critical("XML-RPC method %s raised: %r", name, exc, exc_info=True)
            return _response(_marshal_fault(fault_code("FAILED"), f"FAILED: {exc!r}"))
        return _response(_marshal(result))

    app.route("/RPC2", method="ANY", callback=rpc2)
    app.route("/RPC2<rest:path>", method="ANY", callback=rpc2)
    return dispatcher
