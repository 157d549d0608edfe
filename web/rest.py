"""The JSON REST API: the Go project's routes (so its scripts carry over) and more, over :class:`Control`.

Every handler is a function of a parsed :class:`~supervisord.web.routing.Request` returning a
:class:`~supervisord.web.routing.Response`; it asks the actors through the control service and never blocks
the hub. Domain errors become ``{"error": text, "code": FAULT_NAME}`` with a fitting status (routing.STATUS).
``GET /api/openapi.json`` is generated from this table, so it describes exactly the routes served.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from supervisord import faults
from supervisord.control import LOG_READ_MAX, SUPERVISOR_VERSION, Control, Result
from supervisord.web.fleet import FleetWeb
from supervisord.web.routing import JSON_TYPE, Handler, Request, Response, Routes, json_response

if TYPE_CHECKING:
    from supervisord.snapshot import ProcessSnapshot
    from supervisord.web.feed import EventFeed

LOG_DEFAULT = 64 * 1024  # bytes a log read returns when no length is given (the tail)
SSE_TYPE = "text/event-stream; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"

_ERROR = {"$ref": "#/components/schemas/Error"}
_SUCCESS = {"$ref": "#/components/schemas/Success"}
_INFO = {"$ref": "#/components/schemas/ProcessInfo"}
_RESULTS = {"$ref": "#/components/schemas/BulkResult"}
_NAMES_BODY = {
    "description": "Go's form [{node, program}], or a plain list of namespecs",
    "schema": {
        "type": "array",
        "items": {
            "oneOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {"node": {"type": "string"}, "program": {"type": "string"}},
                    "required": ["program"],
                },
            ]
        },
    },
    "example": ["NAME"],
}
_WAIT = ("wait", "boolean", "wait until the process is RUNNING/stopped (default true)")


def cgroup_usage(control: Control, snaps: list[ProcessSnapshot]) -> dict[str, dict[str, Any]]:
    """The ``cgroup`` field of each live process that has one (memory_max, cpu_max, pids_max), by namespec.

    Small sysfs reads, but reads: done on the hub's thread pool, and only when some process has a cgroup.
    """
    live = [snap for snap in snaps if snap.cgroup is not None]
    if not live:
        return {}
    from supervisord.runtime.cgroups import read_usage

    usages = control.offload(read_usage, [snap.cgroup for snap in live])
    out = {}
    for snap, usage in zip(live, usages, strict=True):
        if usage is not None and snap.cgroup is not None:
            out[snap.namespec] = {
                "path": snap.cgroup.path,
                "memory_bytes": usage.memory_bytes,
                "cpu_seconds": usage.cpu_seconds,
                "oom_kills": usage.oom_kills,
            }
    return out


def ok() -> Response:
    return json_response({"success": True})


def bulk(results: list[Result]) -> Response:
    return json_response(
        {
            "success": all(r.ok for r in results),
            "results": [
                {
                    "name": r.name,
                    "group": r.group,
                    "status": r.code,
                    "code": r.fault if not r.ok else "SUCCESS",
                    "description": r.text,
                }
                for r in results
            ],
        }
    )


class RestAPI:
    def __init__(self, control: Control, feed: EventFeed) -> None:
        self.control = control
        self.feed = feed
        self.fleet = FleetWeb(control)

    # -- helpers --

    def _node(self, req: Request) -> None:
        node = req.args.get("node")
        if node is not None and node != self.control.identifier:
            raise faults.BadName(f"no such node: {node}")

    def _spec(self, req: Request) -> str:
        self._node(req)
        return req.args["name"]

    def _names(self, req: Request) -> list[str]:
        body = req.json()
        if isinstance(body, dict) and isinstance(body.get("names"), list):
            body = body["names"]
        if not isinstance(body, list) or not body:
            raise faults.BadArguments("expected a non-empty list of names or of {node, program}")
        names = []
        for item in body:
            if isinstance(item, dict) and isinstance(item.get("program"), str):
                node = item.get("node")
                if node not in (None, "", self.control.identifier):
                    raise faults.BadName(f"no such node: {node}")
                names.append(item["program"])
            elif isinstance(item, str):
                names.append(item)
            else:
                raise faults.BadArguments(f"not a program: {item!r}")
        return names

    # -- processes --

    def list(self, req: Request) -> Response:
        snaps = self.control.snapshots()
        infos = [{**snap.info(), **snap.extra()} for snap in snaps]
        usage = cgroup_usage(self.control, snaps)
        for snap, info in zip(snaps, infos, strict=True):
            if snap.namespec in usage:
                info["cgroup"] = usage[snap.namespec]
        return json_response(self.fleet.processes(infos))

    def info(self, req: Request) -> Response:
        snap = self.control.process(self._spec(req))
        info = {**snap.info(), **snap.extra()}
        usage = cgroup_usage(self.control, [snap])
        if usage:
            info["cgroup"] = usage[snap.namespec]
        return json_response(info)

    def start(self, req: Request) -> Response:
        self.control.start(self._spec(req), req.flag("wait", True))
        return ok()

    def stop(self, req: Request) -> Response:
        self.control.stop(self._spec(req), req.flag("wait", True))
        return ok()

    def restart(self, req: Request) -> Response:
        self.control.restart(self._spec(req))
        return ok()

    def signal(self, req: Request) -> Response:
        spec = self._spec(req)
        sig: Any = req.query.get("signal")
        if sig is None:
            body = req.json()
            sig = body.get("signal") if isinstance(body, dict) else None
        if sig is None:
            raise faults.BadArguments('give the signal as ?signal=HUP or {"signal": "HUP"}')
        self.control.signal(spec, sig)
        return ok()

    def stdin(self, req: Request) -> Response:
        spec = self._spec(req)
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("chars"), str):
            raise faults.BadArguments('expected {"chars": "text"}')
        self.control.write_stdin(spec, body["chars"].encode("utf-8"))
        return ok()

    def clear_log(self, req: Request) -> Response:
        self.control.clear_logs(self._spec(req))
        return ok()

    def start_programs(self, req: Request) -> Response:
        return bulk(self.control.start_many(self.control.select(self._names(req)), req.flag("wait", True)))

    def stop_programs(self, req: Request) -> Response:
        return bulk(self.control.stop_many(self.control.select(self._names(req)), req.flag("wait", True)))

    def start_all(self, req: Request) -> Response:
        return bulk(self.control.start_many(self.control.in_order(), req.flag("wait", True)))

    def stop_all(self, req: Request) -> Response:
        return bulk(self.control.stop_many(self.control.in_order(), req.flag("wait", True)))

    def start_group(self, req: Request) -> Response:
        return bulk(self.control.start_many(self.control.in_order(req.args["group"]), req.flag("wait", True)))

    def stop_group(self, req: Request) -> Response:
        return bulk(self.control.stop_many(self.control.in_order(req.args["group"]), req.flag("wait", True)))

    def rolling_restart(self, req: Request) -> Response:
        return bulk(self.control.rolling_restart(req.args["group"]))

    # -- logs --

    def log(self, req: Request) -> Response:
        spec, channel = self._spec(req), req.args["channel"]
        if req.flag("download", False):
            path = self.control.logfile(spec, channel)
            if not os.path.exists(path):
                raise faults.NoFile(path)
            filename = f"{spec.replace(':', '_')}.{channel}.log"
            return Response(
                200,
                _file_chunks(self.control, path),
                "application/octet-stream",
                [("Content-Disposition", f'attachment; filename="{filename}"')],
            )
        length = req.integer("length", LOG_DEFAULT)
        assert length is not None
        piece = self.control.read_log(spec, channel, req.integer("offset", None), length)
        headers = [
            ("X-Log-Offset", str(piece.offset)),
            ("X-Log-Next-Offset", str(piece.next_offset)),
            ("X-Log-Size", str(piece.size)),
            ("Cache-Control", "no-store"),
        ]
        return Response(200, piece.data, TEXT_TYPE, headers)

    def follow(self, req: Request) -> Response:
        """SSE: the log from its tail on, one ``log`` event per chunk; follows rotation and truncation."""
        from supervisord.web.logtail import follow

        path = self.control.logfile(self._spec(req), req.args["channel"])
        if not os.path.exists(path):
            raise faults.NoFile(path)
        return Response(200, _sse_log(follow(path, req.socket)), SSE_TYPE, _SSE_HEADERS)

    # -- live events --

    def events(self, req: Request) -> Response:
        from supervisord.web.logtail import _client_gone

        self._node(req)
        raw = req.headers.get("last-event-id") or req.query.get("lastEventId")
        try:
            last = int(raw) if raw else None
        except ValueError:
            last = None  # an id from elsewhere: start from a snapshot
        sock = req.socket
        return Response(200, self.feed.stream(last, lambda: _client_gone(sock)), SSE_TYPE, _SSE_HEADERS)

    # -- the daemon --

    def list_nodes(self, req: Request) -> Response:
        node = self.control.node()
        keys = ("name", "status", "cpu_percent", "mem_total", "mem_used", "mem_used_percent")
        return json_response(self.fleet.nodes({k: node[k] for k in keys}))

    def node_info(self, req: Request) -> Response:
        return json_response(self.control.node())

    def ping(self, req: Request) -> Response:
        self._node(req)
        return ok()

    def shutdown(self, req: Request) -> Response:
        self._node(req)
        self.control.leave("shutdown")
        return ok()

    def reload(self, req: Request) -> Response:
        self._node(req)
        changes = self.control.update()
        return json_response(
            {"success": True, "added": changes.added, "changed": changes.changed, "removed": changes.removed}
        )

    # -- the table --

    def routes(self, routes: Routes) -> None:
        POST = ("POST", "PUT")

        def add(methods: str | tuple[str, ...], rule: str, handler: Handler, **doc: Any) -> None:
            if "<node>" in rule:
                handler = self.fleet.node_route(rule, handler, stream=bool(doc.get("stream")))
            elif rule in ("/program/startPrograms", "/program/stopPrograms"):
                handler = self.fleet.bulk_route(rule, handler)
            routes.add(methods, rule, handler, **doc)

        add(
            "GET",
            "/program/list",
            self.list,
            summary="Every process's info",
            ok_schema={"type": "array", "items": _INFO},
        )
        for prefix in ("/program/info/<name>", "/program/info/<node>/<name>"):
            add("GET", prefix, self.info, summary="One process's info", ok_schema=_INFO)
        for verb, handler, what in (
            ("start", self.start, "Start a process"),
            ("stop", self.stop, "Stop a process"),
            ("restart", self.restart, "Stop a process if it runs, then start it"),
        ):
            for rule in (f"/program/{verb}/<name>", f"/program/{verb}/<node>/<name>"):
                query = [] if verb == "restart" else [_WAIT]
                add(POST, rule, handler, summary=what, query=query, changes=True)
        add(
            POST,
            "/program/startPrograms",
            self.start_programs,
            summary="Start several processes",
            query=[_WAIT],
            body=True,
            request=_NAMES_BODY,
            ok_schema=_RESULTS,
            changes=True,
        )
        add(
            POST,
            "/program/stopPrograms",
            self.stop_programs,
            summary="Stop several processes",
            query=[_WAIT],
            body=True,
            request=_NAMES_BODY,
            ok_schema=_RESULTS,
            changes=True,
        )
        add(
            POST,
            "/program/startAll",
            self.start_all,
            summary="Start every process, by priority",
            query=[_WAIT],
            ok_schema=_RESULTS,
            changes=True,
        )
        add(
            POST,
            "/program/stopAll",
            self.stop_all,
            summary="Stop every process",
            query=[_WAIT],
            ok_schema=_RESULTS,
            changes=True,
        )
        add(
            POST,
            "/group/start/<group>",
            self.start_group,
            summary="Start every process of a group",
            query=[_WAIT],
            ok_schema=_RESULTS,
            changes=True,
        )
        add(
            POST,
            "/group/stop/<group>",
            self.stop_group,
            summary="Stop every process of a group",
            query=[_WAIT],
            ok_schema=_RESULTS,
            changes=True,
        )
        add(
            POST,
            "/group/rollingRestart/<group>",
            self.rolling_restart,
            summary="Restart a group one process at a time, each RUNNING (and ready) before the next",
            ok_schema=_RESULTS,
            changes=True,
        )
        add(
            POST,
            "/program/signal/<name>",
            self.signal,
            summary="Send a signal to a process",
            body=True,
            query=[("signal", "string", "HUP, SIGHUP or a number (or give it in the body)")],
            request={
                "schema": {"type": "object", "properties": {"signal": {"type": "string"}}},
                "example": {"signal": "HUP"},
            },
            changes=True,
        )
        add(
            POST,
            "/program/stdin/<name>",
            self.stdin,
            summary="Write to a process's stdin",
            body=True,
            request={
                "schema": {
                    "type": "object",
                    "properties": {"chars": {"type": "string"}},
                    "required": ["chars"],
                },
                "example": {"chars": "hello\n"},
            },
            changes=True,
        )
        add(POST, "/program/clearLog/<name>", self.clear_log, summary="Empty a process's logs", changes=True)
        log_query = [
            ("offset", "integer", "read from this byte offset (default: the tail)"),
            ("length", "integer", f"bytes to return (default {LOG_DEFAULT}, at most {LOG_READ_MAX})"),
            ("download", "boolean", "the whole file as an attachment"),
        ]
        for rule in (
            "/program/log/<name>/<channel:re:stdout|stderr>",
            "/program/log/<node>/<name>/<channel:re:stdout|stderr>",
        ):
            add(
                "GET",
                rule,
                self.log,
                summary="A slice of a process's log (the tail by default)",
                query=log_query,
                ok_type=TEXT_TYPE,
            )
        for rule in (
            "/program/follow/<name>/<channel:re:stdout|stderr>",
            "/program/follow/<node>/<name>/<channel:re:stdout|stderr>",
        ):
            add(
                "GET",
                rule,
                self.follow,
                summary="Follow a log live (SSE `log` events, from the tail on)",
                ok_type=SSE_TYPE,
                stream=True,
            )
        for rule in ("/events", "/events/<node>"):
            add(
                "GET",
                rule,
                self.events,
                summary="Live state changes (SSE; Last-Event-ID replays)",
                query=[("lastEventId", "integer", "as the Last-Event-ID header")],
                ok_type=SSE_TYPE,
                stream=True,
            )
        add("GET", "/supervisor/listNodes", self.list_nodes, summary="Every node's load (Go's node list)")
        add(
            "GET", "/supervisor/info", self.node_info, summary="The daemon: version, pid, CPU, memory, uptime"
        )
        add("GET", "/supervisor/ping", self.ping, summary="Answer if the daemon runs", ok_schema=_SUCCESS)
        add(
            "GET", "/supervisor/<node>/ping", self.ping, summary="Answer if the node runs", ok_schema=_SUCCESS
        )
        for rule in ("/supervisor/reload", "/supervisor/<node>/reload"):
            add(
                POST,
                rule,
                self.reload,
                summary="Reread the config and apply it (supervisorctl update)",
                changes=True,
            )
        for rule in ("/supervisor/shutdown", "/supervisor/<node>/shutdown"):
            add(
                POST,
                rule,
                self.shutdown,
                summary="Stop every process and exit",
                changes=True,
                destructive=True,
            )
        add("GET", "/api/openapi.json", lambda req: json_response(openapi(routes)), summary="This document")


_SSE_HEADERS = [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")]


def _sse_log(chunks: Iterator[bytes]) -> Iterator[bytes]:
    import codecs
    import json

    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    yield b"retry: 1000\n\n"
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield b"event: log\ndata: " + json.dumps(text).encode() + b"\n\n"


def _file_chunks(control: Control, path: str) -> Iterator[bytes]:
    fh = open(path, "rb")  # noqa: SIM115 - closed in finally, the generator may be abandoned
    try:
        while True:
            data: bytes = control.offload(fh.read, 256 * 1024)
            if not data:
                return
            yield data
    finally:
        fh.close()


def openapi(routes: Routes) -> dict[str, Any]:
    """OpenAPI 3.1 for exactly the routes in ``routes``."""
    import re

    paths: dict[str, dict[str, Any]] = {}
    for route in routes.table:
        params = re.findall(r"<(\w+)(?::re:([^>]+))?>", route.rule)
        path = re.sub(r"<(\w+)(?::re:[^>]+)?>", r"{\1}", route.rule)
        doc = route.doc
        parameters: list[dict[str, Any]] = []
        for name, pattern in params:
            schema: dict[str, Any] = {"type": "string"}
            if pattern:
                schema["enum"] = pattern.split("|")
            parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
        for name, typ, description in doc.get("query", []):
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "schema": {"type": typ},
                    "description": description,
                }
            )
        ok_type = doc.get("ok_type", JSON_TYPE)
        ok_content: dict[str, Any] = {"schema": doc["ok_schema"]} if "ok_schema" in doc else {}
        responses: dict[str, Any] = {
            "200": {"description": "OK", "content": {ok_type.split(";")[0]: ok_content}},
            "400": {"description": "bad input", "content": {"application/json": {"schema": _ERROR}}},
            "401": {"description": "credentials needed"},
            "404": {"description": "no such name", "content": {"application/json": {"schema": _ERROR}}},
            "503": {"description": "shutting down", "content": {"application/json": {"schema": _ERROR}}},
        }
        if "<node>" in route.rule:
            responses["502"] = {
                "description": "another node (fleet): offline or not answering",
                "content": {"application/json": {"schema": _ERROR}},
            }
        if doc.get("changes"):
            responses["403"] = {"description": "cross-site request refused"}
            responses["409"] = {
                "description": "wrong state",
                "content": {"application/json": {"schema": _ERROR}},
            }
        for method in route.methods:
            op: dict[str, Any] = {
                "summary": doc.get("summary", ""),
                "operationId": f"{method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}",
                "parameters": parameters,
                "responses": responses,
            }
            if "request" in doc:
                req = doc["request"]
                op["requestBody"] = {
                    "required": True,
                    "description": req.get("description", ""),
                    "content": {"application/json": {"schema": req["schema"], "example": req.get("example")}},
                }
            if doc.get("stream"):
                op["x-stream"] = True
            if doc.get("destructive"):
                op["x-destructive"] = True
            paths.setdefault(path, {})[method.lower()] = op
    paths.update(_other_surfaces())
    return {
        "openapi": "3.1.0",
        "info": {"title": "supervisord-py", "version": SUPERVISOR_VERSION},
        "paths": paths,
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}, "code": {"type": "string"}},
                    "required": ["error", "code"],
                },
                "Success": {"type": "object", "properties": {"success": {"type": "boolean"}}},
                "ProcessInfo": {
                    "type": "object",
                    "properties": {
                        k: {"type": t}
                        for k, t in (
                            ("name", "string"),
                            ("group", "string"),
                            ("start", "integer"),
                            ("stop", "integer"),
                            ("now", "integer"),
                            ("state", "integer"),
                            ("statename", "string"),
                            ("spawnerr", "string"),
                            ("exitstatus", "integer"),
                            ("logfile", "string"),
                            ("stdout_logfile", "string"),
                            ("pid", "integer"),
                            ("stderr_logfile", "string"),
                            ("description", "string"),
                            ("status", "string"),  # ours: the last sd_notify STATUS=
                            ("health", "string"),  # ours: the last liveness_check verdict
                            ("note", "string"),  # ours: the last file-watch action
                        )
                    }
                    | {  # ours: a process with memory_max, cpu_max or pids_max, while it runs
                        "cgroup": {
                            "type": "object",
                            "properties": {
                                "path": {"type": "string"},
                                "memory_bytes": {"type": "integer", "nullable": True},
                                "cpu_seconds": {"type": "number", "nullable": True},
                                "oom_kills": {"type": "integer"},
                            },
                        }
                    },
                },
                "BulkResult": {
                    "type": "object",
                    "properties": {
                        "success": {"type": "boolean"},
                        "results": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
        "security": [{"basic": []}],
    }


def _other_surfaces() -> dict[str, Any]:
    """The routes other middleware answers before these (XML-RPC, Supervisor's log streams)."""
    text: dict[str, Any] = {"text/plain": {}}
    missing = {"description": "no such process or log"}
    call = (
        "<?xml version='1.0'?><methodCall><methodName>supervisor.getState</methodName>"
        "<params></params></methodCall>"
    )
    return {
        "/RPC2": {
            "post": {
                "summary": "Supervisor 4.3's XML-RPC API (supervisorctl speaks it)",
                "operationId": "post_RPC2",
                "parameters": [],
                "requestBody": {"required": True, "content": {"text/xml": {"example": call}}},
                "responses": {
                    "200": {"description": "a methodResponse (or a fault)", "content": {"text/xml": {}}},
                    "400": {"description": "not an XML-RPC call"},
                    "401": {"description": "credentials needed"},
                    "403": {"description": "cross-site request refused"},
                },
            }
        },
        "/logtail/{name}/{channel}": {
            "get": {
                "summary": "Follow a process log as plain text (supervisorctl tail -f)",
                "operationId": "get_logtail_name_channel",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "channel",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["stdout", "stderr"]},
                    },
                ],
                "responses": {"200": {"description": "OK", "content": text}, "404": missing},
                "x-stream": True,
            }
        },
        "/mainlogtail": {
            "get": {
                "summary": "Follow the daemon's own log (supervisorctl maintail -f)",
                "operationId": "get_mainlogtail",
                "parameters": [],
                "responses": {"200": {"description": "OK", "content": text}, "404": missing},
                "x-stream": True,
            }
        },
    }
