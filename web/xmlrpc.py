"""Supervisor 4.3's XML-RPC API at ``POST /RPC2`` (python-supervisor.md §1).

The HTTP part (parse, dispatch, marshal, the 400s) lives here; the method bodies live in
:mod:`supervisord.web.rpcmethods`, an adapter over the control service; a :class:`~supervisord.faults.Fault`
from either becomes the XML-RPC fault of the same name and code. Every handler runs in
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
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from supervisord import faults
from supervisord.web.xmlrpc_codec import (
    NotFast,
    TooDeep,
    loads_call,
    marshal_fault,
    marshal_result,
    too_deep,
)

if TYPE_CHECKING:
    from supervisord.control import Control
    from supervisord.daemon import Daemon


class Method:
    """One callable API entry: the function, its ``[return, params…]`` signature and its help text."""

    def __init__(self, fn: Callable[..., Any], signature: list[str], check: bool = True) -> None:
        self.fn = fn
        self.signature = signature
        self.param_types = signature[1:] if check else []  # what check_arguments holds each call to
        self.help = inspect.getdoc(fn) or ""
        # The positional arity, worked out once: checking it per call is what ``Signature.bind`` would
        # decide for a positional call, at a fraction of the cost (it ran on every call of a multicall).
        params = inspect.signature(fn).parameters.values()
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required_keywords = any(p.kind is p.KEYWORD_ONLY and p.default is p.empty for p in params)
        self.min_args = sys.maxsize if required_keywords else sum(p.default is p.empty for p in positional)
        self.max_args = sys.maxsize if any(p.kind is p.VAR_POSITIONAL for p in params) else len(positional)


class Dispatcher:
    """Name → method table plus the ``system.*`` introspection and Supervisor's own multicall."""

    def __init__(self, gate: Callable[[str], None]) -> None:
        self.methods: dict[str, Method] = {}
        self.gate = gate  # raises SHUTDOWN_STATE for gated names while the daemon is stopping
        self.register("system.listMethods", self.list_methods, ["array"])
        # These two answer SIGNATURE_UNSUPPORTED for any name that is not a method's, as Supervisor does.
        self.register("system.methodHelp", self.method_help, ["string", "string"], check=False)
        self.register("system.methodSignature", self.method_signature, ["array", "string"], check=False)
        self.register("system.multicall", self.multicall, ["array", "array"])

    def register(self, name: str, fn: Callable[..., Any], signature: list[str], check: bool = True) -> None:
        self.methods[name] = Method(fn, signature, check)

    # -- system.* --

    def list_methods(self) -> list[str]:
        """Return an array listing the available method names."""
        return sorted(self.methods)

    def method_help(self, name: str) -> str:
        """Return the help text of the method named ``name``."""
        method = self.methods.get(name) if isinstance(name, str) else None
        if method is None:
            raise faults.SignatureUnsupported()
        return method.help

    def method_signature(self, name: str) -> list[str]:
        """Return ``[return type, param types…]`` of the method named ``name``."""
        method = self.methods.get(name) if isinstance(name, str) else None
        if method is None:
            raise faults.SignatureUnsupported()
        return list(method.signature)

    def multicall(self, calls: list[Any]) -> list[Any]:
        """Run several calls in order; each result is the bare value or a fault struct."""
        if not isinstance(calls, list):
            raise faults.IncorrectParameters()
        results: list[Any] = []
        for call in calls:
            try:
                name = call.get("methodName") if isinstance(call, dict) else None
                if not name or not isinstance(name, str):
                    raise faults.IncorrectParameters()
                if name == "system.multicall":
                    raise faults.IncorrectParameters("Recursive system.multicall forbidden")
                params = call.get("params", [])
                if not isinstance(params, list):
                    raise faults.IncorrectParameters()
                results.append(self.call(name, params))
            except faults.Fault as exc:
                results.append({"faultCode": exc.code, "faultString": exc.text})
            except Exception as exc:  # a bug in one call must not sink the others
                results.append({"faultCode": faults.FAULTS["FAILED"], "faultString": f"FAILED: {exc!r}"})
        return results

    # -- dispatch --

    def call(self, name: str, params: list[Any]) -> Any:
        method = self.methods.get(name)  # only public "namespace.method" names are ever registered
        if method is None:
            raise faults.UnknownMethod()
        if not method.min_args <= len(params) <= method.max_args:
            raise faults.IncorrectParameters()
        check_arguments(method.param_types, params)
        self.gate(name)
        return method.fn(*params)


INT64 = 2**63
_CONTAINERS = (list, dict)


def check_arguments(types: list[str], params: list[Any]) -> None:
    """Hold each argument to its declared XML-RPC type, so no method meets a value it cannot handle.

    Supervisor's methods take what they are given, and a wrong type there surfaces as a TypeError
    (INCORRECT_PARAMETERS) or an uncaught error (HTTP 500, a traceback in its log). Here: an array, struct
    or nil where a scalar is declared (or a scalar where an array/struct is) is INCORRECT_PARAMETERS; an
    int beyond 64 bits is BAD_ARGUMENTS. Scalars stay interchangeable (``"5"`` for an int, an int for a
    signal name), as Supervisor converts them.
    """
    for kind, value in zip(types, params, strict=False):  # optional params may be absent
        if kind == "array" or kind == "struct":
            if not isinstance(value, list if kind == "array" else dict):
                raise faults.IncorrectParameters()
        elif value is None or isinstance(value, _CONTAINERS):
            raise faults.IncorrectParameters()
        elif kind == "int" and type(value) is int and not -INT64 <= value < INT64:
            raise faults.BadArguments()


def answer(dispatcher: Dispatcher, daemon: Daemon, name: str, params: tuple[Any, ...]) -> bytes:
    """The response body for one parsed call: the result, or a fault (a method's bug included)."""
    try:
        result = dispatcher.call(name, list(params))
    except faults.Fault as exc:
        return marshal_fault(exc.code, exc.text)
    except Exception as exc:
        daemon.logger.critical("XML-RPC method %s raised: %r", name, exc, exc_info=True)
        return marshal_fault(faults.FAULTS["FAILED"], f"FAILED: {exc!r}")
    return marshal_result(result, faults.FAULTS["FAILED"])


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            return bytes(stream.read(int(length)))
        except ValueError:
            pass
    return bytes(stream.read())


def parse_call(body: bytes) -> tuple[str | None, tuple[Any, ...]]:
    """``(methodName, params)``; ``(None, ())`` for a body that is not a well-formed call (a 400)."""
    try:
        return loads_call(body)
    except NotFast:
        pass
    except TooDeep:
        return None, ()
    import xmlrpc.client  # the rare shapes: the stdlib decides, exactly as before

    try:
        params, name = xmlrpc.client.loads(body, use_builtin_types=True)
    except Exception:
        return None, ()
    if too_deep(params):
        return None, ()
    return name, params


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
        name, params = parse_call(body)
        if not name:  # Bottle's route answers the 400, as before
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            return self.app(environ, start_response)
        out = answer(self.dispatcher, self.daemon, name, params)
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(out)))])
        return [out]


def install(daemon: Daemon, control: Control) -> Dispatcher:
    """The dispatcher with every API method (``system.*`` and ``supervisor.*``)."""
    from supervisord.web.rpcmethods import SupervisorAPI

    api = SupervisorAPI(control)
    dispatcher = Dispatcher(api.gate)
    api.register(dispatcher)
    daemon.logger.info("RPC interface 'supervisor' initialized")
    return dispatcher


def add_routes(app: Any, dispatcher: Dispatcher, daemon: Daemon) -> None:
    """Register ``/RPC2`` (a prefix match, as in Supervisor) on the Bottle app: the slow path.

    :class:`RPCFront` answers every well-formed call before Bottle sees it; these routes answer what it
    passes on (a non-POST, an unparsable call) with Supervisor's 400.
    """
    import bottle

    def rpc2(rest: str = "") -> bytes:
        if bottle.request.method != "POST":
            bottle.abort(400, "Bad Request")
        name, params = parse_call(bottle.request.body.read())
        if not name:
            bottle.abort(400, "Bad Request")
        assert name is not None  # abort() raised otherwise
        bottle.response.content_type = "text/xml"
        return answer(dispatcher, daemon, name, params)

    app.route("/RPC2", method="ANY", callback=rpc2)
    app.route("/RPC2<rest:path>", method="ANY", callback=rpc2)
